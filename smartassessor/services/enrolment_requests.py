"""Create in Smart Assessor as a durable row (F9, F10, F23): request, retry, claim, sweep.

An enrolment is a row before any call is made. A worker claims it with a conditional UPDATE and
a short lease that a heartbeat thread renews while it works, then takes the steps of
``enrolment_steps``, which store each result as they go.

Every attempt ends in a state a person can act on: each claim counts an attempt (a 429's wait
excepted), whatever stops the attempt is recorded on the row, and after the last attempt
(``SMARTASSESSOR_RETRY_DELAYS`` plus one) the row is Failed with Retry.
"""

import datetime as dt
import logging
import random
from collections.abc import Iterable
from typing import Any

from django.conf import settings as django_settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from learners.models import Learner
from picsweb.errors import ApplicationError

from .. import mapping
from ..audit import Actor, actor_user, audit_record
from ..client import (
    AuthenticationFailed,
    Forbidden,
    RateLimited,
    SmartAssessorError,
    Transient,
)
from ..client.types import to_wire
from ..connection import client_from_settings
from ..heartbeat import heartbeat
from ..models import CourseEnrolment, Enrolment, IntegrationSettings
from ..selectors.enrolment_preview import Preview, enrolment_preview, enrolment_previews
from .enrolment_steps import EnrolmentStepRefused, enrolment_steps_run

logger = logging.getLogger(__name__)

# A worker holds an enrolment for LEASE after its claim or the heartbeat's last renewal; the
# heartbeat renews every HEARTBEAT_SECONDS, so a remote call of any length keeps the lease,
# and a killed worker's lease runs out within LEASE. With the sweeper every 10 s
# (CELERY_BEAT_SCHEDULE), its enrolment is taken up again within about 30 s.
LEASE = dt.timedelta(seconds=20)
HEARTBEAT_SECONDS = 5.0
# How long an enrolment waits out Smart Assessor's "busy, try later" (429) answers, counted
# from the first of them, before it is Failed with a message that says SA was busy.
BUSY_LIMIT = dt.timedelta(minutes=30)
# The least wait after a 429, whatever Retry-After says, so a busy SA is not asked in a loop.
BUSY_MIN_WAIT_SECONDS = 1.0


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


def _queue(enrolment: Enrolment, *, countdown: float = 0) -> None:
    from ..tasks import enrol_learner

    transaction.on_commit(lambda: enrol_learner.apply_async((enrolment.pk,), countdown=countdown))


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
            _queue(enrolment)
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
            attempts=0,
            busy_since=None,
            next_attempt_at=None,
            lease_until=None,
            last_error="",
            field_errors={},
            payload=_snapshot(preview, IntegrationSettings.load()),
        )
        if updated:
            enrolment.courses.filter(state=CourseEnrolment.State.REFUSED).update(
                state=CourseEnrolment.State.PENDING, error=""
            )
            audit_record(actor=actor, action="enrolment retried", instance=enrolment)
            _queue(enrolment)
    enrolment.refresh_from_db()
    return enrolment


def _max_attempts() -> int:
    return len(django_settings.SMARTASSESSOR_RETRY_DELAYS) + 1


def _claimable(now: dt.datetime) -> Q:
    """Rows a worker may claim: queued, retry due, or abandoned (lease run out) with an
    attempt left."""
    return (
        Q(state=Enrolment.State.QUEUED)
        | Q(state=Enrolment.State.RETRYING, next_attempt_at__lte=now)
        | Q(state=Enrolment.State.ENROLLING, lease_until__lt=now, attempts__lt=_max_attempts())
    )


def enrolments_due() -> list[int]:
    """Enrolments whose task may have been lost: queued a while ago, retry due, lease expired."""
    now = timezone.now()
    return list(
        Enrolment.objects.filter(is_current=True)
        .filter(_claimable(now))
        .exclude(state=Enrolment.State.QUEUED, requested_at__gte=now - dt.timedelta(minutes=1))
        .values_list("pk", flat=True)
    )


