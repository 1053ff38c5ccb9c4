"""Durable operations against Smart Assessor: the one mechanism behind enrolments and pushes.

An operation is a row before any call is made (``models.Operation``). Its task gets only the
row's id. A worker claims the row with a conditional UPDATE that must change exactly one row,
holding a short lease that a heartbeat thread renews while it works; it then does the kind's
work and writes how the attempt ended, only while it still holds the row.

Every attempt ends in a state a person can act on: each claim counts an attempt (a 429's wait
excepted), whatever stops the attempt is recorded on the row, and after the last attempt
(``SMARTASSESSOR_RETRY_DELAYS`` plus one) the row is Failed, waiting for a person's Retry. A
refusal (``Refused``, a 400, a 409 the kind cannot settle) fails it at once. A sweeper re-queues
rows whose task was lost and fails those whose worker died on their last attempt.
"""

import dataclasses
import datetime as dt
import logging
import random
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.conf import settings as django_settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from picsweb.errors import ApplicationError

from ..client import (
    AuthenticationFailed,
    Forbidden,
    RateLimited,
    SmartAssessorError,
    Transient,
)
from ..heartbeat import heartbeat
from ..models import Operation

logger = logging.getLogger(__name__)

# A worker holds a row for LEASE after its claim or the heartbeat's last renewal; the
# heartbeat renews every HEARTBEAT_SECONDS, so a remote call of any length keeps the lease,
# and a killed worker's lease runs out within LEASE. With the sweepers every 10 s
# (CELERY_BEAT_SCHEDULE), its row is taken up again within about 30 s.
LEASE = dt.timedelta(seconds=20)
HEARTBEAT_SECONDS = 5.0
# How long a row waits out Smart Assessor's "busy, try later" (429) answers, counted from the
# first of them, before it is Failed with a message that says SA was busy.
BUSY_LIMIT = dt.timedelta(minutes=30)
# The least wait after a 429, whatever Retry-After says, so a busy SA is not asked in a loop.
BUSY_MIN_WAIT_SECONDS = 1.0
# A queued row younger than this is left to its own task by the sweeper.
QUEUED_GRACE = dt.timedelta(minutes=1)

Row = TypeVar("Row", bound=Operation)


