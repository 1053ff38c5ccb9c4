"""Changes saved in the MIS are pushed to Smart Assessor (F17, F28, F29): every branch, with
Smart Assessor mocked over HTTP."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from learners import services as domain
from learners.models import LearnerOfficerRole, LearnerStatus, QualificationStatus
from smartassessor.models import (
    CourseEnrolment,
    DemographicsMode,
    Enrolment,
    OfficerLink,
    Push,
)
from smartassessor.services import operations, pushes
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    OfficerRoleFactory,
)

from .client import wire

TODAY = timezone.localdate()
START = TODAY - dt.timedelta(days=120)
COURSE_URL = f"{wire.API}/learners/{wire.LEARNER_ID}/courses/{wire.LEARNER_COURSE_ID}"
OTHER_COURSE_ID = "1c8e5e4b-3d2f-4e6a-9bac-8d7e6f5a4b32"


def _enrolled(learner, *lqs_and_ids):
    enrolment = Enrolment.objects.create(
        learner=learner,
        state=Enrolment.State.ENROLLED,
        sa_learner_id=wire.LEARNER_ID,
        enrolled_at=timezone.now(),
    )
    for lq, sa_course_id in lqs_and_ids:
        CourseEnrolment.objects.create(
            enrolment=enrolment,
            learner_qualification=lq,
            state=CourseEnrolment.State.ENROLLED,
            sa_learner_course_id=sa_course_id,
        )
    return enrolment


@pytest.fixture
def learner(sa_settings):
    return LearnerFactory(start_date=START, planned_end_date=START + dt.timedelta(days=540))


@pytest.fixture
def lq(learner):
    lq = LearnerQualificationFactory(
        learner=learner,
        start_date=START,
        planned_end_date=START + dt.timedelta(days=540),
        status=QualificationStatus.IN_PROGRESS,
    )
    _enrolled(learner, (lq, wire.LEARNER_COURSE_ID))
    return lq


def _patched(sa_http, url=COURSE_URL, **answer):
    sa_http.patch(url, json=wire.learner_course(**answer))


def _sent_body(sa_http, method="PATCH"):
    (call,) = [c for c in sa_http.calls if c.request.method == method]
    return json.loads(call.request.body)


def _run_all():
    """Send every push whose turn it is, as the worker would, oldest first."""
    for push in Push.objects.order_by("pk"):
        pushes.push_run(push_id=push.pk)


def test_a_break_is_stored_with_the_change_and_queued_on_commit(
    lq, django_capture_on_commit_callbacks
):
    start = TODAY - dt.timedelta(days=3)
    with django_capture_on_commit_callbacks() as callbacks:
        domain.learner_qualification_break_start(learner_qualification=lq, start_date=start)
    (push,) = Push.objects.all()
    assert push.values == {"status": "break_in_learning", "status_date": start.isoformat()}
    assert push.state == Push.State.QUEUED and push.course.learner_qualification == lq
    assert len(callbacks) == 1


def test_a_break_and_the_return_arrive_in_order_with_their_dates(lq, sa_http):
    start, back = TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=2)
    brk = domain.learner_qualification_break_start(learner_qualification=lq, start_date=start)
    domain.learner_qualification_break_end(brk=brk, end_date=back)
    _, second = Push.objects.order_by("pk")
    # The return's turn comes only once the break is sent.
    assert pushes.push_run(push_id=second.pk) is None
    _patched(sa_http, Status="BreakInLearning")
    _run_all()

    bodies = [json.loads(c.request.body) for c in sa_http.calls if c.request.method == "PATCH"]
    assert bodies == [
        {"Status": "BreakInLearning", "StatusDate": start.isoformat()},
        {"Status": "InTraining", "StatusDate": back.isoformat()},
    ]
    assert set(Push.objects.values_list("state", flat=True)) == {Push.State.SENT}


def test_the_next_push_of_a_lane_is_queued_when_one_is_sent(
    lq, sa_http, django_capture_on_commit_callbacks
):
    domain.learner_qualification_update(
        learner_qualification=lq, data={"planned_end_date": START + dt.timedelta(days=600)}
    )
    domain.learner_qualification_update(
        learner_qualification=lq, data={"off_the_job_hours_planned": Decimal("250.5")}
    )
    first, second = Push.objects.order_by("pk")
    _patched(sa_http)
    with django_capture_on_commit_callbacks() as callbacks:
        pushes.push_run(push_id=first.pk)
    assert len(callbacks) == 1  # the second push's task
    assert pushes.push_run(push_id=second.pk).state == Push.State.SENT
    assert json.loads(sa_http.calls[-1].request.body) == {"OffTheJobHoursPlanned": 250.5}


def test_a_learner_withdrawn_withdraws_each_active_course(learner, sa_http):
    first = LearnerQualificationFactory(
        learner=learner, start_date=START, status=QualificationStatus.IN_PROGRESS
    )
    second = LearnerQualificationFactory(
        learner=learner, start_date=START, status=QualificationStatus.NOT_STARTED
    )
    done = LearnerQualificationFactory(
        learner=learner,
        start_date=START,
        status=QualificationStatus.COMPLETED,
        actual_end_date=TODAY - dt.timedelta(days=10),
    )
    _enrolled(
        learner,
        (first, wire.LEARNER_COURSE_ID),
        (second, OTHER_COURSE_ID),
        (done, "2d9f6f5c-4e3a-4f7b-8cbd-9e8f7a6b5c43"),
    )
    ended = TODAY - dt.timedelta(days=1)
    domain.learner_update(
        learner=learner, data={"status": LearnerStatus.WITHDRAWN, "actual_end_date": ended}
    )
    _patched(sa_http, Status="Withdrawn")
    sa_http.patch(
        f"{wire.API}/learners/{wire.LEARNER_ID}/courses/{OTHER_COURSE_ID}",
        json=wire.learner_course(SmartAssessorId=OTHER_COURSE_ID, Status="Withdrawn"),
    )
    _run_all()

    patched = {
        c.request.url.rsplit("/", 1)[1]: json.loads(c.request.body)
        for c in sa_http.calls
        if c.request.method == "PATCH"
    }
    expected = {"Status": "Withdrawn", "StatusDate": ended.isoformat()}
    assert patched == {wire.LEARNER_COURSE_ID: expected, OTHER_COURSE_ID: expected}


def test_a_new_main_officer_is_created_in_smart_assessor_and_sent(lq, learner, sa_http):
    officer = OfficerFactory()
    domain.learner_update(learner=learner, data={"main_officer": officer})
    sa_http.get(wire.API + "/assessors", json=wire.page([]))
    sa_http.post(wire.API + "/assessors", status=201, json=wire.assessor(SmartAssessorId=77))
    _patched(sa_http)
    _run_all()

    assert _sent_body(sa_http) == {
        "PrimaryAssessorSmartAssessorId": 77,
        "SecondaryAssessorSmartAssessorId": None,
    }
    assert OfficerLink.objects.get(officer=officer).assessor_id == 77
    (create,) = [
        c for c in sa_http.calls if c.request.method == "POST" and "assessors" in c.request.url
    ]
    assert create.request.headers["Idempotency-Key"].startswith("push")


def test_the_second_assessor_role_is_pushed_when_it_changes(lq, learner, sa_http, sa_settings):
    role = OfficerRoleFactory(name="Second assessor")
    sa_settings.second_assessor_role = role
    sa_settings.save()
    officer = OfficerFactory()
    OfficerLink.objects.create(officer=officer, assessor_id=55)
    domain.learner_officer_role_create(learner=learner, data={"officer": officer, "role": role})
    _patched(sa_http)
    _run_all()
    assert _sent_body(sa_http) == {"SecondaryAssessorSmartAssessorId": 55}

    sa_http.calls.reset()
    domain.learner_officer_role_delete(
        learner_officer_role=LearnerOfficerRole.objects.get(learner=learner, role=role)
    )
    _run_all()
    assert _sent_body(sa_http) == {"SecondaryAssessorSmartAssessorId": None}


def test_a_refused_transition_waits_with_its_message_and_retry_sends_the_fixed_data(
    lq, sa_http, staff_user
):
    ended = TODAY - dt.timedelta(days=1)
    domain.learner_qualification_update(
        learner_qualification=lq,
        data={"status": QualificationStatus.COMPLETED, "actual_end_date": ended},
    )
    sa_http.patch(
        COURSE_URL,
        status=409,
        json=wire.errors(
            "invalid_transition", "AwaitingInduction cannot move to Completed", field="Status"
        ),
    )
    (push,) = Push.objects.all()
    failed = pushes.push_run(push_id=push.pk)

    assert failed.state == Push.State.FAILED
    assert "AwaitingInduction cannot move to Completed" in failed.last_error
    assert failed.attempts == 1  # not retried: a person settles it

    # The learner really withdrew; staff record that and press Retry.
    domain.learner_qualification_update(
        learner_qualification=lq, data={"status": QualificationStatus.WITHDRAWN}
    )
    sa_http.replace("PATCH", COURSE_URL, json=wire.learner_course(Status="Withdrawn"))
    retried = pushes.push_retry(push=failed, actor=staff_user)
    assert retried.values == {"status": "withdrawn", "status_date": ended.isoformat()}
    _run_all()

    bodies = [json.loads(c.request.body) for c in sa_http.calls if c.request.method == "PATCH"]
    assert bodies[-1] == {"Status": "Withdrawn", "StatusDate": ended.isoformat()}
    assert set(Push.objects.values_list("state", flat=True)) == {Push.State.SENT}


def test_a_validation_refusal_keeps_smart_assessors_field_messages(lq, sa_http):
    domain.learner_qualification_update(
        learner_qualification=lq, data={"planned_end_date": START + dt.timedelta(days=700)}
    )
    sa_http.patch(
        COURSE_URL,
        status=400,
        json=wire.errors("validation", "PlannedEndDate is too far away", field="PlannedEndDate"),
    )
    failed = pushes.push_run(push_id=Push.objects.get().pk)
    assert failed.state == Push.State.FAILED
    assert failed.field_errors == {"PlannedEndDate": ["PlannedEndDate is too far away"]}


def test_an_outage_retries_with_backoff_and_then_sends(lq, sa_http):
    domain.learner_qualification_update(
        learner_qualification=lq, data={"off_the_job_hours_planned": Decimal("120.0")}
    )
    sa_http.patch(COURSE_URL, status=503, json=wire.errors("unavailable", "Down"))
    push = pushes.push_run(push_id=Push.objects.get().pk)
    assert push.state == Push.State.RETRYING and push.next_attempt_at > timezone.now()

    Push.objects.filter(pk=push.pk).update(next_attempt_at=timezone.now())
    sa_http.replace("PATCH", COURSE_URL, json=wire.learner_course())
    assert pushes.push_run(push_id=push.pk).state == Push.State.SENT


def test_a_lost_push_task_is_sent_again_by_the_sweeper(lq, django_capture_on_commit_callbacks):
    domain.learner_qualification_update(
        learner_qualification=lq, data={"planned_end_date": START + dt.timedelta(days=600)}
    )
    push = Push.objects.get()
    assert operations.due(pushes.PUSH) == []  # its own task is still on its way
    Push.objects.filter(pk=push.pk).update(requested_at=timezone.now() - dt.timedelta(minutes=2))
    with django_capture_on_commit_callbacks() as callbacks:
        assert pushes.pushes_sweep() == 1
    assert len(callbacks) == 1


def test_nothing_is_pushed_for_a_learner_not_in_smart_assessor_or_with_the_integration_off(
    learner, sa_settings
):
    lq = LearnerQualificationFactory(learner=learner, start_date=START)
    domain.learner_qualification_update(
        learner_qualification=lq, data={"planned_end_date": START + dt.timedelta(days=600)}
    )
    assert not Push.objects.exists()

    _enrolled(learner, (lq, wire.LEARNER_COURSE_ID))
    sa_settings.enabled = False
    sa_settings.save()
    domain.learner_qualification_update(
        learner_qualification=lq, data={"planned_end_date": START + dt.timedelta(days=610)}
    )
    assert not Push.objects.exists()


def test_learner_details_are_pushed_in_push_mode_only(lq, learner, sa_http, sa_settings):
    domain.learner_update(learner=learner, data={"email": "first@learner.example"})
    assert not Push.objects.exists()

    sa_settings.learner_demographics_mode = DemographicsMode.PUSH
    sa_settings.save()
    domain.learner_update(learner=learner, data={"email": "new@learner.example", "phone": ""})
    sa_http.patch(f"{wire.API}/learners/{wire.LEARNER_ID}", json=wire.learner())
    _run_all()
    assert _sent_body(sa_http) == {"Email": "new@learner.example"}


def test_planned_hours_are_sent_at_enrolment():
    from smartassessor import mapping

    lq = LearnerQualificationFactory.build(off_the_job_hours_planned=Decimal("312.5"))
    payload = mapping.course_payload(
        mapping.CourseSource(
            learner_qualification=lq,
            course_id=7,
            primary_assessor_id=None,
            secondary_assessor_id=None,
        )
    )
    assert payload.off_the_job_hours_planned == 312.5


def test_an_enrolment_smart_assessor_no_longer_has_waits_for_support(lq, sa_http):
    domain.learner_qualification_update(
        learner_qualification=lq, data={"planned_end_date": START + dt.timedelta(days=600)}
    )
    sa_http.patch(COURSE_URL, status=404, json=wire.errors("not_found", "No such enrolment"))
    failed = pushes.push_run(push_id=Push.objects.get().pk)
    assert failed.state == Push.State.FAILED
    assert "Ask support to check the learner's link" in failed.last_error


def _failed_push(lq, sa_http):
    domain.learner_qualification_update(
        learner_qualification=lq,
        data={"status": QualificationStatus.COMPLETED, "actual_end_date": TODAY},
    )
    sa_http.patch(
        COURSE_URL,
        status=409,
        json=wire.errors("invalid_transition", "BreakInLearning cannot move to Completed"),
    )
    return pushes.push_run(push_id=Push.objects.get().pk)


def test_the_block_shows_a_refused_change_with_retry_and_retry_queues_it(
    lq, learner, sa_http, staff_client
):
    failed = _failed_push(lq, sa_http)
    page = staff_client.get(learner.get_absolute_url()).content.decode()
    assert "Changes sent to Smart Assessor" in page
    assert "BreakInLearning cannot move to Completed" in page
    retry_url = reverse("smartassessor:push_retry", args=[learner.ident, failed.pk])
    assert retry_url in page

    response = staff_client.post(retry_url)
    assert response.status_code == 302
    assert Push.objects.get(pk=failed.pk).state == Push.State.QUEUED


def test_the_api_lists_the_pushes_and_retries_a_failed_one(lq, learner, sa_http, staff_client):
    failed = _failed_push(lq, sa_http)
    listed = staff_client.get(f"/api/learners/{learner.ident}/pushes/").json()
    assert [(row["id"], row["state"], row["reference"]) for row in listed["results"]] == [
        (failed.pk, "failed", lq.qualification.reference)
    ]
    retried = staff_client.post(f"/api/learners/{learner.ident}/pushes/{failed.pk}/retry/")
    assert retried.status_code == 200 and retried.json()["state"] == "queued"
    again = staff_client.post(f"/api/learners/{learner.ident}/pushes/{failed.pk}/retry/")
    assert again.status_code == 400
    assert "Only a change that failed" in again.json()["detail"]


def test_a_change_saved_after_a_refused_one_says_it_waits_for_it(
    lq, learner, sa_http, staff_client
):
    _failed_push(lq, sa_http)
    domain.learner_qualification_update(
        learner_qualification=lq, data={"planned_end_date": START + dt.timedelta(days=650)}
    )
    later = Push.objects.order_by("pk").last()
    assert pushes.push_run(push_id=later.pk) is None  # not its turn
    page = staff_client.get(learner.get_absolute_url()).content.decode()
    assert "waits until the failed change below is sent" in page


def test_a_second_assessor_given_another_role_clears_it_in_smart_assessor(
    lq, learner, sa_http, sa_settings
):
    second, mentor = OfficerRoleFactory(name="Second assessor"), OfficerRoleFactory(name="Mentor")
    sa_settings.second_assessor_role = second
    sa_settings.save()
    officer = OfficerFactory()
    OfficerLink.objects.create(officer=officer, assessor_id=55)
    role = domain.learner_officer_role_create(
        learner=learner, data={"officer": officer, "role": second}
    )
    _patched(sa_http)
    _run_all()
    sa_http.calls.reset()

    domain.learner_officer_role_update(learner_officer_role=role, data={"role": mentor})
    _run_all()
    assert _sent_body(sa_http) == {"SecondaryAssessorSmartAssessorId": None}
