"""§5 and §7 of the contract: what creating, replacing and patching do, and the 409s."""

import uuid

import pytest

from .helpers import (
    ASSESSOR_ID,
    EMPLOYER_ID,
    OTHER_ASSESSOR_ID,
    SPACED_COURSE_ID,
    assessor_body,
    employer_body,
    learner_body,
    problems,
)


def test_the_seed_offers_the_catalogue_with_its_quirks(api):
    courses = api.get("/courses", PageSize=500).json()["Items"]

    by_code = {course["QANCode"]: course for course in courses}
    assert len(courses) == 16
    assert by_code["ST 0384"]["QualificationTitle"] == "Team Leader or Supervisor"
    assert by_code["st0122"]["IsActive"] is True
    assert by_code["ST0228"]["IsActive"] is False
    assert by_code["ST0213"]["IsActive"] is False
    assert by_code["ST0420"]["QualificationTitle"] == "Lead Practitioner in Adult Care"
    assert "ST0125" not in by_code
    assert [course["SmartAssessorId"] for course in courses] == list(range(101, 117))


def test_the_seed_has_event_types_and_sa_only_employers_and_assessors(api):
    event_types = api.get("/event-types").json()["Items"]
    employers = api.get("/employers").json()["Items"]
    assessors = api.get("/assessors").json()["Items"]

    assert {item["Code"]: item["Name"] for item in event_types} == {
        "PR": "Progress Review",
        "IND": "Induction",
        "AV": "Assessment Visit",
        "GW": "Gateway Review",
        "EXIT": "Exit Review",
        "OTJ": "Off-the-job Check",
    }
    assert employers and all(item["MISEmployerId"].startswith("SA-ONLY-") for item in employers)
    assert assessors and all(item["MISAssessorId"].startswith("SA-ONLY-") for item in assessors)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/employers", employer_body()), ("/assessors", assessor_body())],
    ids=["employer", "assessor"],
)
def test_a_created_organisation_or_officer_can_be_read_back(api, path, body):
    created = api.created(path, body)

    assert isinstance(created["SmartAssessorId"], int)
    assert api.get(f"{path}/{created['SmartAssessorId']}").json() == created
    assert {name: created[name] for name in body} == body


def test_server_set_fields_are_ignored_on_write(api):
    body = employer_body(SmartAssessorId="not even a number", ModifiedAt="yesterday")

    created = api.created("/employers", body)

    assert isinstance(created["SmartAssessorId"], int)
    assert created["ModifiedAt"] != "yesterday"


def test_put_replaces_every_field_and_moves_modified_at(api):
    created = api.created(
        "/employers", employer_body(Telephone="01422 845210", Website="https://a.example")
    )
    replacement = employer_body(MISEmployerId=created["MISEmployerId"], Name="New name Ltd")

    replaced = api.put(f"/employers/{created['SmartAssessorId']}", replacement).json()

    assert replaced["Name"] == "New name Ltd"
    assert replaced["Telephone"] is None
    assert replaced["Website"] is None
    assert replaced["ModifiedAt"] > created["ModifiedAt"]
    assert api.get(f"/employers/{created['SmartAssessorId']}").json() == replaced


@pytest.mark.parametrize(
    ("path", "body"),
    [("/employers", employer_body()), ("/assessors", assessor_body())],
    ids=["employer", "assessor"],
)
def test_a_put_that_changes_nothing_keeps_modified_at(api, path, body):
    created = api.created(path, body)

    again = api.put(f"{path}/{created['SmartAssessorId']}", body | {"ModifiedAt": "ignored"})

    assert again.status_code == 200
    assert again.json() == created


def test_put_to_another_records_mis_id_is_a_conflict(api):
    first = api.created("/assessors", assessor_body())
    second = api.created("/assessors", assessor_body())

    response = api.put(
        f"/assessors/{second['SmartAssessorId']}",
        assessor_body(MISAssessorId=first["MISAssessorId"]),
    )

    assert response.status_code == 409
    assert response.json()["ExistingSmartAssessorId"] == first["SmartAssessorId"]


def test_put_to_a_missing_record_is_404(api):
    assert api.put("/employers/999999", employer_body()).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/employers", employer_body(), "MISEmployerId"),
        ("/assessors", assessor_body(), "MISAssessorId"),
        ("/learners", learner_body(), "MISLearnerId"),
    ],
    ids=["employer", "assessor", "learner"],
)
def test_a_second_record_with_the_same_mis_id_names_the_first(api, path, body, field):
    first = api.created(path, body)

    response = api.post(path, body)

    assert response.status_code == 409
    assert problems(response) == [("duplicate_mis_id", field)]
    existing = response.json()["ExistingSmartAssessorId"]
    assert existing == first["SmartAssessorId"]
    assert type(existing) is type(first["SmartAssessorId"])


def test_learner_ids_are_guids_and_employer_ids_integers_in_conflicts(api):
    learner = api.learner()
    conflict = api.post("/learners", learner_body(MISLearnerId=learner["MISLearnerId"]))
    employer_conflict = api.post("/employers", employer_body(MISEmployerId="SA-ONLY-EMP-001"))

    assert uuid.UUID(conflict.json()["ExistingSmartAssessorId"]).version == 4
    assert employer_conflict.json()["ExistingSmartAssessorId"] == EMPLOYER_ID


