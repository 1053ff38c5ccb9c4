"""Create in Smart Assessor (F7–F10, F12, F23): preview, durable background enrolment, manual ID.

An enrolment is a row before any call is made. A worker claims it with a conditional UPDATE and
a short lease that a heartbeat thread renews while it works, then works through its steps
(employer, assessors, learner, one course per available qualification), storing each result as
it goes, so a retry continues where the last attempt stopped. Every POST carries an idempotency
key made of the enrolment, the step and the payload; a 409 naming an existing record adopts it
by the product's rules.

Every attempt ends in a state a person can act on: each claim counts an attempt (a 429's wait
excepted), whatever stops the attempt is recorded on the row, and after the last attempt
(``SMARTASSESSOR_RETRY_DELAYS`` plus one) the row is Failed with Retry.
"""

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings as django_settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Prefetch, Q
from django.urls import reverse
from django.utils import timezone

from learners.models import (
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Officer,
    Organisation,
    Placement,
)
from learners.validators import uln_is_valid
from picsweb.errors import ApplicationError

from .. import mapping
from ..audit import audit_record
from ..client import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    SmartAssessorClient,
    SmartAssessorError,
    Transient,
    ValidationFailed,
)
from ..client.types import to_wire
from ..connection import client_from_settings
from ..models import (
    CourseEnrolment,
    Enrolment,
    IntegrationSettings,
    OfficerLink,
    OrganisationLink,
)

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


# --- Preview (F8) ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Problem:
    message: str
    fix_url: str


@dataclasses.dataclass(frozen=True)
class PreviewQualification:
    learner_qualification: LearnerQualification
    course_id: int | None

    @property
    def available(self) -> bool:
        return self.course_id is not None


@dataclasses.dataclass(frozen=True)
class PreviewParty:
    """The employer or an assessor: linked already, or looked up and linked or created."""

    role: str
    record: Organisation | Officer
    sa_id: int | None

    @property
    def outcome(self) -> str:
        if self.sa_id:
            return f"Linked to existing Smart Assessor record {self.sa_id}"
        return "Linked to the Smart Assessor record with its MIS id if there is one, else created"


@dataclasses.dataclass(frozen=True)
class Preview:
    learner: Learner
    qualifications: tuple[PreviewQualification, ...]
    parties: tuple[PreviewParty, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]
    current: Enrolment | None

    @property
    def can_confirm(self) -> bool:
        return not self.problems and self.current is None


def _current_placement(learner: Learner) -> Placement | None:
    return (
        Placement.objects.current()
        .filter(learner=learner)
        .select_related("organisation__smartassessor_link")
        .order_by("-start_date", "-id")
        .first()
    )


def _second_assessor(learner: Learner, settings: IntegrationSettings) -> Officer | None:
    if settings.second_assessor_role_id is None:
        return None
    role = (
        learner.officer_roles.filter(role_id=settings.second_assessor_role_id)
        .select_related("officer__smartassessor_link")
        .first()
    )
    return role.officer if role else None


def _link_id(record, attr: str) -> int | None:
    link = getattr(record, "smartassessor_link", None)
    return getattr(link, attr) if link else None


def _age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def enrolment_preview(*, learner: Learner) -> Preview:
    """What Create in Smart Assessor will send, and everything that blocks it."""
    return enrolment_previews(learners=[learner])[0]


def enrolment_previews(*, learners: Iterable[Learner]) -> list[Preview]:
    """The previews of several learners (Bulk Create), in their order, read together: the
    same few queries for 3 learners as for 40."""
    learners = list(learners)
    settings = IntegrationSettings.load()
    second_roles = (
        LearnerOfficerRole.objects.filter(role_id=settings.second_assessor_role_id)
        if settings.second_assessor_role_id is not None
        else LearnerOfficerRole.objects.none()
    ).select_related("officer__smartassessor_link")
    loaded = Learner.objects.select_related("main_officer__smartassessor_link").prefetch_related(
        Prefetch(
            "qualifications",
            LearnerQualification.objects.select_related(
                "qualification__smartassessor_link"
            ).order_by("start_date", "id"),
        ),
        Prefetch(
            "placements",
            Placement.objects.current()
            .select_related("organisation__smartassessor_link")
            .order_by("-start_date", "-id"),
            to_attr="preview_current_placements",
        ),
        Prefetch("officer_roles", second_roles, to_attr="preview_second_roles"),
        Prefetch(
            "smartassessor_enrolments",
            Enrolment.objects.filter(is_current=True),
            to_attr="preview_current_enrolments",
        ),
    )
    by_pk = loaded.in_bulk([learner.pk for learner in learners])
    return [_preview(by_pk[learner.pk], settings) for learner in learners]


