"""Who the synchronisation covers (F13)."""

import datetime as dt

from django.db import models
from django.db.models import Q
from django.utils import timezone

from learners.models import LearnerStatus

from ...models import Enrolment

# In learning, on a break, or ended less than this long ago.
ENDED_WITHIN = dt.timedelta(days=31)
SCOPE_STATUSES = (LearnerStatus.IN_LEARNING, LearnerStatus.BREAK_IN_LEARNING)


def sync_scope() -> models.QuerySet[Enrolment]:
    """The current enrolments a daily or delta run covers."""
    today = timezone.localdate()
    return Enrolment.objects.filter(
        is_current=True, state__in=Enrolment.SYNCED_STATES, sa_learner_id__gt=""
    ).filter(
        Q(learner__status__in=SCOPE_STATUSES) | Q(learner__actual_end_date__gt=today - ENDED_WITHIN)
    )
