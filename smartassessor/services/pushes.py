"""Changes saved in the MIS, pushed to Smart Assessor within a minute (F17, F28, F29).

The domain tells what it saved (``learners.signals.record_saved``, inside the write's
transaction); for an enrolled learner this stores a ``Push`` in that same transaction and
queues it when it commits. ``operations`` claims, retries, sweeps and fails pushes as it does
enrolments; the work here builds the PATCH from the push's values and sends it.

What is pushed, each on the qualification's course enrolment (``PATCH
/learners/{id}/courses/{id}``): a change of status (a break with its start date, a return
with its date, a withdrawal or completion with the actual end date), a new planned end date,
new planned off-the-job hours, and a change of the main officer or of the second assessor;
and in Push mode (F17) the learner's details (``PATCH /learners/{id}``). A status goes with
the date it took effect, so a retry is safe by the contract's same-status-same-date rule.
"""

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.dispatch import receiver
from django.utils import timezone

from learners.models import (
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Officer,
    QualificationStatus,
)
from learners.signals import record_deleted, record_saved
from picsweb.errors import ApplicationError

from .. import client as sa
from .. import mapping
from ..audit import Actor, audit_record
from ..connection import client_from_settings
from ..linked_records import ASSESSOR
from ..models import CourseEnrolment, DemographicsMode, Enrolment, IntegrationSettings, Push
from ..selectors.enrolments import learner_second_assessor
from . import operations
from .enrolment_steps import sa_record_ensure

logger = logging.getLogger(__name__)

STATUS = "status"
STATUS_DATE = "status_date"
PLANNED_END = "planned_end_date"
HOURS = "off_the_job_hours_planned"
PRIMARY = "primary_assessor"
SECONDARY = "secondary_assessor"
DETAILS = "details"
# The qualification's fields whose change is pushed, and the values they push.
_PUSHED_WITH = {
    "status": (STATUS, STATUS_DATE),
    "planned_end_date": (PLANNED_END,),
    "off_the_job_hours_planned": (HOURS,),
}
# Each learner detail Push mode sends, by the MIS field whose change sends it.
_DETAILS_BY_MIS_FIELD = {f.mis_attr: f for f in mapping.LEARNER_DETAIL_FIELDS}


def _send(push_id: int, countdown: float) -> None:
    from ..tasks import send_push

    send_push.apply_async((push_id,), countdown=countdown)


def _turn() -> Q:
    """A push's turn comes when every earlier push of its lane has been sent."""
    earlier = Push.objects.filter(lane=OuterRef("lane"), pk__lt=OuterRef("pk")).exclude(
        state=Push.State.SENT
    )
    return ~Q(Exists(earlier))


