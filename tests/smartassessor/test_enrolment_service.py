"""The enrolment service against a mocked Smart Assessor: every branch of F9 and F10."""

import datetime as dt
import json

import pytest
from django.utils import timezone
from responses import matchers

from learners.models import LearnerOfficerRole
from smartassessor.models import (
    CourseEnrolment,
    Enrolment,
    OfficerLink,
    OrganisationLink,
    QualificationLink,
)
from smartassessor.selectors.enrolment_preview import enrolment_preview
from smartassessor.services import enrolment_requests as service
from smartassessor.services import operations
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    OfficerRoleFactory,
    PlacementFactory,
    QualificationFactory,
)

from .client import wire

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner(sa_settings):
    learner = LearnerFactory(ident="PW000900", lrn="LRN900", first_name="Amelia", surname="Jones")
    PlacementFactory(learner=learner, start_date=dt.date(2026, 1, 1))
    qualification = QualificationFactory(reference="ST0070", title="Business Administrator")
    QualificationLink.objects.create(qualification=qualification, course_id=7, course_title="BA")
    LearnerQualificationFactory(learner=learner, qualification=qualification)
    return learner


def _request(learner, staff_user) -> Enrolment:
    enrolment, created = service.enrolment_request(learner=learner, actor=staff_user)
    assert created
    return enrolment


def _body(call) -> dict:
    return json.loads(call.request.body)


def _calls(http, method, path):
    return [
        c
        for c in http.calls
        if c.request.method == method and c.request.url.split("?")[0] == wire.API + path
    ]


def _mock_happy_learner(http, **learner_overrides):
    http.post(wire.API + "/learners", status=201, json=wire.learner(**learner_overrides))
    http.post(
        wire.API + f"/learners/{wire.LEARNER_ID}/courses", status=201, json=wire.learner_course()
    )