def _preview(learner: Learner, settings: IntegrationSettings) -> Preview:
    """One learner's preview, from the related rows ``enrolment_previews`` read."""
    edit_url = reverse("learners:learner_edit", args=[learner.ident])
    problems: list[Problem] = []
    warnings: list[str] = []

    if not learner.email:
        problems.append(
            Problem("The learner has no email address; it is their Smart Assessor login.", edit_url)
        )
    if not learner.date_of_birth:
        problems.append(Problem("The learner has no date of birth.", edit_url))
    elif not 14 <= _age_on(learner.date_of_birth, timezone.localdate()) <= 100:
        problems.append(
            Problem(
                "Smart Assessor accepts learners aged 14 to 100: check the date of birth.", edit_url
            )
        )
    if learner.uln and not uln_is_valid(learner.uln):
        problems.append(Problem("The ULN's check digit is wrong.", edit_url))
    for label, value, limit in (
        ("First name", learner.first_name, 50),
        ("Surname", learner.surname, 50),
    ):
        if len(value.strip()) > limit:
            problems.append(
                Problem(f"{label} is longer than Smart Assessor's {limit} characters.", edit_url)
            )

    qualifications = tuple(
        PreviewQualification(lq, _link_id(lq.qualification, "course_id"))
        for lq in learner.qualifications.all()
    )
    if not any(q.available for q in qualifications):
        problems.append(
            Problem(
                "None of the learner's qualifications is available in Smart Assessor: add one "
                "that is, or ask an Integration admin to refresh the qualification links.",
                reverse("learners:learner_qualification_add", args=[learner.ident]),
            )
        )

    parties: list[PreviewParty] = []
    placement = next(iter(learner.preview_current_placements), None)
    if placement is None:
        warnings.append(
            "The learner has no current placement: they will be enrolled without an employer."
        )
    else:
        organisation = placement.organisation
        parties.append(
            PreviewParty("Employer", organisation, _link_id(organisation, "employer_id"))
        )
    main_officer = learner.main_officer
    if main_officer is None:
        warnings.append(
            "The learner has no main officer: they will be enrolled without an assessor."
        )
    else:
        parties.append(
            PreviewParty("Assessor", main_officer, _link_id(main_officer, "assessor_id"))
        )
    second_role = next(iter(learner.preview_second_roles), None)
    second = second_role.officer if second_role else None
    if second is not None:
        if main_officer is not None and second.pk == main_officer.pk:
            warnings.append(
                "The second assessor is also the main officer: sent once, as primary assessor."
            )
        else:
            parties.append(PreviewParty("Second assessor", second, _link_id(second, "assessor_id")))
    for party in parties:
        if isinstance(party.record, Officer) and not party.sa_id and not party.record.email:
            problems.append(
                Problem(
                    f"{party.role} {party.record} has no email address, which Smart Assessor "
                    "needs to create them as an assessor.",
                    reverse("learners:officer_edit", args=[party.record.pk]),
                )
            )

    current = next(iter(learner.preview_current_enrolments), None)
    return Preview(
        learner, qualifications, tuple(parties), tuple(problems), tuple(warnings), current
    )


# --- Requesting, retrying (F9, F10, F23) ---------------------------------------------------


def _snapshot(preview: Preview, settings: IntegrationSettings) -> dict:
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


def enrolment_request(*, learner: Learner, actor) -> tuple[Enrolment, bool]:
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
    preview: Preview, settings: IntegrationSettings, actor
) -> tuple[Enrolment, bool]:
    try:
        with transaction.atomic():
            enrolment = Enrolment.objects.create(
                learner=preview.learner, requested_by=actor, payload=_snapshot(preview, settings)
            )
            audit_record(actor=actor, action="enrolment requested", instance=enrolment)
            _queue(enrolment)
    except IntegrityError:
        return Enrolment.objects.get(learner=preview.learner, is_current=True), False
    return enrolment, True


