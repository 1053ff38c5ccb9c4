"""Issue 9 for enrolments: whatever is raised, every enrolment ends in a state a person can act
on within a bounded number of attempts; a dead worker's enrolment is taken up again within
about 30 s; SA's "busy" answers use no attempt; bulk Create stores all or nothing; a learner can
be enrolled again after Support cleared the link (F12)."""

import datetime as dt
import logging
import time

import pytest
from django.conf import settings as django_settings
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from smartassessor.client import Transient
from smartassessor.models import (
    AuditEntry,
    CourseEnrolment,
    Enrolment,
    LinkRefresh,
    OfficerLink,
    OrganisationLink,
    QualificationLink,
)
from smartassessor.services import enrolment_requests as service
from smartassessor.services import learner_sa_id, links, operations
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    PlacementFactory,
    QualificationFactory,
)

from .client import wire

pytestmark = pytest.mark.django_db

RETRY_DELAYS = [0.01, 0.01]  # three attempts in all
CAP = len(RETRY_DELAYS) + 1


def _learner(ident="PW000950", reference="ST0070", course_id=7):
    learner = LearnerFactory(ident=ident, first_name="Amelia", surname="Jones")
    PlacementFactory(learner=learner, start_date=dt.date(2026, 1, 1))
    qualification = QualificationFactory(reference=reference)
    QualificationLink.objects.get_or_create(
        qualification=qualification, defaults={"course_id": course_id, "course_title": "BA"}
    )
    LearnerQualificationFactory(learner=learner, qualification=qualification)
    return learner


@pytest.fixture
def learner(sa_settings, settings):
    settings.SMARTASSESSOR_RETRY_DELAYS = RETRY_DELAYS
    learner = _learner()
    OrganisationLink.objects.create(
        organisation=learner.placements.get().organisation, employer_id=12
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    return learner


def _request(learner, user) -> Enrolment:
    enrolment, created = service.enrolment_request(learner=learner, actor=user)
    assert created
    return enrolment


def _due_now(enrolment: Enrolment) -> None:
    """Time passes until the scheduled retry is due."""
    Enrolment.objects.filter(pk=enrolment.pk).update(next_attempt_at=timezone.now())


# --- Whatever is raised, the row ends Failed after the cap ----------------------------------


def _raise(exc_type):
    def step(client, enrolment):
        if exc_type is RecursionError:
            return step(client, enrolment)  # a real one
        raise exc_type("boom")

    return step


@pytest.mark.parametrize("exc_type", [KeyError, RecursionError, DataError, IntegrityError])
def test_an_unexpected_error_counts_each_attempt_and_fails_after_the_last(
    exc_type, learner, staff_user, staff_client, monkeypatch, caplog
):
    monkeypatch.setattr(service, "enrolment_steps_run", _raise(exc_type))
    enrolment = _request(learner, staff_user)
    name = exc_type.__name__

    for attempt in range(1, CAP):
        with caplog.at_level(logging.ERROR, logger=operations.__name__):
            caplog.clear()
            ran = service.enrolment_run(enrolment_id=enrolment.pk)
        assert ran.state == Enrolment.State.RETRYING
        assert ran.attempts == attempt
        assert ran.last_error == (
            f"An unexpected error stopped the enrolment ({name}). It will be tried again "
            f"automatically (attempt {attempt} of {CAP})."
        )
        [record] = caplog.records  # the traceback, logged once
        assert record.exc_info[0] is exc_type
        _due_now(enrolment)

    failed = service.enrolment_run(enrolment_id=enrolment.pk)

    assert failed.state == Enrolment.State.FAILED
    assert failed.attempts == CAP
    assert failed.last_error == (
        f"An unexpected error stopped the enrolment ({name}) on attempt {CAP}, the last. "
        "Press Retry; if it happens again, tell support."
    )
    assert failed.lease_until is None and failed.next_attempt_at is None
    # Nothing picks it up again: it waits for a person.
    Enrolment.objects.filter(pk=enrolment.pk).update(requested_at=timezone.now() - dt.timedelta(1))
    assert operations.due(service.ENROLMENT) == []
    assert service.enrolments_sweep() == 0
    assert service.enrolment_run(enrolment_id=enrolment.pk) is None
    page = staff_client.get(learner.get_absolute_url()).content.decode()
    assert "tell support" in page and ">Retry</button>" in page


def test_an_error_building_the_client_is_recorded_too(learner, staff_user, monkeypatch):
    def broken():
        raise KeyError("base_url")

    monkeypatch.setattr(service, "client_from_settings", broken)
    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)
    assert enrolment.state == Enrolment.State.RETRYING
    assert "(KeyError)" in enrolment.last_error


