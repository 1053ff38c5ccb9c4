"""Lifecycle changes reach Smart Assessor end to end (F28–F30): PostgreSQL, Redis, a real
Celery worker and the sandbox over HTTP, with faults injected in the sandbox."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from learners import services as domain
from learners.models import LearnerStatus, QualificationStatus
from smartassessor.client import SmartAssessorClient
from smartassessor.models import Enrolment, LinkRefresh, Push
from smartassessor.services import enrolment_requests, links, pushes
from smartassessor.services.sync import learner_refresh_now
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    PlacementFactory,
    QualificationFactory,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_worker_process"),
]

WAIT_SECONDS = 60
TODAY = timezone.localdate()
START = TODAY - dt.timedelta(days=90)
PATCH_COURSE = r"^/api/v1/learners/[^/]+/courses/[^/]+$"


def _wait(predicate, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not after {WAIT_SECONDS} s")


@pytest.fixture
def enrolled(sa_sandbox):
    """A learner in training on two qualifications Smart Assessor offers, enrolled by the worker."""
    learner = LearnerFactory(
        ident="PW009101", start_date=START, planned_end_date=START + dt.timedelta(days=500)
    )
    PlacementFactory(learner=learner, start_date=START)
    for reference in ("ST0070", "ST0072"):
        LearnerQualificationFactory(
            learner=learner,
            qualification=QualificationFactory(reference=reference),
            start_date=START,
            planned_end_date=START + dt.timedelta(days=500),
            status=QualificationStatus.IN_PROGRESS,
        )
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    enrolment_requests.enrolment_request(learner=learner, actor=None)
    _wait(
        lambda: Enrolment.objects.filter(learner=learner, state=Enrolment.State.ENROLLED).exists(),
        "enrolled",
    )
    return learner


def _sa_courses(sandbox, learner) -> dict:
    """SA's enrolments of the learner, by the qualification's reference."""
    enrolment = Enrolment.objects.get(learner=learner, is_current=True)
    client = SmartAssessorClient(
        base_url=sandbox.url,
        username=sandbox.username,
        password=sandbox.password,
        client_key=sandbox.client_key,
    )
    try:
        items = list(client.learner_course_list(learner_id=enrolment.sa_learner_id))
    finally:
        client.close()
    return {item.qan_code: item for item in items}


def _all_sent(learner):
    pending = Push.objects.filter(learner=learner).exclude(state=Push.State.SENT)
    return Push.objects.filter(learner=learner).exists() and not pending.exists()


def _state_of_last(learner, *states):
    push = Push.objects.filter(learner=learner).order_by("-pk").first()
    return push if push and push.state in states else None


def test_a_break_and_a_return_arrive_in_smart_assessor_with_their_dates(enrolled, sa_sandbox):
    lq = enrolled.qualifications.get(qualification__reference="ST0070")
    start = TODAY - dt.timedelta(days=20)
    brk = domain.learner_qualification_break_start(learner_qualification=lq, start_date=start)
    _wait(lambda: _all_sent(enrolled), "the break sent")
    course = _sa_courses(sa_sandbox, enrolled)["ST0070"]
    assert (course.status, course.break_start_date) == ("BreakInLearning", start)
    assert _sa_courses(sa_sandbox, enrolled)["ST0072"].status != "BreakInLearning"

    back = TODAY - dt.timedelta(days=1)
    domain.learner_qualification_break_end(brk=brk, end_date=back)
    _wait(lambda: _all_sent(enrolled), "the return sent")
    course = _sa_courses(sa_sandbox, enrolled)["ST0070"]
    assert (course.status, course.break_start_date) == ("InTraining", None)


def test_withdrawing_the_learner_withdraws_each_course(enrolled, sa_sandbox):
    ended = TODAY - dt.timedelta(days=2)
    domain.learner_update(
        learner=enrolled, data={"status": LearnerStatus.WITHDRAWN, "actual_end_date": ended}
    )
    _wait(lambda: _all_sent(enrolled), "the withdrawals sent")
    courses = _sa_courses(sa_sandbox, enrolled)
    assert {ref: (c.status, c.actual_end_date) for ref, c in courses.items()} == {
        "ST0070": ("Withdrawn", ended),
        "ST0072": ("Withdrawn", ended),
    }


def test_an_outage_during_a_push_ends_pushed_once_it_is_back(enrolled, sa_sandbox):
    sa_sandbox.faults(rules=[{"Method": "PATCH", "Path": PATCH_COURSE, "Status": 503}])
    lq = enrolled.qualifications.get(qualification__reference="ST0072")
    new_end = START + dt.timedelta(days=600)
    domain.learner_qualification_update(
        learner_qualification=lq, data={"planned_end_date": new_end}
    )
    waiting = _wait(lambda: _state_of_last(enrolled, Push.State.RETRYING), "retrying")
    assert "unavailable" in waiting.last_error

    sa_sandbox.faults(rules=[])
    push = _wait(lambda: _state_of_last(enrolled, Push.State.SENT), "sent once SA is back")
    assert push.attempts >= 2
    assert _sa_courses(sa_sandbox, enrolled)["ST0072"].planned_end_date == new_end


def test_a_refused_transition_shows_its_message_and_retry_works_after_the_fix(
    enrolled, sa_sandbox, staff_user
):
    lq = enrolled.qualifications.get(qualification__reference="ST0070")
    withdrawn_in_sa = TODAY - dt.timedelta(days=5)
    enrolment = Enrolment.objects.get(learner=enrolled, is_current=True)
    course = enrolment.courses.get(learner_qualification=lq)
    # An assessor withdrew the learner in Smart Assessor itself.
    client = SmartAssessorClient(
        base_url=sa_sandbox.url,
        username=sa_sandbox.username,
        password=sa_sandbox.password,
        client_key=sa_sandbox.client_key,
    )
    from smartassessor.client import LearnerCourseChanges

    client.learner_course_update(
        learner_id=enrolment.sa_learner_id,
        enrolment_id=course.sa_learner_course_id,
        changes=LearnerCourseChanges(status="Withdrawn", status_date=withdrawn_in_sa),
    )
    client.close()

    # Staff record, late, a break that began before that.
    domain.learner_qualification_break_start(
        learner_qualification=lq, start_date=TODAY - dt.timedelta(days=10)
    )
    failed = _wait(lambda: _state_of_last(enrolled, Push.State.FAILED), "refused")
    assert "Withdrawn" in failed.last_error and "BreakInLearning" in failed.last_error
    assert failed.attempts == 1

    # The fix: the MIS records the withdrawal Smart Assessor has; then Retry.
    lq.refresh_from_db()
    domain.learner_qualification_update(
        learner_qualification=lq,
        data={"status": QualificationStatus.WITHDRAWN, "actual_end_date": withdrawn_in_sa},
    )
    pushes.push_retry(push=failed, actor=staff_user)
    _wait(lambda: _all_sent(enrolled), "sent after the retry")
    sa_course = _sa_courses(sa_sandbox, enrolled)["ST0070"]
    assert (sa_course.status, sa_course.actual_end_date) == ("Withdrawn", withdrawn_in_sa)


def test_a_pull_while_a_push_waits_does_not_undo_it(enrolled, sa_sandbox):
    sa_sandbox.faults(rules=[{"Method": "PATCH", "Path": PATCH_COURSE, "Status": 503}])
    lq = enrolled.qualifications.get(qualification__reference="ST0070")
    start = TODAY - dt.timedelta(days=4)
    domain.learner_qualification_break_start(learner_qualification=lq, start_date=start)
    failed = _wait(lambda: _state_of_last(enrolled, Push.State.FAILED), "failed in the outage")

    run = learner_refresh_now(learner=enrolled)
    lq.refresh_from_db()
    assert lq.status == QualificationStatus.BREAK_IN_LEARNING
    assert run.lifecycle_kept == 1

    sa_sandbox.faults(rules=[])
    pushes.push_retry(push=failed, actor=None)
    _wait(lambda: _all_sent(enrolled), "sent once SA is back")
    run = learner_refresh_now(learner=enrolled)
    lq.refresh_from_db()
    assert lq.status == QualificationStatus.BREAK_IN_LEARNING
    assert run.lifecycle_kept == 0
    assert _sa_courses(sa_sandbox, enrolled)["ST0070"].break_start_date == start