def enrolments_sweep() -> int:
    """Fail the enrolments whose worker stopped during their last attempt, and re-queue the
    ones whose task may have been lost. Returns how many were re-queued."""
    abandoned = Enrolment.objects.filter(
        is_current=True,
        state=Enrolment.State.ENROLLING,
        lease_until__lt=timezone.now(),
        attempts__gte=_max_attempts(),
    )
    for pk, attempts in abandoned.values_list("pk", "attempts"):
        message = (
            f"The worker stopped while working on this enrolment, {attempts} attempts in all. "
            "Press Retry; if it happens again, tell support."
        )
        if abandoned.filter(pk=pk).update(
            state=Enrolment.State.FAILED, lease_until=None, next_attempt_at=None, last_error=message
        ):
            logger.warning("Enrolment %s failed: %s", pk, message)
    due = enrolments_due()
    for pk in due:
        _queue(Enrolment(pk=pk))
    return len(due)


# --- The work (F9) --------------------------------------------------------------------------


def _claim(enrolment_id: int) -> Enrolment | None:
    now = timezone.now()
    claimed = (
        Enrolment.objects.filter(pk=enrolment_id, is_current=True)
        .filter(_claimable(now))
        .update(
            state=Enrolment.State.ENROLLING, lease_until=now + LEASE, attempts=F("attempts") + 1
        )
    )
    if claimed != 1:
        return None
    return Enrolment.objects.select_related("learner").get(pk=enrolment_id)


def _held(enrolment: Enrolment) -> QuerySet[Enrolment]:
    """The row while this attempt still holds it (the attempt count names the claim)."""
    return Enrolment.objects.filter(
        pk=enrolment.pk, state=Enrolment.State.ENROLLING, attempts=enrolment.attempts
    )


def _renew_lease(enrolment: Enrolment) -> bool:
    """One heartbeat: False once this attempt no longer holds the row. NOWAIT: a row locked by
    another transaction is left for the next beat rather than blocking the heartbeat (and the
    attempt that waits for it to stop)."""
    try:
        with transaction.atomic():
            if not list(_held(enrolment).select_for_update(nowait=True).values_list("pk")):
                return False
            _held(enrolment).update(lease_until=timezone.now() + LEASE)
    except DatabaseError:
        logger.info("Enrolment %s: lease not renewed this time", enrolment.pk, exc_info=True)
    return True


def enrolment_run(*, enrolment_id: int) -> Enrolment | None:
    """One attempt at an enrolment, by whichever worker claims it."""
    enrolment = _claim(enrolment_id)
    if enrolment is None:
        return None
    try:
        with heartbeat(
            renew=lambda: _renew_lease(enrolment),
            every=HEARTBEAT_SECONDS,
            name=f"enrolment-{enrolment.pk}-lease",
        ):
            client = client_from_settings()
            refused = enrolment_steps_run(client=client, enrolment=enrolment)
    except EnrolmentStepRefused as exc:
        _finish_failed(enrolment, exc.message, exc.field_errors)
    except ApplicationError as exc:
        _finish_failed(enrolment, exc.message)
    except (AuthenticationFailed, Forbidden) as exc:
        _finish_failed(enrolment, f"Smart Assessor refused the integration's credentials: {exc}")
    except RateLimited as exc:
        _wait_while_busy(enrolment, exc)
    except Transient as exc:
        _schedule_retry(enrolment, str(exc))
    except SmartAssessorError as exc:
        _finish_failed(enrolment, f"Smart Assessor answered unexpectedly: {exc}")
    except Exception as exc:
        # Anything else (a bug, bad data, the database) must not leave the row Enrolling
        # with no word: it counts as an attempt like an outage, and the last one fails.
        logger.exception("Enrolment %s: unexpected error", enrolment.pk)
        _usable_connection()
        _schedule_retry(enrolment, "", unexpected=type(exc).__name__)
    else:
        _finish_done(enrolment, refused=refused)
    enrolment.refresh_from_db()
    return enrolment