@pytest.mark.django_db(transaction=True)
def test_a_database_error_mid_step_is_recorded_on_the_row(learner, staff_user, monkeypatch):
    """The database refuses a write half way through (a CHECK constraint): the statement's
    own transaction is rolled back and the row is still updated, as in the worker."""

    def step(client, enrolment):
        Enrolment.objects.filter(pk=enrolment.pk).update(attempts=-1)

    monkeypatch.setattr(service, "enrolment_steps_run", step)
    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)
    assert enrolment.state == Enrolment.State.RETRYING
    assert enrolment.attempts == 1
    assert "(IntegrityError)" in enrolment.last_error


# --- A dead worker's enrolment -----------------------------------------------------------------


def test_a_dead_worker_is_noticed_within_30_seconds(learner, staff_user):
    """The claim's lease is short and the sweeper frequent: lease + sweep interval <= 30 s."""
    enrolment = _request(learner, staff_user)
    assert (
        operations._claim(service.ENROLMENT, enrolment.pk) is not None
    )  # a worker claims it and dies at once
    lease_until = Enrolment.objects.get(pk=enrolment.pk).lease_until
    sweep_every = django_settings.CELERY_BEAT_SCHEDULE["sweep-enrolments"]["schedule"]
    assert (lease_until - timezone.now()).total_seconds() + sweep_every <= 30

    # Once the lease has run out, the next sweep queues it and a worker takes it up.
    Enrolment.objects.filter(pk=enrolment.pk).update(lease_until=timezone.now())
    assert operations.due(service.ENROLMENT) == [enrolment.pk]
    assert operations._claim(service.ENROLMENT, enrolment.pk).attempts == 2


@pytest.mark.django_db(transaction=True)
def test_a_long_remote_call_keeps_its_lease(learner, staff_user, monkeypatch):
    """A call longer than the lease (here 1 s) does not let a second worker take over."""
    monkeypatch.setattr(operations, "LEASE", dt.timedelta(seconds=1))
    monkeypatch.setattr(operations, "HEARTBEAT_SECONDS", 0.2)
    seen = {}

    def slow_step(client, enrolment):
        time.sleep(2.5)
        seen["due"] = operations.due(service.ENROLMENT)
        seen["second worker"] = service.enrolment_run(enrolment_id=enrolment.pk)

    monkeypatch.setattr(service, "enrolment_steps_run", slow_step)
    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)
    assert seen == {"due": [], "second worker": None}
    assert enrolment.attempts == 1


def test_the_sweeper_fails_a_row_whose_worker_died_on_the_last_attempt(learner, staff_user):
    enrolment = _request(learner, staff_user)
    Enrolment.objects.filter(pk=enrolment.pk).update(
        state=Enrolment.State.ENROLLING, attempts=CAP, lease_until=timezone.now()
    )

    assert service.enrolments_sweep() == 0
    assert service.enrolment_run(enrolment_id=enrolment.pk) is None
    enrolment.refresh_from_db()
    assert enrolment.state == Enrolment.State.FAILED
    assert enrolment.last_error == (
        f"The worker stopped while working on this enrolment, {CAP} attempts in all. "
        "Press Retry; if it happens again, tell support."
    )


