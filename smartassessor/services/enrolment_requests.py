"""Create in Smart Assessor as a durable row (F9, F10, F23): request, retry, and the work.

An enrolment is a row before any call is made; ``operations`` claims, retries, sweeps and
fails it as it does every durable operation, and its work is the steps of
``enrolment_steps``, which store each result as they go, so a retry continues where the last
attempt stopped.
"""

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from learners.models import Learner
from picsweb.errors import ApplicationError

from .. import mapping
from ..audit import Actor, actor_user, audit_record
from ..client.types import to_wire
from ..connection import client_from_settings
from ..models import CourseEnrolment, Enrolment, IntegrationSettings
from ..selectors.enrolment_preview import Preview, enrolment_preview, enrolment_previews
from . import operations
from .enrolment_steps import enrolment_steps_run


def _send(enrolment_id: int, countdown: float) -> None:
    from ..tasks import enrol_learner

    enrol_learner.apply_async((enrolment_id,), countdown=countdown)


ENROLMENT = operations.Kind(
    model=Enrolment,
    noun="enrolment",
    queued=Enrolment.State.QUEUED,
    working=Enrolment.State.ENROLLING,
    retrying=Enrolment.State.RETRYING,
    failed=Enrolment.State.FAILED,
    send=_send,
    wanted=lambda: Q(is_current=True),
    related=("learner",),
)


def _snapshot(preview: Preview, settings: IntegrationSettings) -> dict[str, Any]:
    learner_body = to_wire(
        mapping.learner_payload(
            mapping.LearnerSource(
                learner=preview.learner,
                set_student_id_to_lrn=settings.set_student_id_to_lrn,
                employer_id=None,
                assessor_id=None,
            )
        )
    )
    return {
        "learner": learner_body,
        "send_welcome_email": settings.send_welcome_email,
        "courses": [
            {"reference": q.learner_qualification.qualification.reference, "course_id": q.course_id}
            for q in preview.qualifications
            if q.available
        ],
        "parties": {p.role: {"mis_id": p.record.pk, "sa_id": p.sa_id} for p in preview.parties},
    }


def enrolment_request(*, learner: Learner, actor: Actor) -> tuple[Enrolment, bool]:
    """Store an enrolment request and queue it. Returns (enrolment, created).

    A second request while one is current (a double click, two staff at once) returns the
    current one; the database allows one current enrolment per learner.
    """
    preview = enrolment_preview(learner=learner)
    if preview.current is not None:
        return preview.current, False
    if preview.problems:
        raise ApplicationError(
            "Smart Assessor would refuse this learner: "
            + " ".join(problem.message for problem in preview.problems)
        )
    return _store_request(preview, IntegrationSettings.load(), actor)


def _store_request(
    preview: Preview, settings: IntegrationSettings, actor: Actor
) -> tuple[Enrolment, bool]:
    try:
        with transaction.atomic():
            enrolment = Enrolment.objects.create(
                learner=preview.learner,
                requested_by=actor_user(actor),
                payload=_snapshot(preview, settings),
            )
            audit_record(actor=actor, action="enrolment requested", instance=enrolment)
            ENROLMENT.queue(enrolment.pk)
    except IntegrityError:
        return Enrolment.objects.get(learner=preview.learner, is_current=True), False
    return enrolment, True


def enrolments_request(*, learners: Iterable[Learner], actor: Actor) -> list[Enrolment]:
    """Bulk Create in Smart Assessor (F23): queue every learner Smart Assessor would accept.

    Returns each learner's current enrolment; learners with blocking problems are left out.
    Every row is stored in one transaction, so a request that stops half way (an error, a
    killed web process) stores none and queues none, and can simply be sent again.
    """
    settings = IntegrationSettings.load()
    # The previews only read: built before the transaction, so it holds the write lock
    # (SQLite's is the whole database) only for the inserts.
    previews = enrolment_previews(learners=learners)
    enrolments: list[Enrolment] = []
    with transaction.atomic():
        for preview in previews:
            if preview.current is not None:
                enrolments.append(preview.current)
            elif not preview.problems:
                enrolments.append(_store_request(preview, settings, actor)[0])
    return enrolments


def enrolment_retry(*, enrolment: Enrolment, actor: Actor) -> Enrolment:
    """A person's Retry after fixing the data: rebuild the payload and start again."""
    if enrolment.state not in Enrolment.RETRYABLE_STATES:
        raise ApplicationError("Only a failed enrolment, or one with problems, can be retried.")
    if not enrolment.is_current:
        raise ApplicationError("This enrolment has ended; start a new one from the Delivery Plan.")
    preview = enrolment_preview(learner=enrolment.learner)
    if preview.problems:
        raise ApplicationError(
            "Fix these first: " + " ".join(problem.message for problem in preview.problems)
        )
    with transaction.atomic():
        updated = Enrolment.objects.filter(
            pk=enrolment.pk, state__in=Enrolment.RETRYABLE_STATES
        ).update(
            state=Enrolment.State.QUEUED,
            payload=_snapshot(preview, IntegrationSettings.load()),
            **operations.fresh_start(),
        )
        if updated:
            enrolment.courses.filter(state=CourseEnrolment.State.REFUSED).update(
                state=CourseEnrolment.State.PENDING, error=""
            )
            audit_record(actor=actor, action="enrolment retried", instance=enrolment)
            ENROLMENT.queue(enrolment.pk)
    enrolment.refresh_from_db()
    return enrolment


def enrolments_sweep() -> int:
    """Fail the enrolments whose worker stopped during their last attempt, and re-queue the
    ones whose task may have been lost. Returns how many were re-queued."""
    return operations.sweep(ENROLMENT)


def enrolment_run(*, enrolment_id: int) -> Enrolment | None:
    """One attempt at an enrolment, by whichever worker claims it."""
    return operations.run(ENROLMENT, enrolment_id, work=_enrol)


def _enrol(enrolment: Enrolment) -> dict[str, Any]:
    """Every step not taken yet: Enrolled, or Problems when SA refused some of the courses."""
    refused = enrolment_steps_run(client=client_from_settings(), enrolment=enrolment)
    return {
        "state": Enrolment.State.PROBLEMS if refused else Enrolment.State.ENROLLED,
        "enrolled_at": enrolment.enrolled_at or timezone.now(),
    }
