"""The client against the real sandbox over HTTP: the contract as both sides read it."""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from smartassessor.client import (
    AssessorInput,
    Conflict,
    EmployerInput,
    Forbidden,
    IdempotencyKeyReused,
    LearnerChanges,
    LearnerCourseInput,
    LearnerInput,
    LocalRateLimiter,
    MemoryTokenStore,
    RetryPolicy,
    SmartAssessorClient,
    StoredToken,
    Transient,
    ValidationFailed,
    account_fingerprint,
)
from tests.environment import REDIS_URL

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("limiter_worker.py")


def valid_uln(prefix: str) -> str:
    """Nine digits and the check digit of the contract (§8)."""
    for last in range(10):
        digits = (prefix + str(last))[:9]
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 10 - total % 11
        if check < 10:
            return digits + str(check)
    raise AssertionError("no valid ULN with that prefix")


@pytest.fixture
def live(sandbox_client):
    return sandbox_client


def new_learner(mis_id: str, **overrides) -> LearnerInput:
    values = {
        "mis_learner_id": mis_id,
        "given_names": "Amelia",
        "family_name": "Jones",
        "date_of_birth": dt.date(2000, 5, 17),
        "sex": "Female",
        "uln": valid_uln("123456789"),
        "ni_number": "AB123456C",
        "email": f"{mis_id.lower()}@learners.example",
        "address_post_code": "S1 2AB",
        "start_date": dt.date.today(),
    }
    return LearnerInput(**(values | overrides))


def active_course(client: SmartAssessorClient, reference: str):
    return next(c for c in client.course_list() if c.qan_code == reference and c.is_active)


def test_enrolment_objects_are_created_and_read_back(sandbox, live):
    # Read both feeds to their end first, as a sync run would, and keep where they stopped.
    learners_before, enrolments_before = live.learner_feed(), live.learner_course_feed()
    list(learners_before), list(enrolments_before)
    course = active_course(live, "ST0070")

    employer = live.employer_create(
        employer=EmployerInput(
            mis_employer_id="E2E-ORG-1",
            name="Harbour Cafe Ltd",
            address_line1="1 Quay Street",
            address_post_code="BS1 4AA",
        ),
        idempotency_key="e2e-employer-1",
    )
    assessor = live.assessor_create(
        assessor=AssessorInput(
            mis_assessor_id="E2E-OFF-1",
            first_name="Priya",
            last_name="Shah",
            email="priya.shah@provider.example",
        ),
        idempotency_key="e2e-assessor-1",
    )
    learner = live.learner_create(
        learner=new_learner(
            "E2E-L-1",
            employer_smart_assessor_id=employer.smart_assessor_id,
            assessor_smart_assessor_id=assessor.smart_assessor_id,
        ),
        send_welcome_email=True,
        idempotency_key="e2e-learner-1",
    )
    enrolment = live.learner_course_create(
        learner_id=learner.smart_assessor_id,
        enrolment=LearnerCourseInput(
            course_smart_assessor_id=course.smart_assessor_id,
            primary_assessor_smart_assessor_id=assessor.smart_assessor_id,
            start_date=dt.date.today(),
            planned_end_date=dt.date.today() + dt.timedelta(days=400),
        ),
        idempotency_key="e2e-course-1",
    )

    assert isinstance(employer.smart_assessor_id, int)
    assert live.employer_get(employer_id=employer.smart_assessor_id) == employer
    assert list(live.employer_list(mis_employer_id="E2E-ORG-1")) == [employer]
    assert employer in live.employer_page(search="harbour cafe").items
    assert live.assessor_get(assessor_id=assessor.smart_assessor_id) == assessor
    assert list(live.assessor_list(mis_assessor_id="E2E-OFF-1")) == [assessor]
    assert live.learner_get(learner_id=learner.smart_assessor_id) == learner
    assert list(live.learner_list(mis_learner_id="E2E-L-1")) == [learner]
    assert learner.status == "Active"
    assert learner.employer_smart_assessor_id == employer.smart_assessor_id
    assert list(live.learner_course_list(learner_id=learner.smart_assessor_id)) == [enrolment]
    assert enrolment.status == "AwaitingInduction"
    assert enrolment.qan_code == course.qan_code
    assert [m["LearnerSmartAssessorId"] for m in sandbox.outbox()] == [learner.smart_assessor_id]

    assert list(live.learner_feed(since=learners_before.position)) == [learner]
    assert list(live.learner_course_feed(since=enrolments_before.position)) == [enrolment]


def test_updates_change_what_is_read_back(live):
    employer = live.employer_create(
        employer=EmployerInput(mis_employer_id="E2E-ORG-2", name="Old", address_post_code="S1 2AB"),
        idempotency_key="e2e-employer-2",
    )
    learner = live.learner_create(learner=new_learner("E2E-L-2"), idempotency_key="e2e-learner-2")

    updated = live.employer_update(
        employer_id=employer.smart_assessor_id,
        employer=EmployerInput(
            mis_employer_id="E2E-ORG-2", name="New Name Ltd", address_post_code="S1 2AB"
        ),
    )
    patched = live.learner_update(
        learner_id=learner.smart_assessor_id,
        changes=LearnerChanges(mobile="07700 900123", family_name="Jones-Smith"),
    )

    assert updated.name == "New Name Ltd"
    assert updated.modified_at > employer.modified_at
    assert (patched.mobile, patched.family_name) == ("07700 900123", "Jones-Smith")
    assert patched.email == learner.email  # untouched by the PATCH
    assert live.learner_get(learner_id=learner.smart_assessor_id) == patched