def test_a_row_taken_over_after_a_dead_worker_counts_the_attempt(
    sa_http, learner, staff_user, monkeypatch
):
    enrolment = _request(learner, staff_user)
    Enrolment.objects.filter(pk=enrolment.pk).update(
        state=Enrolment.State.ENROLLING, attempts=CAP - 1, lease_until=timezone.now()
    )
    monkeypatch.setattr(service, "enrolment_steps_run", _raise(KeyError))

    taken_over = service.enrolment_run(enrolment_id=enrolment.pk)

    assert taken_over.attempts == CAP
    assert taken_over.state == Enrolment.State.FAILED


def _outage(**kwargs):
    raise Transient("connection reset", ambiguous=True)


@pytest.mark.parametrize(
    "ending",
    [_raise(KeyError), _outage, lambda **kwargs: 0],
    ids=["an unexpected error", "an outage", "success"],
)
def test_a_worker_whose_enrolment_was_taken_over_writes_nothing_over_it(
    sa_http, learner, staff_user, monkeypatch, ending
):
    enrolment = _request(learner, staff_user)

    def slow_step(**kwargs):
        # Meanwhile this worker's lease ran out, and another worker took the enrolment over
        # and enrolled the learner.
        Enrolment.objects.filter(pk=enrolment.pk).update(lease_until=timezone.now())
        other = operations._claim(service.ENROLMENT, enrolment.pk)
        operations.write_outcome(
            service.ENROLMENT, other, state=Enrolment.State.ENROLLED, lease_until=None
        )
        return ending(**kwargs)

    monkeypatch.setattr(service, "enrolment_steps_run", slow_step)

    after = service.enrolment_run(enrolment_id=enrolment.pk)

    assert after.state == Enrolment.State.ENROLLED
    assert after.attempts == 2
    assert after.last_error == ""
    assert after.next_attempt_at is None


# --- Smart Assessor busy (429) -------------------------------------------------------------


def _busy(sa_http):
    # The attempt after a busy answer looks the learner up first, as after any failure.
    sa_http.get(wire.API + "/learners", json=wire.page([], page_size=1))
    sa_http.post(
        wire.API + "/learners",
        status=429,
        json=wire.errors("rate_limited", "Too many requests"),
        headers={"Retry-After": "0"},
    )


def test_busy_answers_wait_without_using_attempts_and_then_enrol(sa_http, learner, staff_user):
    _busy(sa_http)
    enrolment = _request(learner, staff_user)

    for _ in range(2 * CAP):
        before = timezone.now()
        ran = service.enrolment_run(enrolment_id=enrolment.pk)
        assert ran.state == Enrolment.State.RETRYING
        assert ran.attempts == 0
        assert ran.next_attempt_at >= before + dt.timedelta(
            seconds=operations.BUSY_MIN_WAIT_SECONDS
        )
        assert "busy" in ran.last_error and "could not be reached" not in ran.last_error
        _due_now(enrolment)
    assert ran.busy_since is not None

    sa_http.replace("POST", wire.API + "/learners", status=201, json=wire.learner())
    sa_http.post(
        wire.API + f"/learners/{wire.LEARNER_ID}/courses", status=201, json=wire.learner_course()
    )
    enrolled = service.enrolment_run(enrolment_id=enrolment.pk)
    assert enrolled.state == Enrolment.State.ENROLLED
    assert enrolled.attempts == 1 and enrolled.busy_since is None


def test_busy_past_the_time_limit_fails_saying_smart_assessor_was_busy(
    sa_http, learner, staff_user
):
    _busy(sa_http)
    enrolment = _request(learner, staff_user)
    assert service.enrolment_run(enrolment_id=enrolment.pk).state == Enrolment.State.RETRYING
    # Still busy once the overall limit has passed since the first busy answer.
    Enrolment.objects.filter(pk=enrolment.pk).update(
        busy_since=timezone.now() - operations.BUSY_LIMIT, next_attempt_at=timezone.now()
    )

    failed = service.enrolment_run(enrolment_id=enrolment.pk)

    assert failed.state == Enrolment.State.FAILED
    assert failed.last_error.startswith("Smart Assessor was busy: for 30 minutes")
    assert "could not be reached" not in failed.last_error
    assert operations.due(service.ENROLMENT) == []


