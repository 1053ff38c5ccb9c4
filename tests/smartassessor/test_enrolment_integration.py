"""Create in Smart Assessor end to end: the pages, PostgreSQL, Redis, a real Celery worker and
the sandbox over HTTP, with faults injected in the sandbox."""

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from smartassessor.client import SmartAssessorClient
from smartassessor.models import Enrolment, LinkRefresh
from smartassessor.services import enrolment as service
from smartassessor.services import links
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    PlacementFactory,
    QualificationFactory,
    UserFactory,
)

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