def _finish_done(enrolment: Enrolment, *, refused: int) -> None:
    """Every step taken: Enrolled, or Problems when SA refused some of the courses."""
    now = timezone.now()
    _write_outcome(
        enrolment,
        state=Enrolment.State.PROBLEMS if refused else Enrolment.State.ENROLLED,
        enrolled_at=enrolment.enrolled_at or now,
        lease_until=None,
        next_attempt_at=None,
        busy_since=None,
        last_error="",
        field_errors={},
    )


def _write_outcome(enrolment: Enrolment, **fields: Any) -> bool:
    """Write how this attempt ended, only while it still holds the row: a worker whose lease
    ran out and whose enrolment another worker took over must not write over that one's work.
    Returns whether it was written."""
    if _held(enrolment).update(**fields):
        return True
    logger.warning(
        "Enrolment %s: attempt %s ended after another worker took the enrolment over; its "
        "outcome (%s) is not written",
        enrolment.pk,
        enrolment.attempts,
        fields.get("state"),
    )
    return False


def _usable_connection() -> None:
    """After a database error, make sure the row can still be written. The task runs in
    autocommit: a failed statement rolled back its own transaction (and a step's atomic block
    its own), so only a broken connection is left to replace."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _finish_failed(
    enrolment: Enrolment, message: str, field_errors: dict[str, list[str]] | None = None
) -> None:
    logger.info("Enrolment %s failed: %s", enrolment.pk, message)
    _write_outcome(
        enrolment,
        state=Enrolment.State.FAILED,
        lease_until=None,
        next_attempt_at=None,
        last_error=message,
        field_errors=field_errors or {},
    )


def _schedule_retry(enrolment: Enrolment, message: str, *, unexpected: str = "") -> None:
    """Another attempt after the delay for this one, or Failed after the last attempt.
    ``unexpected`` names the exception when the attempt was stopped by one."""
    attempts = enrolment.attempts  # this attempt's number, counted by its claim
    delays = django_settings.SMARTASSESSOR_RETRY_DELAYS
    what = f"An unexpected error stopped the enrolment ({unexpected})"
    if attempts > len(delays):
        if unexpected:
            message = (
                f"{what} on attempt {attempts}, the last. Press Retry; if it happens again, "
                "tell support."
            )
        else:
            message = (
                f"Smart Assessor could not be reached after {attempts} attempts ({message}). "
                "Press Retry when it is back."
            )
        _finish_failed(enrolment, message)
        return
    if unexpected:
        message = f"{what}. It will be tried again automatically (attempt {attempts} of "
        message += f"{len(delays) + 1})."
    delay = delays[attempts - 1] * random.uniform(0.8, 1.2)
    _retry_in(enrolment, delay, last_error=message)


def _retry_in(enrolment: Enrolment, delay: float, **fields: Any) -> None:
    with transaction.atomic():
        if _write_outcome(
            enrolment,
            state=Enrolment.State.RETRYING,
            lease_until=None,
            next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
            **fields,
        ):
            _queue(enrolment, countdown=delay)


def _wait_while_busy(enrolment: Enrolment, exc: RateLimited) -> None:
    """SA answered 429 (busy, try later): wait as long as it asks, without using an attempt,
    until BUSY_LIMIT has passed since its first such answer."""
    now = timezone.now()
    busy_since = enrolment.busy_since or now  # as the claim read it
    if now - busy_since >= BUSY_LIMIT:
        minutes = max(1, round((now - busy_since).total_seconds() / 60))
        _finish_failed(
            enrolment,
            f"Smart Assessor was busy: for {minutes} minutes it answered every attempt with "
            '"too many requests, try later". Press Retry later.',
        )
        return
    # Never less than asked; spread out so that enrolments told to wait together do not
    # come back together.
    delay = max(exc.retry_after, BUSY_MIN_WAIT_SECONDS) * random.uniform(1.0, 1.5)
    _retry_in(
        enrolment,
        delay,
        attempts=F("attempts") - 1,
        busy_since=busy_since,
        last_error=f"Smart Assessor is busy and asked to wait; trying again in {delay:.0f} s.",
    )