# --- Bulk Create: all or nothing (F23) ------------------------------------------------------


def test_bulk_create_stores_every_row_or_none(
    sa_settings, staff_user, monkeypatch, django_capture_on_commit_callbacks
):
    learners = [_learner(f"PW00096{n}") for n in range(4)]
    real_audit = service.audit_record
    calls = []

    def audit_failing_on_the_third(**kwargs):
        calls.append(kwargs)
        if len(calls) == 3:
            raise RuntimeError("the web process stops here")
        return real_audit(**kwargs)

    monkeypatch.setattr(service, "audit_record", audit_failing_on_the_third)
    with django_capture_on_commit_callbacks() as queued, pytest.raises(RuntimeError):
        service.enrolments_request(learners=learners, actor=staff_user)

    assert not Enrolment.objects.exists()
    assert not AuditEntry.objects.filter(action="enrolment requested").exists()
    assert queued == []


def test_bulk_create_returns_each_learner_it_queued_or_found(
    sa_settings, staff_user, django_capture_on_commit_callbacks
):
    current = _learner("PW000971")
    existing, _ = service.enrolment_request(learner=current, actor=staff_user)
    blocked = _learner("PW000972")
    blocked.email = ""
    blocked.save()
    new = _learner("PW000973")

    with django_capture_on_commit_callbacks() as queued:
        enrolments = service.enrolments_request(learners=[current, blocked, new], actor=staff_user)

    assert [e.learner for e in enrolments] == [current, new]
    assert enrolments[0].pk == existing.pk
    assert len(queued) == 1


# --- Enrolled again after Support cleared the link (F12) ---------------------------------


def test_a_learner_enrolled_again_after_the_link_was_cleared_adopts_their_sa_records(
    sa_sandbox, staff_user, support_user, staff_client
):
    learner = LearnerFactory(ident="PW009501", first_name="Ruby", surname="Patel")
    PlacementFactory(learner=learner)
    LearnerQualificationFactory(
        learner=learner, qualification=QualificationFactory(reference="ST0070")
    )
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    first, _ = service.enrolment_request(learner=learner, actor=staff_user)
    first = service.enrolment_run(enrolment_id=first.pk)
    assert first.state == Enrolment.State.ENROLLED
    [first_course] = first.courses.all()

    learner_sa_id.learner_sa_id_clear(
        learner=learner, reason="Linked by mistake", actor=support_user
    )
    # Smart Assessor still has the learner and their course: it answers 409 to both and the
    # new enrolment adopts them.
    second, created = service.enrolment_request(learner=learner, actor=staff_user)
    assert created
    second = service.enrolment_run(enrolment_id=second.pk)

    assert second.state == Enrolment.State.ENROLLED, second.last_error
    assert second.sa_learner_id == first.sa_learner_id
    [course] = second.courses.all()
    assert course.state == CourseEnrolment.State.ENROLLED
    assert course.sa_learner_course_id == first_course.sa_learner_course_id
    # The ended enrolment stays as history, with its course.
    first.refresh_from_db()
    assert not first.is_current and first.courses.get().sa_learner_course_id
    page = staff_client.get(learner.get_absolute_url()).content.decode()
    assert second.sa_learner_id in page and "Create in Smart Assessor" not in page


def test_two_current_enrolments_cannot_share_an_sa_course(sa_settings, staff_user):
    """The rule the database keeps: an SA course id is unique among current enrolments."""
    rows = []
    for ident in ("PW000981", "PW000982"):
        learner = _learner(ident)
        enrolment = Enrolment.objects.create(learner=learner, state=Enrolment.State.ENROLLED)
        rows.append((enrolment, learner.qualifications.get()))
    CourseEnrolment.objects.create(
        enrolment=rows[0][0], learner_qualification=rows[0][1], sa_learner_course_id="c-1"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        CourseEnrolment.objects.create(
            enrolment=rows[1][0], learner_qualification=rows[1][1], sa_learner_course_id="c-1"
        )