class Refused(ApplicationError):
    """What another attempt will not cure: the row waits for a person, with SA's messages."""

    def __init__(self, message: str, field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.field_errors = field_errors or {}


@dataclasses.dataclass(frozen=True)
class Kind(Generic[Row]):
    """One kind of operation: its model, the names of its states, and how its task is sent."""

    model: type[Row]
    noun: str  # in messages to people: "the worker stopped while working on this <noun>"
    queued: str
    working: str
    retrying: str
    failed: str
    send: Callable[[int, float], None]  # queue the task for a row id after a countdown
    # Rows still wanted (an ended enrolment is not); and, for a claim, rows whose turn it is.
    wanted: Callable[[], Q] = Q
    ready: Callable[[], Q] = Q
    related: tuple[str, ...] = ()  # read with a claimed row, for its work
    then: Callable[[Row], None] = lambda row: None  # after a success is written

    def queue(self, pk: int, *, countdown: float = 0) -> None:
        transaction.on_commit(lambda: self.send(pk, countdown))

    @property
    def objects(self) -> QuerySet[Row]:
        return self.model._default_manager.filter(self.wanted())


def max_attempts() -> int:
    return len(django_settings.SMARTASSESSOR_RETRY_DELAYS) + 1


def fresh_start() -> dict[str, Any]:
    """The fields of a row that a person sent again: queued, with every attempt left."""
    return {
        "attempts": 0,
        "busy_since": None,
        "next_attempt_at": None,
        "lease_until": None,
        "last_error": "",
        "field_errors": {},
    }


def _claimable(kind: Kind, now: dt.datetime) -> Q:
    """Rows a worker may claim: queued, retry due, or abandoned (lease run out) with an
    attempt left."""
    return (
        Q(state=kind.queued)
        | Q(state=kind.retrying, next_attempt_at__lte=now)
        | Q(state=kind.working, lease_until__lt=now, attempts__lt=max_attempts())
    )


def due(kind: Kind) -> list[int]:
    """Rows whose task may have been lost: queued a while ago, retry due, lease expired."""
    now = timezone.now()
    return list(
        kind.objects.filter(_claimable(kind, now))
        .filter(kind.ready())
        .exclude(state=kind.queued, requested_at__gte=now - QUEUED_GRACE)
        .values_list("pk", flat=True)
    )


def sweep(kind: Kind) -> int:
    """Fail the rows whose worker stopped during their last attempt, and re-queue those whose
    task may have been lost. Returns how many were re-queued."""
    abandoned = kind.objects.filter(
        state=kind.working, lease_until__lt=timezone.now(), attempts__gte=max_attempts()
    )
    for pk, attempts in abandoned.values_list("pk", "attempts"):
        message = (
            f"The worker stopped while working on this {kind.noun}, {attempts} attempts in all. "
            "Press Retry; if it happens again, tell support."
        )
        if abandoned.filter(pk=pk).update(
            state=kind.failed, lease_until=None, next_attempt_at=None, last_error=message
        ):
            logger.warning("%s %s failed: %s", kind.noun.capitalize(), pk, message)
    rows = due(kind)
    for pk in rows:
        kind.queue(pk)
    return len(rows)


def _claim(kind: Kind[Row], pk: int) -> Row | None:
    now = timezone.now()
    claimed = (
        kind.objects.filter(pk=pk)
        .filter(_claimable(kind, now))
        .filter(kind.ready())
        .update(state=kind.working, lease_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if claimed != 1:
        return None
    return kind.objects.select_related(*kind.related).get(pk=pk)


def _held(kind: Kind[Row], row: Row) -> QuerySet[Row]:
    """The row while this attempt still holds it (the attempt count names the claim)."""
    return kind.model._default_manager.filter(pk=row.pk, state=kind.working, attempts=row.attempts)


def _renew_lease(kind: Kind, row: Operation) -> bool:
    """One heartbeat: False once this attempt no longer holds the row. NOWAIT: a row locked by
    another transaction is left for the next beat rather than blocking the heartbeat (and the
    attempt that waits for it to stop)."""
    try:
        with transaction.atomic():
            if not list(_held(kind, row).select_for_update(nowait=True).values_list("pk")):
                return False
            _held(kind, row).update(lease_until=timezone.now() + LEASE)
    except DatabaseError:
        logger.info("%s %s: lease not renewed this time", kind.noun, row.pk, exc_info=True)
    return True


def run(kind: Kind[Row], pk: int, *, work: Callable[[Row], dict[str, Any]]) -> Row | None:
    """One attempt at a row, by whichever worker claims it. ``work`` does the kind's calls and
    returns the fields of its success (its state above all); it raises ``Refused`` for what
    waits for a person, and the client's errors for this to retry or fail the attempt by."""
    row = _claim(kind, pk)
    if row is None:
        return None
    try:
        with heartbeat(
            renew=lambda: _renew_lease(kind, row),
            every=HEARTBEAT_SECONDS,
            name=f"{kind.noun}-{row.pk}-lease",
        ):
            succeeded = work(row)
    except Refused as exc:
        _finish_failed(kind, row, exc.message, exc.field_errors)
    except ApplicationError as exc:
        _finish_failed(kind, row, exc.message)
    except (AuthenticationFailed, Forbidden) as exc:
        _finish_failed(kind, row, f"Smart Assessor refused the integration's credentials: {exc}")
    except RateLimited as exc:
        _wait_while_busy(kind, row, exc)
    except Transient as exc:
        _schedule_retry(kind, row, str(exc))
    except SmartAssessorError as exc:
        _finish_failed(kind, row, f"Smart Assessor answered unexpectedly: {exc}")
    except Exception as exc:
        # Anything else (a bug, bad data, the database) must not leave the row held with no
        # word: it counts as an attempt like an outage, and the last one fails.
        logger.exception("%s %s: unexpected error", kind.noun.capitalize(), row.pk)
        _usable_connection()
        _schedule_retry(kind, row, "", unexpected=type(exc).__name__)
    else:
        if write_outcome(
            kind,
            row,
            lease_until=None,
            next_attempt_at=None,
            busy_since=None,
            last_error="",
            field_errors={},
            **succeeded,
        ):
            kind.then(row)
    row.refresh_from_db()
    return row


def write_outcome(kind: Kind, row: Operation, **fields: Any) -> bool:
    """Write how this attempt ended, only while it still holds the row: a worker whose lease
    ran out and whose row another worker took over must not write over that one's work.
    Returns whether it was written."""
    if _held(kind, row).update(**fields):
        return True
    logger.warning(
        "%s %s: attempt %s ended after another worker took it over; its outcome (%s) is not "
        "written",
        kind.noun.capitalize(),
        row.pk,
        row.attempts,
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
    kind: Kind, row: Operation, message: str, field_errors: dict[str, list[str]] | None = None
) -> None:
    logger.info("%s %s failed: %s", kind.noun.capitalize(), row.pk, message)
    write_outcome(
        kind,
        row,
        state=kind.failed,
        lease_until=None,
        next_attempt_at=None,
        last_error=message,
        field_errors=field_errors or {},
    )


def _schedule_retry(kind: Kind, row: Operation, message: str, *, unexpected: str = "") -> None:
    """Another attempt after the delay for this one, or Failed after the last attempt.
    ``unexpected`` names the exception when the attempt was stopped by one."""
    attempts = row.attempts  # this attempt's number, counted by its claim
    delays = django_settings.SMARTASSESSOR_RETRY_DELAYS
    what = f"An unexpected error stopped the {kind.noun} ({unexpected})"
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
        _finish_failed(kind, row, message)
        return
    if unexpected:
        message = f"{what}. It will be tried again automatically (attempt {attempts} of "
        message += f"{len(delays) + 1})."
    delay = delays[attempts - 1] * random.uniform(0.8, 1.2)
    _retry_in(kind, row, delay, last_error=message)


def _retry_in(kind: Kind, row: Operation, delay: float, **fields: Any) -> None:
    with transaction.atomic():
        if write_outcome(
            kind,
            row,
            state=kind.retrying,
            lease_until=None,
            next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
            **fields,
        ):
            kind.queue(row.pk, countdown=delay)


def _wait_while_busy(kind: Kind, row: Operation, exc: RateLimited) -> None:
    """SA answered 429 (busy, try later): wait as long as it asks, without using an attempt,
    until BUSY_LIMIT has passed since its first such answer."""
    now = timezone.now()
    busy_since = row.busy_since or now  # as the claim read it
    if now - busy_since >= BUSY_LIMIT:
        minutes = max(1, round((now - busy_since).total_seconds() / 60))
        _finish_failed(
            kind,
            row,
            f"Smart Assessor was busy: for {minutes} minutes it answered every attempt with "
            '"too many requests, try later". Press Retry later.',
        )
        return
    # Never less than asked; spread out so that rows told to wait together do not come back
    # together.
    delay = max(exc.retry_after, BUSY_MIN_WAIT_SECONDS) * random.uniform(1.0, 1.5)
    _retry_in(
        kind,
        row,
        delay,
        attempts=F("attempts") - 1,
        busy_since=busy_since,
        last_error=f"Smart Assessor is busy and asked to wait; trying again in {delay:.0f} s.",
    )