def enrolments_request(*, learners, actor) -> list[Enrolment]:
    """Bulk Create in Smart Assessor (F23): queue every learner Smart Assessor would accept.

    Returns each learner's current enrolment; learners with blocking problems are left out.
    Every row is stored in one transaction, so a request that stops half way (an error, a
    killed web process) stores none and queues none, and can simply be sent again.
    """
    settings = IntegrationSettings.load()
    # The previews only read: built before the transaction, so it holds the write lock
    # (SQLite's is the whole database) only for the inserts.
    previews = enrolment_previews(learners=learners)
    enrolments = []
    with transaction.atomic():
        for preview in previews:
            if preview.current is not None:
                enrolments.append(preview.current)
            elif not preview.problems:
                enrolments.append(_store_request(preview, settings, actor)[0])
    return enrolments


def enrolment_retry(*, enrolment: Enrolment, actor) -> Enrolment:
    """A person's Retry after fixing the data: rebuild the payload and start again."""
    if enrolment.state not in (Enrolment.State.FAILED, Enrolment.State.PROBLEMS):
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
            pk=enrolment.pk, state__in=[Enrolment.State.FAILED, Enrolment.State.PROBLEMS]
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


class _Permanent(Exception):
    """A failure that another attempt will not cure: it waits for a person."""

    def __init__(self, message: str, field_errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


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


def _key(enrolment: Enrolment, step: str, body: dict) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return f"enr{enrolment.pk}-{step}-{digest[:20]}"


def _held(enrolment: Enrolment):
    """The row while this attempt still holds it (the attempt count names the claim)."""
    return Enrolment.objects.filter(
        pk=enrolment.pk, state=Enrolment.State.ENROLLING, attempts=enrolment.attempts
    )


def _renew_lease(enrolment: Enrolment) -> None:
    # NOWAIT: a row locked by another transaction is left for the next beat rather than
    # blocking the heartbeat (and the attempt that waits for it to stop).
    try:
        with transaction.atomic():
            if list(_held(enrolment).select_for_update(nowait=True).values_list("pk")):
                _held(enrolment).update(lease_until=timezone.now() + LEASE)
    except DatabaseError:
        logger.info("Enrolment %s: lease not renewed this time", enrolment.pk, exc_info=True)


@contextmanager
def _heartbeat(enrolment: Enrolment) -> Iterator[None]:
    """Renew the lease every HEARTBEAT_SECONDS while the block runs, in a thread of its own,
    so that a long remote call never outlives the lease and a dead worker's soon runs out."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(HEARTBEAT_SECONDS):
                _renew_lease(enrolment)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"enrolment-{enrolment.pk}-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def enrolment_run(*, enrolment_id: int) -> Enrolment | None:
    """One attempt at an enrolment, by whichever worker claims it."""
    enrolment = _claim(enrolment_id)
    if enrolment is None:
        return None
    try:
        with _heartbeat(enrolment):
            client = client_from_settings()
            _enrol(client, enrolment)
    except _Permanent as exc:
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
    enrolment.refresh_from_db()
    return enrolment


def _usable_connection() -> None:
    """After a database error, make sure the row can still be written. The task runs in
    autocommit: a failed statement rolled back its own transaction (and a step's atomic block
    its own), so only a broken connection is left to replace."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _finish_failed(enrolment: Enrolment, message: str, field_errors: dict | None = None) -> None:
    logger.info("Enrolment %s failed: %s", enrolment.pk, message)
    Enrolment.objects.filter(pk=enrolment.pk).update(
        state=Enrolment.State.FAILED,
        lease_until=None,
        next_attempt_at=None,
        last_error=message,
        field_errors=field_errors or {},
    )


def _schedule_retry(enrolment: Enrolment, message: str, *, unexpected: str = "") -> None:
    """Another attempt after the delay for this one, or Failed after the last attempt.
    ``unexpected`` names the exception when the attempt was stopped by one."""
    attempts = Enrolment.objects.values_list("attempts", flat=True).get(pk=enrolment.pk)
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


def _retry_in(enrolment: Enrolment, delay: float, **fields) -> None:
    with transaction.atomic():
        Enrolment.objects.filter(pk=enrolment.pk).update(
            state=Enrolment.State.RETRYING,
            lease_until=None,
            next_attempt_at=timezone.now() + dt.timedelta(seconds=delay),
            **fields,
        )
        _queue(enrolment, countdown=delay)


def _wait_while_busy(enrolment: Enrolment, exc: RateLimited) -> None:
    """SA answered 429 (busy, try later): wait as long as it asks, without using an attempt,
    until BUSY_LIMIT has passed since its first such answer."""
    now = timezone.now()
    busy_since = Enrolment.objects.values_list("busy_since", flat=True).get(pk=enrolment.pk) or now
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


def _enrol(client: SmartAssessorClient, enrolment: Enrolment) -> None:
    settings = IntegrationSettings.load()
    learner = enrolment.learner
    placement = _current_placement(learner)
    employer_id = (
        _ensure(client, enrolment, _EMPLOYER, placement.organisation) if placement else None
    )
    main_officer = (
        Officer.objects.select_related("smartassessor_link").get(pk=learner.main_officer_id)
        if learner.main_officer_id
        else None
    )
    assessor_id = _ensure(client, enrolment, _ASSESSOR, main_officer) if main_officer else None
    second = _second_assessor(learner, settings)
    second_id = None
    if second is not None and (main_officer is None or second.pk != main_officer.pk):
        second_id = _ensure(client, enrolment, _ASSESSOR, second)

    sa_learner_id = enrolment.sa_learner_id or _ensure_learner(
        client, enrolment, settings, employer_id=employer_id, assessor_id=assessor_id
    )
    refused = _enrol_courses(
        client, enrolment, sa_learner_id, primary_id=assessor_id, secondary_id=second_id
    )
    now = timezone.now()
    Enrolment.objects.filter(pk=enrolment.pk).update(
        state=Enrolment.State.PROBLEMS if refused else Enrolment.State.ENROLLED,
        enrolled_at=enrolment.enrolled_at or now,
        lease_until=None,
        next_attempt_at=None,
        busy_since=None,
        last_error="",
        field_errors={},
    )


def _validation(exc: ValidationFailed, what: str) -> _Permanent:
    return _Permanent(
        f"Smart Assessor refused the {what}: " + "; ".join(exc.messages),
        {field or "": messages for field, messages in exc.field_messages.items()},
    )


def _adopt_link(link_model, owner_field: str, owner, id_field: str, sa_id: int, what: str) -> int:
    """Store the link to an SA record, unless that record is linked to another local one."""
    taken = link_model.objects.filter(**{id_field: sa_id}).exclude(**{owner_field: owner}).first()
    if taken is not None:
        raise _Permanent(
            f"Smart Assessor {what} {sa_id}, which carries {owner}'s MIS id, is already linked "
            f"to {getattr(taken, owner_field)}. Ask support to check the links."
        )
    try:
        with transaction.atomic():
            link_model.objects.update_or_create(**{owner_field: owner}, defaults={id_field: sa_id})
    except IntegrityError:
        # Another worker linked it at the same moment; the database kept one link.
        pass
    return getattr(link_model.objects.get(**{owner_field: owner}), id_field)


@dataclasses.dataclass(frozen=True)
class _Party:
    """How one kind of SA record (employer or assessor) is found, created and linked."""

    what: str
    link_model: type
    owner_field: str
    id_field: str
    find: Callable
    create: Callable
    payload: Callable


_EMPLOYER = _Party(
    what="employer",
    link_model=OrganisationLink,
    owner_field="organisation",
    id_field="employer_id",
    find=lambda client, mis_id: client.employer_page(mis_employer_id=mis_id, page_size=1),
    create=lambda client, payload, key: client.employer_create(
        employer=payload, idempotency_key=key
    ),
    payload=mapping.employer_payload,
)
_ASSESSOR = _Party(
    what="assessor",
    link_model=OfficerLink,
    owner_field="officer",
    id_field="assessor_id",
    find=lambda client, mis_id: client.assessor_page(mis_assessor_id=mis_id, page_size=1),
    create=lambda client, payload, key: client.assessor_create(
        assessor=payload, idempotency_key=key
    ),
    payload=mapping.assessor_payload,
)


def _ensure(client, enrolment: Enrolment, party: _Party, owner) -> int:
    """The owner's SA id: its link; else the SA record with its MIS id; else a new record."""
    link = party.link_model.objects.filter(**{party.owner_field: owner}).first()
    if link is not None:
        return getattr(link, party.id_field)
    found = party.find(client, str(owner.pk)).items
    if found:
        sa_id = found[0].smart_assessor_id
    else:
        payload = party.payload(owner)
        key = _key(enrolment, f"{party.what[:3]}{owner.pk}", to_wire(payload))
        try:
            sa_id = party.create(client, payload, key).smart_assessor_id
        except Conflict as exc:
            sa_id = int(exc.existing_id)
        except ValidationFailed as exc:
            raise _validation(exc, f"{party.what} {owner}") from exc
    return _adopt_link(
        party.link_model, party.owner_field, owner, party.id_field, sa_id, party.what
    )


def _same_person(sa_learner, learner: Learner) -> bool:
    def norm(value):
        return (value or "").strip().casefold()

    return (
        norm(sa_learner.given_names) == norm(learner.first_name)
        and norm(sa_learner.family_name) == norm(learner.surname)
        and sa_learner.date_of_birth == learner.date_of_birth
    )


def _store_learner_id(enrolment: Enrolment, sa_learner_id: str) -> str:
    try:
        with transaction.atomic():
            Enrolment.objects.filter(pk=enrolment.pk).update(sa_learner_id=sa_learner_id)
    except IntegrityError:
        raise _Permanent(
            f"Smart Assessor learner {sa_learner_id} is already linked to another learner. "
            "Ask support to check the links."
        ) from None
    enrolment.sa_learner_id = sa_learner_id
    return sa_learner_id


def _adopt_learner(client, enrolment: Enrolment, sa_learner_id: str) -> str:
    sa_learner = client.learner_get(learner_id=sa_learner_id)
    if not _same_person(sa_learner, enrolment.learner):
        raise _Permanent(
            f"Smart Assessor already has a learner with MIS id {enrolment.learner.ident} "
            f"({sa_learner.given_names} {sa_learner.family_name}, Smart Assessor ID "
            f"{sa_learner_id}) whose name or date of birth differ. Ask support to link it by hand."
        )
    return _store_learner_id(enrolment, sa_learner_id)


def _ensure_learner(
    client, enrolment: Enrolment, settings, *, employer_id: int | None, assessor_id: int | None
) -> str:
    learner = enrolment.learner
    if enrolment.attempts > 1 or enrolment.busy_since is not None:
        # An earlier attempt may have created the learner and lost the answer.
        found = client.learner_page(mis_learner_id=learner.ident, page_size=1).items
        if found:
            return _adopt_learner(client, enrolment, found[0].smart_assessor_id)
    payload = mapping.learner_payload(
        mapping.LearnerSource(
            learner=learner,
            set_student_id_to_lrn=settings.set_student_id_to_lrn,
            employer_id=employer_id,
            assessor_id=assessor_id,
        )
    )
    body = to_wire(payload) | {"SendWelcomeEmail": settings.send_welcome_email}
    try:
        created = client.learner_create(
            learner=payload,
            idempotency_key=_key(enrolment, "learner", body),
            send_welcome_email=settings.send_welcome_email,
        )
    except Conflict as exc:
        return _adopt_learner(client, enrolment, str(exc.existing_id))
    except ValidationFailed as exc:
        raise _validation(exc, "learner") from exc
    return _store_learner_id(enrolment, created.smart_assessor_id)


def enrolment_courses_add(*, client: SmartAssessorClient, enrolment: Enrolment) -> int:
    """Enrol an enrolled learner on the qualifications SA offers that have no course enrolment
    yet: added to the plan, or linked to a course, after enrolment (F20).

    Assessors are taken from the existing links only; returns how many courses SA refused.
    """
    settings = IntegrationSettings.load()
    learner = enrolment.learner
    main_officer = (
        Officer.objects.select_related("smartassessor_link").get(pk=learner.main_officer_id)
        if learner.main_officer_id
        else None
    )
    second = _second_assessor(learner, settings)
    if second is not None and main_officer is not None and second.pk == main_officer.pk:
        second = None
    return _enrol_courses(
        client,
        enrolment,
        enrolment.sa_learner_id,
        primary_id=_link_id(main_officer, "assessor_id") if main_officer else None,
        secondary_id=_link_id(second, "assessor_id") if second else None,
    )


def _enrol_courses(
    client, enrolment: Enrolment, sa_learner_id: str, *, primary_id, secondary_id
) -> int:
    """Enrol every available qualification not enrolled yet; returns how many were refused."""
    plan = LearnerQualification.objects.filter(
        learner=enrolment.learner, qualification__smartassessor_link__isnull=False
    ).select_related("qualification__smartassessor_link")
    done = {c.learner_qualification_id: c for c in enrolment.courses.all()}
    refused = 0
    for lq in plan:
        course = (
            done.get(lq.pk)
            or CourseEnrolment.objects.get_or_create(enrolment=enrolment, learner_qualification=lq)[
                0
            ]
        )
        if course.state == CourseEnrolment.State.ENROLLED:
            continue
        if course.state == CourseEnrolment.State.REFUSED:
            refused += 1
            continue
        payload = mapping.course_payload(
            mapping.CourseSource(
                learner_qualification=lq,
                course_id=lq.qualification.smartassessor_link.course_id,
                primary_assessor_id=primary_id,
                secondary_assessor_id=secondary_id,
            )
        )
        try:
            sa_course_id = client.learner_course_create(
                learner_id=sa_learner_id,
                enrolment=payload,
                idempotency_key=_key(enrolment, f"lq{lq.pk}", to_wire(payload)),
            ).smart_assessor_id
        except Conflict as exc:
            sa_course_id = str(exc.existing_id)
        except (ValidationFailed, NotFound) as exc:
            refused += 1
            course.state = CourseEnrolment.State.REFUSED
            course.error = "; ".join(exc.messages) or str(exc)
            course.save(update_fields=["state", "error"])
            continue
        course.state = CourseEnrolment.State.ENROLLED
        course.sa_learner_course_id = sa_course_id
        course.error = ""
        course.save(update_fields=["state", "sa_learner_course_id", "error"])
    return refused


# --- Manually set the Smart Assessor ID (F12) -----------------------------------------------


def sa_learner_lookup(*, sa_learner_id: str):
    """The SA learner with that id, for a person to confirm; clear errors otherwise."""
    sa_learner_id = sa_learner_id.strip().lower()
    try:
        sa_learner = client_from_settings().learner_get(learner_id=sa_learner_id)
    except NotFound:
        raise ApplicationError(f"Smart Assessor has no learner with ID {sa_learner_id}.") from None
    except SmartAssessorError as exc:
        raise ApplicationError(f"Smart Assessor could not be asked: {exc}") from exc
    return sa_learner


def learner_sa_id_set(*, learner: Learner, sa_learner_id: str, reason: str, actor) -> Enrolment:
    """Link a learner to an existing SA learner by hand, ending any current enrolment, then
    refresh the learner so its courses, progress and reviews come across (F12)."""
    from .sync import learner_refresh_request

    if not reason.strip():
        raise ApplicationError("Say why the Smart Assessor ID is being set.")
    sa_learner = sa_learner_lookup(sa_learner_id=sa_learner_id)
    sa_learner_id = sa_learner.smart_assessor_id
    with transaction.atomic():
        other = (
            Enrolment.objects.filter(sa_learner_id=sa_learner_id, is_current=True)
            .exclude(learner=learner)
            .select_related("learner")
            .first()
        )
        if other is not None:
            raise ApplicationError(
                f"Smart Assessor ID {sa_learner_id} is already linked to {other.learner}."
            )
        current = (
            Enrolment.objects.select_for_update().filter(learner=learner, is_current=True).first()
        )
        old_id = current.sa_learner_id if current else ""
        if current is not None:
            _end(current, actor=actor, reason=reason)
        enrolment = Enrolment.objects.create(
            learner=learner,
            source=Enrolment.Source.MANUAL,
            state=Enrolment.State.ENROLLED,
            sa_learner_id=sa_learner_id,
            requested_by=actor,
            enrolled_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="Smart Assessor ID set by hand",
            instance=learner,
            changes={"sa_learner_id": (old_id, sa_learner_id)},
            reason=reason,
        )
        learner_refresh_request(learner=learner, actor=actor)
    return enrolment


def learner_sa_id_clear(*, learner: Learner, reason: str, actor) -> None:
    """Unlink a learner from SA (nothing is deleted there); the enrolment stays as history."""
    if not reason.strip():
        raise ApplicationError("Say why the Smart Assessor link is being cleared.")
    with transaction.atomic():
        current = (
            Enrolment.objects.select_for_update().filter(learner=learner, is_current=True).first()
        )
        if current is None:
            raise ApplicationError("The learner is not linked to Smart Assessor.")
        _end(current, actor=actor, reason=reason)
        audit_record(
            actor=actor,
            action="Smart Assessor ID cleared",
            instance=learner,
            changes={"sa_learner_id": (current.sa_learner_id, "")},
            reason=reason,
        )


def _end(enrolment: Enrolment, *, actor, reason: str) -> None:
    """End the enrolment, keeping it and its courses as history; called within a transaction."""
    Enrolment.objects.filter(pk=enrolment.pk).update(
        is_current=False, ended_at=timezone.now(), ended_by=actor, end_reason=reason
    )
    CourseEnrolment.objects.filter(enrolment=enrolment).update(is_current=False)
