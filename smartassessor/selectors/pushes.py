"""Reads of a learner's pushes to Smart Assessor, worded for the Smart Assessor block."""

import dataclasses
import datetime as dt

from django.template.defaultfilters import date as date_filter

from learners.models import Learner, Officer, QualificationStatus

from .. import mapping
from ..models import Push
from ..services import pushes as p

# The block shows the newest pushes, and every one still waiting however many there are.
RECENT_SENT_SHOWN = 3


@dataclasses.dataclass(frozen=True)
class PushLine:
    push: Push
    subject: str  # the qualification's reference, or "Learner details"
    summary: str
    behind_a_refusal: bool  # an earlier change of its lane failed: it waits for that one


def _day(value: str) -> str:
    return date_filter(dt.date.fromisoformat(value), "j M Y")


def _status(values: dict) -> str:
    status = QualificationStatus(values[p.STATUS])
    when = _day(values[p.STATUS_DATE])
    if status == QualificationStatus.BREAK_IN_LEARNING:
        return f"break in learning from {when}"
    if status == QualificationStatus.IN_PROGRESS:
        return f"in progress from {when}"
    return f"{status.label.lower()} on {when}"


def _summary(values: dict, officers: dict[int, Officer]) -> str:
    def officer(pk: int | None) -> str:
        return officers[pk].full_name if pk in officers else "none"

    parts = []
    if p.STATUS in values:
        parts.append(_status(values))
    if p.PLANNED_END in values:
        parts.append(f"planned end date {_day(values[p.PLANNED_END])}")
    if p.HOURS in values:
        hours = values[p.HOURS]
        parts.append(f"planned off-the-job hours {hours or 'cleared'}")
    if p.PRIMARY in values:
        parts.append(f"main assessor {officer(values[p.PRIMARY])}")
    if p.SECONDARY in values:
        parts.append(f"second assessor {officer(values[p.SECONDARY])}")
    if p.DETAILS in values:
        labels = {f.sa_attr: f.mis_field for f in mapping.LEARNER_DETAIL_FIELDS}
        parts.append(", ".join(labels.get(a, a) for a in values[p.DETAILS]).lower())
    text = "; ".join(parts) or "nothing left to send"
    return text[0].upper() + text[1:]


def learner_push_lines(*, learner: Learner) -> list[PushLine]:
    """Every push still waiting and the newest sent ones, newest first; three queries."""
    unsent = Push.objects.filter(learner=learner, state__in=Push.UNSENT_STATES)
    sent = Push.objects.filter(learner=learner, state=Push.State.SENT).order_by("-id")
    ids = [
        *unsent.values_list("pk", flat=True),
        *sent.values_list("pk", flat=True)[:RECENT_SENT_SHOWN],
    ]
    rows = list(
        Push.objects.filter(pk__in=ids)
        .select_related("course__learner_qualification__qualification")
        .order_by("-id")
    )
    officer_ids = {
        r.values.get(key) for r in rows for key in (p.PRIMARY, p.SECONDARY) if r.values.get(key)
    }
    officers = Officer.objects.in_bulk(officer_ids) if officer_ids else {}
    first_failed: dict[str, int] = {}
    for row in rows:  # newest first: the last seen is the lane's oldest failure
        if row.state == Push.State.FAILED:
            first_failed[row.lane] = row.pk
    return [
        PushLine(
            push=row,
            subject=(
                row.course.learner_qualification.qualification.reference
                if row.course
                else "Learner details"
            ),
            summary=_summary(row.values, officers),
            behind_a_refusal=row.state == Push.State.QUEUED
            and first_failed.get(row.lane, row.pk) < row.pk,
        )
        for row in rows
    ]
