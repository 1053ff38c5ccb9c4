"""Create in Smart Assessor end to end: the pages, PostgreSQL, Redis, a real Celery worker and
the sandbox over HTTP, with faults injected in the sandbox."""

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from smartassessor.client import SmartAssessorClient
from smartassessor.models import Enrolment, LinkRefresh
from smartassessor.services import enrolment_requests as service
from smartassessor.services import links, operations
from tests.environment import REDIS_URL
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    PlacementFactory,
    QualificationFactory,
    UserFactory,
)
from tests.fixtures.worker import FAST_RETRY_DELAYS, REPOSITORY, _database_url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_process"),
]

WAIT_SECONDS = 60


@pytest.fixture
def enrollable(sa_sandbox):
    """A learner whose qualification Smart Assessor offers, with a placement and an officer."""
    learner = LearnerFactory(ident="PW009001", first_name="Ruby", surname="Patel")
    PlacementFactory(learner=learner)
    LearnerQualificationFactory(
        learner=learner, qualification=QualificationFactory(reference="ST0070")
    )
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    return learner


@pytest.fixture
def staff(db):
    from picsweb import roles

    client = Client()
    client.force_login(UserFactory(username="staff", groups=[roles.STAFF]))
    return client


def _wait_for(learner, *states) -> Enrolment:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        enrolment = Enrolment.objects.filter(learner=learner, is_current=True).first()
        if enrolment and enrolment.state in states:
            return enrolment
        time.sleep(0.2)
    raise AssertionError(f"still {enrolment and enrolment.state} after {WAIT_SECONDS} s")


def _sa_learners(sandbox, ident: str) -> list:
    client = SmartAssessorClient(
        base_url=sandbox.url,
        username=sandbox.username,
        password=sandbox.password,
        client_key=sandbox.client_key,
    )
    try:
        return client.learner_page(mis_learner_id=ident).items
    finally:
        client.close()


def _confirm(staff, learner):
    return staff.post(reverse("smartassessor:enrol_confirm", args=[learner.ident]))


def test_a_demo_learner_is_enrolled_by_the_worker(staff, sa_sandbox):
    from learners.demo import demo_data_load
    from learners.models import Learner

    demo_data_load()
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    learner = Learner.objects.get(ident="PW000101")

    assert _confirm(staff, learner).status_code == 302
    enrolment = _wait_for(learner, Enrolment.State.ENROLLED)

    [sa_learner] = _sa_learners(sa_sandbox, learner.ident)
    assert enrolment.sa_learner_id == sa_learner.smart_assessor_id
    assert enrolment.courses.filter(state="enrolled").count() == enrolment.courses.count() > 0
    page = staff.get(learner.get_absolute_url()).content.decode()
    assert enrolment.sa_learner_id in page


def test_a_503_then_success_ends_enrolled(staff, enrollable, sa_sandbox):
    sa_sandbox.faults(
        rules=[{"Method": "POST", "Path": "^/api/v1/learners$", "Status": 503, "Times": 1}]
    )
    _confirm(staff, enrollable)
    enrolment = _wait_for(enrollable, Enrolment.State.ENROLLED)
    assert enrolment.attempts == 2
    assert len(_sa_learners(sa_sandbox, enrollable.ident)) == 1


def test_a_lost_response_after_the_learner_was_created_makes_one_learner(
    staff, enrollable, sa_sandbox
):
    sa_sandbox.faults(drop_responses=[{"Method": "POST", "Path": "^/api/v1/learners$", "Times": 1}])
    _confirm(staff, enrollable)
    _wait_for(enrollable, Enrolment.State.ENROLLED)
    assert len(_sa_learners(sa_sandbox, enrollable.ident)) == 1


def test_sa_down_for_the_whole_budget_fails_then_retry_enrols(staff, enrollable, sa_sandbox):
    sa_sandbox.faults(rules=[{"Method": "POST", "Path": "^/api/v1/learners$", "Status": 503}])
    _confirm(staff, enrollable)
    failed = _wait_for(enrollable, Enrolment.State.FAILED)
    assert "could not be reached after 4 attempts" in failed.last_error

    sa_sandbox.faults(rules=[])
    staff.post(reverse("smartassessor:enrol_retry", args=[enrollable.ident]))
    _wait_for(enrollable, Enrolment.State.ENROLLED)
    assert len(_sa_learners(sa_sandbox, enrollable.ident)) == 1


def test_ten_concurrent_confirmations_make_one_sa_learner(enrollable, sa_sandbox):
    from picsweb import roles

    users = [UserFactory(username=f"staff{n}", groups=[roles.STAFF]) for n in range(10)]
    start = threading.Barrier(len(users))
    outcomes = []

    def confirm(user):
        try:
            start.wait()
            outcomes.append(service.enrolment_request(learner=enrollable, actor=user)[1])
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [False] * 9 + [True]
    _wait_for(enrollable, Enrolment.State.ENROLLED)
    assert Enrolment.objects.filter(learner=enrollable).count() == 1
    assert len(_sa_learners(sa_sandbox, enrollable.ident)) == 1


def _start_worker(queue: str, log_path) -> subprocess.Popen:
    """A worker of one process (solo pool), so that killing it kills everything it runs."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_QUEUE": queue,
        "CACHE_URL": REDIS_URL,
        "SMARTASSESSOR_RETRY_DELAYS": FAST_RETRY_DELAYS,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "picsweb", "worker", "--pool", "solo",
                "--loglevel", "INFO", "--queues", queue,
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=REPOSITORY,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + WAIT_SECONDS
    while "ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("The worker did not start:\n" + log_path.read_text())
        time.sleep(0.1)
    return process


def test_a_worker_killed_mid_enrolment_is_replaced_within_30_s(
    enrollable, sa_sandbox, staff_user, tmp_path, monkeypatch
):
    from django.conf import settings

    from smartassessor.tasks import enrol_learner

    victim_queue = f"victim-{uuid.uuid4().hex[:12]}"
    victim = _start_worker(victim_queue, tmp_path / "victim.log")
    try:
        with monkeypatch.context() as patched:
            patched.setattr(operations.Kind, "queue", lambda kind, pk, countdown=0: None)
            enrolment, _ = service.enrolment_request(learner=enrollable, actor=staff_user)
        sa_sandbox.faults(latency_ms=3000)  # each call takes 3 s: the victim is mid-call
        enrol_learner.apply_async((enrolment.pk,), queue=victim_queue)
        _wait_for(enrollable, Enrolment.State.ENROLLING)
        time.sleep(1)
        victim.kill()
        victim.wait()
        killed_at = time.monotonic()
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    sa_sandbox.faults(latency_ms=0)

    # Beat would run the sweeper at this interval; the fixture's worker takes up what it queues.
    sweep_every = settings.CELERY_BEAT_SCHEDULE["sweep-enrolments"]["schedule"]
    while Enrolment.objects.get(pk=enrolment.pk).attempts < 2:
        assert time.monotonic() - killed_at < 45, "the killed worker's enrolment was not taken up"
        service.enrolments_sweep()
        for _ in range(int(sweep_every * 10)):
            if Enrolment.objects.get(pk=enrolment.pk).attempts >= 2:
                break
            time.sleep(0.1)
    taken_up_after = time.monotonic() - killed_at

    assert taken_up_after <= 31
    finished = _wait_for(enrollable, Enrolment.State.ENROLLED)
    assert finished.attempts == 2
    assert len(_sa_learners(sa_sandbox, enrollable.ident)) == 1