def _then(push: Push) -> None:
    """Once a push is sent, the next of its lane goes."""
    following = (
        Push.objects.filter(lane=push.lane, pk__gt=push.pk, state=Push.State.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        PUSH.queue(following)


PUSH = operations.Kind(
    model=Push,
    noun="change",
    queued=Push.State.QUEUED,
    working=Push.State.SENDING,
    retrying=Push.State.RETRYING,
    failed=Push.State.FAILED,
    send=_send,
    ready=_turn,
    related=("learner", "enrolment", "course__learner_qualification"),
    then=_then,
)


# --- What a saved change pushes -------------------------------------------------------------


def _status_date(lq: LearnerQualification) -> dt.date:
    """When the qualification's current status took effect."""
    if lq.status == QualificationStatus.BREAK_IN_LEARNING:
        current = lq.breaks.filter(end_date__isnull=True).order_by("-start_date").first()
        if current is not None:
            return current.start_date
    elif lq.status == QualificationStatus.IN_PROGRESS:
        # A return from a break took effect on the break's end; an induction, today.
        last = lq.breaks.filter(end_date__isnull=False).order_by("-end_date").first()
        if last is not None and last.end_date is not None:
            return last.end_date
    elif lq.actual_end_date is not None:  # Completed or Withdrawn
        return lq.actual_end_date
    return timezone.localdate()


def course_values(lq: LearnerQualification, keys: set[str], learner: Learner) -> dict[str, Any]:
    """The values of a course push, for ``keys``, from the current data."""
    values: dict[str, Any] = {}
    if STATUS in keys and lq.status in mapping.COURSE_STATUS_TO_SA:
        values[STATUS] = lq.status
        values[STATUS_DATE] = _status_date(lq).isoformat()
    if PLANNED_END in keys:
        values[PLANNED_END] = lq.planned_end_date.isoformat()
    if HOURS in keys:
        hours = lq.off_the_job_hours_planned
        values[HOURS] = None if hours is None else str(hours)
    if PRIMARY in keys:
        values[PRIMARY] = learner.main_officer_id
    if SECONDARY in keys:
        values[SECONDARY] = _second_assessor_id(learner)
    return values


def _second_assessor_id(learner: Learner) -> int | None:
    second = learner_second_assessor(learner=learner, settings=IntegrationSettings.load())
    if second is None or second.pk == learner.main_officer_id:
        return None  # as at enrolment: SA refuses the same assessor twice
    return second.pk


def _enrolled_courses(learner_id: int, **filters: Any) -> list[CourseEnrolment]:
    return list(
        CourseEnrolment.objects.filter(
            is_current=True,
            state=CourseEnrolment.State.ENROLLED,
            enrolment__learner_id=learner_id,
            enrolment__state__in=Enrolment.SYNCED_STATES,
            **filters,
        )
        .exclude(sa_learner_course_id="")
        .select_related("enrolment", "learner_qualification__learner")
    )


def _store(*, enrolment: Enrolment, course: CourseEnrolment | None, values: dict) -> Push:
    push = Push.objects.create(
        learner_id=enrolment.learner_id,
        enrolment=enrolment,
        course=course,
        lane=f"course-{course.pk}" if course else f"learner-{enrolment.learner_id}",
        values=values,
    )
    PUSH.queue(push.pk)
    return push


def _course_pushes(courses: list[CourseEnrolment], keys: set[str]) -> None:
    for course in courses:
        lq = course.learner_qualification
        values = course_values(lq, keys, lq.learner)
        if values:
            _store(enrolment=course.enrolment, course=course, values=values)


def _integration_on() -> IntegrationSettings | None:
    settings = IntegrationSettings.load()
    return settings if settings.enabled else None


def _qualification_saved(lq: LearnerQualification, changes: dict) -> None:
    keys = {key for field in changes for key in _PUSHED_WITH.get(field, ())}
    if keys:
        _course_pushes(_enrolled_courses(lq.learner_id, learner_qualification=lq), keys)


def _learner_saved(learner: Learner, changes: dict, settings: IntegrationSettings) -> None:
    keys = {PRIMARY, SECONDARY} if "main_officer_id" in changes else set()
    if keys:
        _course_pushes(_enrolled_courses(learner.pk), keys)
    if settings.learner_demographics_mode != DemographicsMode.PUSH:
        return
    details = sorted(
        _DETAILS_BY_MIS_FIELD[field].sa_attr
        for field in changes
        if field in _DETAILS_BY_MIS_FIELD and (field != "sex" or settings.update_learner_gender)
    )
    enrolment = Enrolment.objects.filter(
        learner=learner, is_current=True, state__in=Enrolment.SYNCED_STATES
    ).first()
    if details and enrolment is not None and enrolment.sa_learner_id:
        _store(enrolment=enrolment, course=None, values={DETAILS: details})


def _officer_role_changed(
    role: LearnerOfficerRole, settings: IntegrationSettings, changes: dict | None = None
) -> None:
    """A change of the second assessor: the role given to or taken from an officer."""
    roles = {role.role_id, *((changes or {}).get("role_id") or ())}
    if settings.second_assessor_role_id in roles:
        _course_pushes(_enrolled_courses(role.learner_id), {SECONDARY})


@receiver(record_saved, dispatch_uid="smartassessor-pushes-saved")
def _on_saved(sender: type, record: Any, changes: dict, created: bool, **kwargs: Any) -> None:
    if created and sender is not LearnerOfficerRole:
        return  # a new learner or qualification is not in Smart Assessor yet
    settings = _integration_on()
    if settings is None:
        return
    if sender is LearnerQualification and not created:
        _qualification_saved(record, changes)
    elif sender is Learner and not created:
        _learner_saved(record, changes, settings)
    elif sender is LearnerOfficerRole:
        _officer_role_changed(record, settings, changes)


@receiver(record_deleted, dispatch_uid="smartassessor-pushes-deleted")
def _on_deleted(sender: type, record: Any, **kwargs: Any) -> None:
    settings = _integration_on()
    if settings is not None and sender is LearnerOfficerRole:
        _officer_role_changed(record, settings)


# --- Sending --------------------------------------------------------------------------------


def pushes_sweep() -> int:
    """Fail the pushes whose worker stopped on their last attempt, and re-queue the ones whose
    task may have been lost. Returns how many were re-queued."""
    return operations.sweep(PUSH)


def push_run(*, push_id: int) -> Push | None:
    """One attempt at a push, by whichever worker claims it."""
    return operations.run(PUSH, push_id, work=_send_push)


def _send_push(push: Push) -> dict[str, Any]:
    client = client_from_settings()
    try:
        if push.course is None:
            _send_details(client, push)
        else:
            _send_course(client, push)
    except sa.ValidationFailed as exc:
        raise operations.Refused(
            "Smart Assessor refused the change: " + "; ".join(exc.messages),
            {field or "": messages for field, messages in exc.field_messages.items()},
        ) from exc
    except sa.InvalidTransition as exc:
        raise operations.Refused(
            "Smart Assessor refused the change of status: " + "; ".join(exc.messages)
        ) from exc
    except sa.NotFound as exc:
        raise operations.Refused(
            "Smart Assessor no longer has this learner or course enrolment. Ask support to "
            "check the learner's link."
        ) from exc
    return {"state": Push.State.SENT, "sent_at": timezone.now()}


def _assessor_id(client: sa.SmartAssessorClient, push: Push, officer_id: int | None) -> int | None:
    if officer_id is None:
        return None
    officer = Officer.objects.select_related("smartassessor_link").get(pk=officer_id)
    return sa_record_ensure(client, key_prefix=f"push{push.pk}", kind=ASSESSOR, owner=officer)


def course_changes(
    client: sa.SmartAssessorClient, push: Push, values: dict[str, Any]
) -> sa.LearnerCourseChanges:
    fields: dict[str, Any] = {}
    if STATUS in values:
        fields["status"] = mapping.COURSE_STATUS_TO_SA[values[STATUS]]
        fields["status_date"] = dt.date.fromisoformat(values[STATUS_DATE])
    if PLANNED_END in values:
        fields["planned_end_date"] = dt.date.fromisoformat(values[PLANNED_END])
    if HOURS in values:
        fields["off_the_job_hours_planned"] = mapping.hours_to_sa(
            None if values[HOURS] is None else Decimal(values[HOURS])
        )
    if PRIMARY in values:
        fields["primary_assessor_smart_assessor_id"] = _assessor_id(client, push, values[PRIMARY])
    if SECONDARY in values:
        fields["secondary_assessor_smart_assessor_id"] = _assessor_id(
            client, push, values[SECONDARY]
        )
    return sa.LearnerCourseChanges(**fields)


def _send_course(client: sa.SmartAssessorClient, push: Push) -> None:
    assert push.course is not None
    changes = course_changes(client, push, push.values)
    Push.objects.filter(pk=push.pk).update(body=sa.types.to_wire(changes))
    if changes:
        client.learner_course_update(
            learner_id=push.enrolment.sa_learner_id,
            enrolment_id=push.course.sa_learner_course_id,
            changes=changes,
        )


def _send_details(client: sa.SmartAssessorClient, push: Push) -> None:
    learner = Learner.objects.get(pk=push.learner_id)
    by_sa = {f.sa_attr: f for f in mapping.LEARNER_DETAIL_FIELDS}
    changes = sa.LearnerChanges(
        **{
            attr: by_sa[attr].to_sa(getattr(learner, by_sa[attr].mis_attr))
            for attr in push.values[DETAILS]
            if attr in by_sa
        }
    )
    Push.objects.filter(pk=push.pk).update(body=sa.types.to_wire(changes))
    if changes:
        client.learner_update(learner_id=push.enrolment.sa_learner_id, changes=changes)


# --- A person's Retry -----------------------------------------------------------------------


def push_retry(*, push: Push, actor: Actor) -> Push:
    """Send a refused or failed push again, its values rebuilt from the current data."""
    if push.state != Push.State.FAILED:
        raise ApplicationError("Only a change that failed can be sent again.")
    if push.course is None:
        values = push.values
    else:
        lq = push.course.learner_qualification
        values = course_values(lq, set(push.values), lq.learner)
    with transaction.atomic():
        if Push.objects.filter(pk=push.pk, state=Push.State.FAILED).update(
            state=Push.State.QUEUED, values=values, **operations.fresh_start()
        ):
            audit_record(actor=actor, action="push retried", instance=push)
            PUSH.queue(push.pk)
    push.refresh_from_db()
    return push