def test_conflicts_name_the_existing_objects_with_typed_ids(live):
    course = active_course(live, "ST0072")
    employer = live.employer_create(
        employer=EmployerInput(mis_employer_id="E2E-ORG-3", name="A", address_post_code="S1 2AB"),
        idempotency_key="e2e-employer-3a",
    )
    learner = live.learner_create(learner=new_learner("E2E-L-3"), idempotency_key="e2e-learner-3")
    enrolment_input = LearnerCourseInput(
        course_smart_assessor_id=course.smart_assessor_id,
        start_date=dt.date.today(),
        planned_end_date=dt.date.today() + dt.timedelta(days=365),
    )
    enrolment = live.learner_course_create(
        learner_id=learner.smart_assessor_id, enrolment=enrolment_input, idempotency_key="c3a"
    )

    with pytest.raises(Conflict) as duplicate_employer:
        live.employer_create(
            employer=EmployerInput(
                mis_employer_id="E2E-ORG-3", name="B", address_post_code="S1 2AB"
            ),
            idempotency_key="e2e-employer-3b",
        )
    with pytest.raises(Conflict) as duplicate_learner:
        live.learner_create(learner=new_learner("E2E-L-3"), idempotency_key="e2e-learner-3b")
    with pytest.raises(Conflict) as already_enrolled:
        live.learner_course_create(
            learner_id=learner.smart_assessor_id, enrolment=enrolment_input, idempotency_key="c3b"
        )

    assert duplicate_employer.value.code == "duplicate_mis_id"
    assert duplicate_employer.value.existing_id == employer.smart_assessor_id
    assert duplicate_learner.value.existing_id == learner.smart_assessor_id
    assert already_enrolled.value.code == "already_enrolled"
    assert already_enrolled.value.existing_id == enrolment.smart_assessor_id


def test_validation_messages_come_back_by_field(live):
    with pytest.raises(ValidationFailed) as caught:
        live.learner_create(
            learner=new_learner("E2E-L-4", uln="1234567890", address_post_code="s12ab"),
            idempotency_key="e2e-learner-4",
        )

    assert {"ULN", "AddressPostCode"} <= caught.value.field_messages.keys()


def test_a_feed_read_by_keyset_in_small_pages_sees_every_learner_once(live):
    listed = {learner.smart_assessor_id for learner in live.learner_list(page_size=500)}

    fed = [learner.smart_assessor_id for learner in live.learner_feed(page_size=3)]

    assert len(fed) == len(set(fed)) == len(listed)
    assert set(fed) == listed


def test_sessions_event_types_and_smart_coach_after_time_moves_on(sandbox, live):
    learner = live.learner_create(learner=new_learner("E2E-L-8"), idempotency_key="e2e-l-8")
    live.learner_course_create(
        learner_id=learner.smart_assessor_id,
        enrolment=LearnerCourseInput(
            course_smart_assessor_id=active_course(live, "ST0116").smart_assessor_id,
            start_date=dt.date.today(),
            planned_end_date=dt.date.today() + dt.timedelta(days=540),
        ),
        idempotency_key="e2e-course-8",
    )
    sandbox.advance(90)

    sessions = list(live.session_feed(page_size=2))
    codes = {event_type.code for event_type in live.event_type_list()}
    scores = list(live.smart_coach_feed(page_size=50))

    assert sessions, "review sessions appear as time moves on"
    assert {session.learner_smart_assessor_id for session in sessions} == {
        learner.smart_assessor_id
    }
    assert {session.event_type for session in sessions} <= codes
    one = sessions[0]
    assert one in live.learner_session_list(learner_id=one.learner_smart_assessor_id)
    assert scores
    score = live.smart_coach_get(learner_id=scores[0].learner_smart_assessor_id)
    assert score == scores[0]
    assert 0 <= score.score <= 1 and score.band in {"Low", "Medium", "High"}


def test_an_unlicensed_smart_coach_is_forbidden(sandbox, live):
    sandbox.faults(SmartCoachLicensed=False)

    with pytest.raises(Forbidden):
        list(live.smart_coach_feed())


def test_a_read_only_key_cannot_write(sandbox, live):
    sandbox.faults(ReadOnly=True)

    with pytest.raises(Forbidden) as caught:
        live.learner_create(learner=new_learner("E2E-L-5"), idempotency_key="e2e-learner-5")

    assert caught.value.read_only


def test_a_token_renewed_before_it_expires(sandbox, live):
    sandbox.faults(TokenLifetimeSeconds=1)

    live.event_type_list()
    time.sleep(1.2)
    live.event_type_list()

    stats = sandbox.stats()
    assert stats["ByRoute"]["POST /api/v1/token"] == 2
    assert "401" not in stats["ByStatus"]