def test_a_learner_is_created_active_with_every_field_it_was_given(api):
    body = learner_body(
        Sex="Female",
        ULN="1234567899",
        NINumber="AB123456C",
        AddressPostCode="LS1 4AP",
        EmployerSmartAssessorId=EMPLOYER_ID,
        AssessorSmartAssessorId=ASSESSOR_ID,
        StudentId="LRN0001",
    )

    created = api.created("/learners", body)

    assert created["Status"] == "Active"
    assert {name: created[name] for name in body} == body
    assert created["AddressLine1"] is None
    assert api.get(f"/learners/{created['SmartAssessorId']}").json() == created


def test_patch_changes_only_the_fields_given(api):
    learner = api.learner(Mobile="07700 900123", Sex="Male")

    patched = api.patch(
        f"/learners/{learner['SmartAssessorId']}", {"GivenNames": "Amy", "Sex": None}
    ).json()

    assert patched["GivenNames"] == "Amy"
    assert patched["Sex"] is None
    assert patched["Mobile"] == "07700 900123"
    assert patched["ModifiedAt"] > learner["ModifiedAt"]


def test_a_patch_that_changes_nothing_keeps_modified_at(api):
    learner = api.learner()

    same = api.patch(
        f"/learners/{learner['SmartAssessorId']}",
        {"GivenNames": learner["GivenNames"], "Status": "Withdrawn"},
    )
    empty = api.patch(f"/learners/{learner['SmartAssessorId']}", {})

    assert same.json() == learner
    assert empty.json() == learner


def test_an_enrolment_takes_its_code_from_the_course_and_starts_awaiting_induction(api):
    learner = api.learner()["SmartAssessorId"]

    enrolment = api.enrol(
        learner,
        CourseSmartAssessorId=SPACED_COURSE_ID,
        SecondaryAssessorSmartAssessorId=OTHER_ASSESSOR_ID,
        Status="Completed",
        QANCode="FAKE",
        ProgressPercent=99,
        LearnerSmartAssessorId="someone-else",
    )

    assert enrolment["QANCode"] == "ST 0384"
    assert enrolment["Status"] == "AwaitingInduction"
    assert enrolment["LearnerSmartAssessorId"] == learner
    assert enrolment["SecondaryAssessorSmartAssessorId"] == OTHER_ASSESSOR_ID
    assert [enrolment[name] for name in ("ProgressPercent", "TimelinePercent")] == [0, 0]
    assert enrolment["ActualEndDate"] is None
    listed = api.get(f"/learners/{learner}/courses").json()
    assert listed["Items"] == [enrolment]


def test_an_enrolment_starts_off_a_break_with_no_off_the_job_hours_logged(api):
    learner = api.learner()["SmartAssessorId"]

    planned = api.enrol(
        learner, OffTheJobHoursPlanned=312.5, BreakStartDate="2025-10-01", OffTheJobHoursActual=40
    )
    unplanned = api.enrol(learner, CourseSmartAssessorId=SPACED_COURSE_ID)

    assert planned["BreakStartDate"] is None
    assert planned["OffTheJobHoursPlanned"] == 312.5
    assert planned["OffTheJobHoursActual"] == 0
    assert unplanned["OffTheJobHoursPlanned"] is None
    assert unplanned["OffTheJobHoursActual"] == 0
    listed = api.get(f"/learners/{learner}/courses").json()["Items"]
    assert {item["SmartAssessorId"]: item for item in listed} == {
        item["SmartAssessorId"]: item for item in (planned, unplanned)
    }


def test_enrolling_twice_on_a_course_names_the_first_enrolment(api):
    learner = api.learner()["SmartAssessorId"]
    first = api.enrol(learner)

    response = api.post(
        f"/learners/{learner}/courses",
        {
            "CourseSmartAssessorId": first["CourseSmartAssessorId"],
            "StartDate": "2026-01-05",
            "PlannedEndDate": "2027-01-05",
        },
    )

    assert response.status_code == 409
    assert problems(response) == [("already_enrolled", "CourseSmartAssessorId")]
    assert response.json()["ExistingSmartAssessorId"] == first["SmartAssessorId"]


def test_a_welcome_email_is_sent_only_when_asked(api, sandbox):
    api.learner(SendWelcomeEmail=False)
    api.learner()
    welcomed = api.learner(SendWelcomeEmail=True, GivenNames="Priya")

    outbox = sandbox.outbox()

    assert len(outbox) == 1
    email = outbox[0]
    assert email["To"] == welcomed["Email"]
    assert email["LearnerSmartAssessorId"] == welcomed["SmartAssessorId"]
    assert email["Subject"] == "Welcome to Smart Assessor"
    assert "Dear Priya" in email["Body"]
    assert sandbox.url in email["Body"]
    assert "SendWelcomeEmail" not in welcomed


def test_a_new_learner_has_no_sessions_and_no_smart_coach_score(api):
    learner = api.learner()["SmartAssessorId"]

    sessions = api.get(f"/learners/{learner}/sessions").json()
    score = api.get(f"/learners/{learner}/smart-coach")

    assert sessions == {"Items": [], "Page": 1, "PageSize": 100, "TotalCount": 0}
    assert score.status_code == 404
    assert problems(score) == [("not_found", None)]


def test_learner_paths_accept_the_guid_in_upper_case(api):
    learner = api.learner()

    response = api.get(f"/learners/{learner['SmartAssessorId'].upper()}")

    assert response.json() == learner