def test_linked_employer_and_assessor_are_reused_without_calls(sa_http, learner, staff_user):
    OrganisationLink.objects.create(
        organisation=learner.placements.get().organisation, employer_id=12
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    _mock_happy_learner(sa_http)

    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    assert enrolment.state == Enrolment.State.ENROLLED
    assert enrolment.sa_learner_id == wire.LEARNER_ID
    assert not _calls(sa_http, "GET", "/employers") and not _calls(sa_http, "POST", "/employers")
    body = _body(_calls(sa_http, "POST", "/learners")[0])
    assert body["MISLearnerId"] == "PW000900"
    assert body["EmployerSmartAssessorId"] == 12
    assert body["AssessorSmartAssessorId"] == 31
    assert body["StudentId"] is None
    assert body["SendWelcomeEmail"] is False
    course_body = _body(_calls(sa_http, "POST", f"/learners/{wire.LEARNER_ID}/courses")[0])
    assert course_body["CourseSmartAssessorId"] == 7
    assert course_body["PrimaryAssessorSmartAssessorId"] == 31
    assert enrolment.courses.get().sa_learner_course_id == wire.LEARNER_COURSE_ID


def test_employer_and_assessor_found_by_mis_id_are_linked(sa_http, learner, staff_user):
    organisation = learner.placements.get().organisation
    sa_http.get(
        wire.API + "/employers",
        match=[
            matchers.query_param_matcher(
                {"MISEmployerId": str(organisation.pk), "Page": "1", "PageSize": "1"}
            )
        ],
        json=wire.page([wire.employer(SmartAssessorId=55)], page_size=1),
    )
    sa_http.get(
        wire.API + "/assessors", json=wire.page([wire.assessor(SmartAssessorId=66)], page_size=1)
    )
    _mock_happy_learner(sa_http)

    service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    assert OrganisationLink.objects.get(organisation=organisation).employer_id == 55
    assert OfficerLink.objects.get(officer=learner.main_officer).assessor_id == 66
    assert not _calls(sa_http, "POST", "/employers") and not _calls(sa_http, "POST", "/assessors")


def test_missing_employer_and_assessor_are_created_and_linked(sa_http, learner, staff_user):
    sa_http.get(wire.API + "/employers", json=wire.page([], page_size=1))
    sa_http.get(wire.API + "/assessors", json=wire.page([], page_size=1))
    sa_http.post(wire.API + "/employers", status=201, json=wire.employer(SmartAssessorId=77))
    sa_http.post(wire.API + "/assessors", status=201, json=wire.assessor(SmartAssessorId=88))
    _mock_happy_learner(sa_http)

    service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    organisation = learner.placements.get().organisation
    assert OrganisationLink.objects.get(organisation=organisation).employer_id == 77
    assert OfficerLink.objects.get(officer=learner.main_officer).assessor_id == 88
    employer_call = _calls(sa_http, "POST", "/employers")[0]
    assert _body(employer_call)["MISEmployerId"] == str(organisation.pk)
    assert employer_call.request.headers["Idempotency-Key"].startswith("enr")


def test_a_409_on_create_adopts_the_existing_record(sa_http, learner, staff_user):
    sa_http.get(wire.API + "/employers", json=wire.page([], page_size=1))
    sa_http.post(
        wire.API + "/employers",
        status=409,
        json=wire.errors("duplicate_mis_id", "exists", ExistingSmartAssessorId=91),
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    _mock_happy_learner(sa_http)

    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    assert enrolment.state == Enrolment.State.ENROLLED
    assert OrganisationLink.objects.get().employer_id == 91


def test_an_employer_linked_to_another_organisation_is_not_adopted(sa_http, learner, staff_user):
    other = PlacementFactory().organisation
    OrganisationLink.objects.create(organisation=other, employer_id=91)
    sa_http.get(
        wire.API + "/employers", json=wire.page([wire.employer(SmartAssessorId=91)], page_size=1)
    )

    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    assert enrolment.state == Enrolment.State.FAILED
    assert "already linked to" in enrolment.last_error
    assert not _calls(sa_http, "POST", "/learners")


def test_second_assessor_welcome_email_and_student_id(sa_http, learner, staff_user, sa_settings):
    role = OfficerRoleFactory(name="Second Assessor")
    second = OfficerFactory()
    LearnerOfficerRole.objects.create(learner=learner, officer=second, role=role)
    OfficerLink.objects.create(officer=second, assessor_id=44)
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    OrganisationLink.objects.create(
        organisation=learner.placements.get().organisation, employer_id=12
    )
    sa_settings.second_assessor_role = role
    sa_settings.send_welcome_email = True
    sa_settings.set_student_id_to_lrn = True
    sa_settings.save()
    _mock_happy_learner(sa_http)

    service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    body = _body(_calls(sa_http, "POST", "/learners")[0])
    assert body["SendWelcomeEmail"] is True
    assert body["StudentId"] == "LRN900"
    course_body = _body(_calls(sa_http, "POST", f"/learners/{wire.LEARNER_ID}/courses")[0])
    assert course_body["SecondaryAssessorSmartAssessorId"] == 44


def test_a_course_sa_no_longer_offers_leaves_the_enrolment_with_problems(
    sa_http, learner, staff_user
):
    OrganisationLink.objects.create(
        organisation=learner.placements.get().organisation, employer_id=12
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    sa_http.post(wire.API + "/learners", status=201, json=wire.learner())
    sa_http.post(
        wire.API + f"/learners/{wire.LEARNER_ID}/courses",
        status=400,
        json=wire.errors("validation", "The course is not active", field="CourseSmartAssessorId"),
    )

    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    assert enrolment.state == Enrolment.State.PROBLEMS
    course = enrolment.courses.get()
    assert course.state == CourseEnrolment.State.REFUSED
    assert course.error == "CourseSmartAssessorId: The course is not active"


def test_a_refused_learner_fails_with_each_field_message(sa_http, learner, staff_user):
    OrganisationLink.objects.create(
        organisation=learner.placements.get().organisation, employer_id=12
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    sa_http.post(
        wire.API + "/learners",
        status=400,
        json={
            "Errors": [
                {"Code": "validation", "Field": "Email", "Message": "Email is not valid"},
                {"Code": "validation", "Field": "ULN", "Message": "ULN check digit is wrong"},
            ]
        },
    )

    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    assert enrolment.state == Enrolment.State.FAILED
    assert enrolment.field_errors == {
        "Email": ["Email is not valid"],
        "ULN": ["ULN check digit is wrong"],
    }


def test_a_transient_failure_retries_and_then_finds_the_learner_it_created(
    sa_http, learner, staff_user
):
    OrganisationLink.objects.create(
        organisation=learner.placements.get().organisation, employer_id=12
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    sa_http.post(wire.API + "/learners", status=503, json=wire.errors("unavailable", "Down"))

    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)
    assert enrolment.state == Enrolment.State.RETRYING
    assert enrolment.attempts == 1
    assert enrolment.next_attempt_at > timezone.now()

    # The 503 came after SA created the learner: the next attempt looks it up first.
    Enrolment.objects.filter(pk=enrolment.pk).update(next_attempt_at=timezone.now())
    sa_http.get(
        wire.API + "/learners", json=wire.page([wire.learner(MISLearnerId="PW000900")], page_size=1)
    )
    sa_http.get(
        wire.API + f"/learners/{wire.LEARNER_ID}", json=wire.learner(DateOfBirth="2000-05-17")
    )
    sa_http.post(
        wire.API + f"/learners/{wire.LEARNER_ID}/courses", status=201, json=wire.learner_course()
    )

    enrolment = service.enrolment_run(enrolment_id=enrolment.pk)

    assert enrolment.state == Enrolment.State.ENROLLED
    assert enrolment.attempts == 2
    assert len(_calls(sa_http, "POST", "/learners")) == 1


def test_a_learner_with_our_mis_id_but_another_name_is_not_adopted(sa_http, learner, staff_user):
    OrganisationLink.objects.create(
        organisation=learner.placements.get().organisation, employer_id=12
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    sa_http.post(
        wire.API + "/learners",
        status=409,
        json=wire.errors("duplicate_mis_id", "exists", ExistingSmartAssessorId=wire.LEARNER_ID),
    )
    sa_http.get(wire.API + f"/learners/{wire.LEARNER_ID}", json=wire.learner(GivenNames="Someone"))

    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    assert enrolment.state == Enrolment.State.FAILED
    assert "Ask support to link it by hand" in enrolment.last_error
    assert enrolment.sa_learner_id == ""


def test_a_second_request_returns_the_current_enrolment(learner, staff_user, support_user):
    first, created = service.enrolment_request(learner=learner, actor=staff_user)
    second, created_again = service.enrolment_request(learner=learner, actor=support_user)
    assert created and not created_again
    assert first.pk == second.pk
    assert Enrolment.objects.count() == 1


def test_preview_blocks_a_learner_without_email_and_warns_without_placement(sa_settings):
    learner = LearnerFactory(email="", main_officer=None)
    preview = enrolment_preview(learner=learner)
    assert not preview.can_confirm
    messages = " ".join(p.message for p in preview.problems)
    assert "no email address" in messages
    assert "None of the learner's qualifications is available" in messages
    assert any("no current placement" in w for w in preview.warnings)
    assert any("no main officer" in w for w in preview.warnings)


def test_an_enrolment_left_by_a_killed_worker_is_swept_and_finished(sa_http, learner, staff_user):
    OrganisationLink.objects.create(
        organisation=learner.placements.get().organisation, employer_id=12
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    enrolment = _request(learner, staff_user)
    # A worker claimed it and died: the row says Enrolling, under a lease still running.
    Enrolment.objects.filter(pk=enrolment.pk).update(
        state=Enrolment.State.ENROLLING, attempts=1, lease_until=timezone.now() + dt.timedelta(1)
    )
    assert service.enrolment_run(enrolment_id=enrolment.pk) is None, "the lease protects it"
    assert enrolment.pk not in operations.due(service.ENROLMENT)

    Enrolment.objects.filter(pk=enrolment.pk).update(lease_until=timezone.now())
    assert enrolment.pk in operations.due(service.ENROLMENT)
    sa_http.get(wire.API + "/learners", json=wire.page([], page_size=1))
    _mock_happy_learner(sa_http)

    finished = service.enrolment_run(enrolment_id=enrolment.pk)

    assert finished.state == Enrolment.State.ENROLLED
    assert finished.attempts == 2
    assert len(_calls(sa_http, "POST", "/learners")) == 1


def test_a_409_on_create_that_names_no_record_fails_with_what_to_do(sa_http, learner, staff_user):
    sa_http.get(wire.API + "/employers", json=wire.page([], page_size=1))
    sa_http.post(
        wire.API + "/employers", status=409, json=wire.errors("duplicate_mis_id", "exists")
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)

    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    assert enrolment.state == Enrolment.State.FAILED
    organisation = learner.placements.get().organisation
    assert enrolment.last_error.startswith(
        f"Smart Assessor says the employer {organisation} already exists"
    )
    assert "link it by hand" in enrolment.last_error
    assert enrolment.attempts == 1
    assert not OrganisationLink.objects.exists()
    assert not _calls(sa_http, "POST", "/learners")


def test_a_409_on_learner_create_that_names_no_learner_fails_with_what_to_do(
    sa_http, learner, staff_user
):
    OrganisationLink.objects.create(
        organisation=learner.placements.get().organisation, employer_id=12
    )
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    sa_http.post(wire.API + "/learners", status=409, json=wire.errors("duplicate_mis_id", "dup"))

    enrolment = service.enrolment_run(enrolment_id=_request(learner, staff_user).pk)

    assert enrolment.state == Enrolment.State.FAILED
    assert enrolment.last_error.startswith(
        "Smart Assessor says the learner Amelia Jones already exists"
    )
    assert "Set or clear the Smart Assessor ID" in enrolment.last_error
    assert enrolment.sa_learner_id == ""