def test_a_token_the_server_says_expired_is_renewed_once(sandbox):
    class OverconfidentStore(MemoryTokenStore):
        """Believes every token lasts an hour, so the server is the one to say it expired."""

        def set(self, key, token):
            super().set(key, StoredToken(token.access_token, time.time() + 3600))

    sandbox.faults(TokenLifetimeSeconds=1)
    client = SmartAssessorClient(
        base_url=sandbox.url,
        username=sandbox.username,
        password=sandbox.password,
        client_key=sandbox.client_key,
        token_store=OverconfidentStore(),
    )

    client.event_type_list()
    time.sleep(1.2)
    client.event_type_list()

    stats = sandbox.stats()
    assert stats["ByStatus"]["401"] == 1
    assert stats["ByRoute"]["POST /api/v1/token"] == 2
    assert stats["ByRoute"]["GET /api/v1/event-types"] == 3


def test_a_get_survives_503s_and_a_post_reports_them(sandbox, live):
    sandbox.faults(
        Rules=[
            {"Method": "GET", "Path": "^/api/v1/courses$", "Status": 503, "Times": 2},
            {"Method": "POST", "Path": "^/api/v1/learners$", "Status": 503, "Times": 1},
        ]
    )

    courses = list(live.course_list())
    with pytest.raises(Transient) as caught:
        live.learner_create(learner=new_learner("E2E-L-6"), idempotency_key="e2e-learner-6")
    learner = live.learner_create(learner=new_learner("E2E-L-6"), idempotency_key="e2e-learner-6")

    assert courses
    assert caught.value.status == 503 and caught.value.ambiguous
    assert learner.mis_learner_id == "E2E-L-6"
    assert sandbox.stats()["ByStatus"]["503"] == 3


def test_a_lost_answer_is_repeated_safely_with_the_same_idempotency_key(sandbox, live):
    sandbox.faults(DropResponses=[{"Method": "POST", "Path": "^/api/v1/learners$", "Times": 1}])
    payload = new_learner("E2E-L-7")

    with pytest.raises(Transient) as caught:
        live.learner_create(learner=payload, idempotency_key="e2e-learner-7")
    assert caught.value.ambiguous  # the learner may exist: it does

    learner = live.learner_create(learner=payload, idempotency_key="e2e-learner-7")
    again = live.learner_create(learner=payload, idempotency_key="e2e-learner-7")

    assert again == learner
    assert list(live.learner_list(mis_learner_id="E2E-L-7")) == [learner]
    with pytest.raises(IdempotencyKeyReused):
        live.learner_create(
            learner=new_learner("E2E-L-7", mobile="07700 900999"), idempotency_key="e2e-learner-7"
        )


def test_retry_after_is_honoured_when_the_server_limits(sandbox):
    sandbox.faults(RateLimitPerSecond=2)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)

    client = SmartAssessorClient(
        base_url=sandbox.url,
        username=sandbox.username,
        password=sandbox.password,
        client_key=sandbox.client_key,
        rate_limiter=LocalRateLimiter(rate=1000),  # far above the server's 2/s on purpose
        retry=RetryPolicy(max_attempts=10),
        sleep=sleep,
    )

    for _ in range(5):
        client.event_type_list()

    rate_limited = sandbox.stats()["RateLimited"]
    assert rate_limited > 0
    assert len(waits) == rate_limited  # each 429 was waited out, then tried again
    assert all(wait >= 1 for wait in waits)


@pytest.mark.redis
def test_two_worker_processes_share_the_rate_limit(sandbox):
    """Two processes at 10 requests a second each would make 20: shared, they make 10."""
    rate, calls_per_worker = 10, 50
    sandbox.faults(RateLimitPerSecond=rate)
    fingerprint = account_fingerprint(
        base_url=sandbox.url, username=sandbox.username, client_key=sandbox.client_key
    )
    redis.Redis.from_url(REDIS_URL).delete("smartassessor:ratelimit:" + fingerprint)
    sandbox.reset_stats()
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "picsweb.settings",
        "CACHE_URL": REDIS_URL,
        "SA_BASE_URL": sandbox.url,
        "SA_USERNAME": sandbox.username,
        "SA_PASSWORD": sandbox.password,
        "SA_CLIENT_KEY": sandbox.client_key,
        "SA_REQUESTS_PER_SECOND": str(rate),
        "SA_CALLS": str(calls_per_worker),
    }
    started = time.monotonic()

    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]
    elapsed = time.monotonic() - started

    for worker, (out, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
        assert out.strip() == f"{calls_per_worker} calls"
    stats = sandbox.stats()
    # A GET may be sent twice when a kept-alive connection closes under it; never fewer.
    assert stats["ByRoute"]["GET /api/v1/event-types"] >= 2 * calls_per_worker
    assert stats["RateLimited"] == 0
    assert "429" not in stats["ByStatus"]
    # 100 calls (and a token or two) through a bucket of 5 refilled at 10/s take >= 9.5 s.
    assert elapsed >= (2 * calls_per_worker - 5) / rate
