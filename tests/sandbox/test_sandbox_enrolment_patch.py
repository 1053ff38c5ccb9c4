"""§7.5 of the contract: ``PATCH /learners/{id}/courses/{courseEnrolmentId}`` changes the
writable fields of an enrolment, refuses every other field, and keeps the create rules."""

import json
import uuid

import pytest

from .helpers import ASSESSOR_ID, OTHER_ASSESSOR_ID, SPACED_COURSE_ID, problems

THIRD_ASSESSOR_ID = 5003
SERVER_SET = [
    "SmartAssessorId",
    "LearnerSmartAssessorId",
    "CourseSmartAssessorId",
    "QANCode",
    "StartDate",
    "ProgressPercent",
    "AssessedPercent",
    "MappedPercent",
    "TimelinePercent",
    "ActualEndDate",
    "BreakStartDate",
    "OffTheJobHoursActual",
    "ModifiedAt",
]
# (field, a value that passes, a value that fails), for an enrolment from 2025-09-01 taught by
# ASSESSOR_ID with no secondary assessor.
RULES = [
    ("PlannedEndDate", "2025-09-02", "2025-09-01"),
    ("PlannedEndDate", "2027-03-31", "2025-08-31"),
    ("PlannedEndDate", "2027-03-31", "2027-02-29"),
    ("PlannedEndDate", "2027-03-31", None),
    ("PrimaryAssessorSmartAssessorId", OTHER_ASSESSOR_ID, 777),
    ("PrimaryAssessorSmartAssessorId", None, str(OTHER_ASSESSOR_ID)),
    ("SecondaryAssessorSmartAssessorId", OTHER_ASSESSOR_ID, ASSESSOR_ID),
    ("SecondaryAssessorSmartAssessorId", THIRD_ASSESSOR_ID, 778),
    ("OffTheJobHoursPlanned", 5000, 5000.1),
    ("OffTheJobHoursPlanned", 0, -1),
    ("OffTheJobHoursPlanned", 312.5, 1.25),
    ("OffTheJobHoursPlanned", None, True),
    ("OffTheJobHoursPlanned", 280, "280"),
]


@pytest.fixture
def learner(api):
    return api.learner()["SmartAssessorId"]


@pytest.fixture
def enrolment(api, learner):
    return api.enrol(learner, OffTheJobHoursPlanned=300)


def _path(enrolment):
    return f"/learners/{enrolment['LearnerSmartAssessorId']}/courses/{enrolment['SmartAssessorId']}"


def _stored(api, enrolment):
    items = api.get(f"/learners/{enrolment['LearnerSmartAssessorId']}/courses").json()["Items"]
    return next(item for item in items if item["SmartAssessorId"] == enrolment["SmartAssessorId"])


def test_a_patch_changes_only_the_fields_given_and_moves_modified_at(api, enrolment):
    response = api.patch(
        _path(enrolment),
        {"PlannedEndDate": "2027-03-31", "SecondaryAssessorSmartAssessorId": OTHER_ASSESSOR_ID},
    )

    patched = response.json()
    assert response.status_code == 200
    assert patched["PlannedEndDate"] == "2027-03-31"
    assert patched["SecondaryAssessorSmartAssessorId"] == OTHER_ASSESSOR_ID
    assert patched["ModifiedAt"] > enrolment["ModifiedAt"]
    unchanged = {"PlannedEndDate", "SecondaryAssessorSmartAssessorId", "ModifiedAt"}
    assert {k: v for k, v in patched.items() if k not in unchanged} == {
        k: v for k, v in enrolment.items() if k not in unchanged
    }
    assert _stored(api, enrolment) == patched


def test_planned_hours_can_be_set_and_cleared(api, enrolment):
    set_ = api.patch(_path(enrolment), {"OffTheJobHoursPlanned": 412.5}).json()
    cleared = api.patch(_path(enrolment), {"OffTheJobHoursPlanned": None}).json()

    assert set_["OffTheJobHoursPlanned"] == 412.5
    assert cleared["OffTheJobHoursPlanned"] is None
    assert cleared["ModifiedAt"] > set_["ModifiedAt"] > enrolment["ModifiedAt"]


def test_a_patched_enrolment_comes_back_in_the_feed(api, enrolment, learner):
    later = api.enrol(learner, CourseSmartAssessorId=SPACED_COURSE_ID)
    watermark = later["ModifiedAt"]
    assert api.feed("/learner-courses", since=watermark, after_id=later["SmartAssessorId"]) == []

    patched = api.patch(_path(enrolment), {"PrimaryAssessorSmartAssessorId": None}).json()

    fed = api.feed("/learner-courses", since=watermark, after_id=later["SmartAssessorId"])
    assert fed == [patched]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"PlannedEndDate": "2026-09-01", "PrimaryAssessorSmartAssessorId": ASSESSOR_ID},
        {"SecondaryAssessorSmartAssessorId": None, "OffTheJobHoursPlanned": 300.0},
    ],
    ids=["empty", "same-dates-and-assessor", "same-nulls-and-hours"],
)
def test_a_patch_that_changes_nothing_keeps_modified_at(api, enrolment, body):
    response = api.patch(_path(enrolment), body)

    assert response.status_code == 200
    assert response.json() == enrolment
    assert api.feed("/learner-courses", since=enrolment["ModifiedAt"]) == [enrolment]


@pytest.mark.parametrize("name", [*SERVER_SET, "MiddleName", "plannedEndDate"])
def test_any_other_field_is_refused_server_set_ones_included(api, enrolment, name):
    response = api.patch(_path(enrolment), {"PlannedEndDate": "2027-03-31", name: None})

    assert response.status_code == 400
    assert problems(response) == [("unknown_field", name)]
    assert _stored(api, enrolment) == enrolment


def test_every_unknown_field_is_named(api, enrolment):
    response = api.patch(_path(enrolment), {"QANCode": "ST0070", "ModifiedAt": "now", "Notes": 1})

    assert sorted(problems(response)) == [
        ("unknown_field", "ModifiedAt"),
        ("unknown_field", "Notes"),
        ("unknown_field", "QANCode"),
    ]


@pytest.mark.parametrize(("field", "good", "bad"), RULES, ids=lambda value: str(value)[:12])
def test_each_field_keeps_its_create_rules(api, enrolment, field, good, bad):
    refused = api.patch(_path(enrolment), {field: bad})

    assert refused.status_code == 400, refused.text
    assert problems(refused) == [("validation", field)]
    assert _stored(api, enrolment) == enrolment
    accepted = api.patch(_path(enrolment), {field: good})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()[field] == good


def test_every_problem_of_a_patch_is_reported_at_once_and_nothing_changes(api, enrolment):
    response = api.patch(
        _path(enrolment),
        {
            "PlannedEndDate": "2024-01-01",
            "PrimaryAssessorSmartAssessorId": 777,
            "OffTheJobHoursPlanned": 1.25,
        },
    )

    assert sorted(problems(response)) == [
        ("validation", "OffTheJobHoursPlanned"),
        ("validation", "PlannedEndDate"),
        ("validation", "PrimaryAssessorSmartAssessorId"),
    ]
    assert _stored(api, enrolment) == enrolment


class TestTwoAssessors:
    """The primary and secondary assessors must differ in the enrolment a patch makes."""

    @pytest.fixture
    def enrolment(self, api, learner):
        return api.enrol(learner, SecondaryAssessorSmartAssessorId=OTHER_ASSESSOR_ID)

    def test_a_new_primary_may_not_be_the_secondary(self, api, enrolment):
        response = api.patch(
            _path(enrolment), {"PrimaryAssessorSmartAssessorId": OTHER_ASSESSOR_ID}
        )

        assert problems(response) == [("validation", "PrimaryAssessorSmartAssessorId")]
        assert response.json()["Errors"][0]["Message"] == (
            "PrimaryAssessorSmartAssessorId must differ from the secondary assessor."
        )

    def test_a_new_secondary_may_not_be_the_primary(self, api, enrolment):
        response = api.patch(_path(enrolment), {"SecondaryAssessorSmartAssessorId": ASSESSOR_ID})

        assert problems(response) == [("validation", "SecondaryAssessorSmartAssessorId")]

    def test_they_may_swap_in_one_patch(self, api, enrolment):
        response = api.patch(
            _path(enrolment),
            {
                "PrimaryAssessorSmartAssessorId": OTHER_ASSESSOR_ID,
                "SecondaryAssessorSmartAssessorId": ASSESSOR_ID,
            },
        )

        assert response.status_code == 200
        assert response.json()["PrimaryAssessorSmartAssessorId"] == OTHER_ASSESSOR_ID
        assert response.json()["SecondaryAssessorSmartAssessorId"] == ASSESSOR_ID

    def test_the_secondary_may_become_primary_when_it_leaves_its_place(self, api, enrolment):
        response = api.patch(
            _path(enrolment),
            {
                "PrimaryAssessorSmartAssessorId": OTHER_ASSESSOR_ID,
                "SecondaryAssessorSmartAssessorId": None,
            },
        )

        assert response.status_code == 200

    def test_an_unknown_pair_gets_one_error_each_on_create_too(self, api, learner):
        body = {
            "PrimaryAssessorSmartAssessorId": 777,
            "SecondaryAssessorSmartAssessorId": 777,
        }
        created = api.post(
            f"/learners/{learner}/courses",
            {
                "CourseSmartAssessorId": SPACED_COURSE_ID,
                "StartDate": "2025-09-01",
                "PlannedEndDate": "2026-09-01",
                **body,
            },
        )
        enrolment = api.enrol(learner)
        patched = api.patch(_path(enrolment), body)

        for response in (created, patched):
            assert problems(response) == [
                ("validation", "PrimaryAssessorSmartAssessorId"),
                ("validation", "SecondaryAssessorSmartAssessorId"),
            ]


class TestNotFound:
    def test_an_enrolment_of_another_learner(self, api, enrolment):
        other = api.learner()["SmartAssessorId"]

        response = api.patch(
            f"/learners/{other}/courses/{enrolment['SmartAssessorId']}",
            {"PlannedEndDate": "2027-03-31"},
        )

        assert response.status_code == 404
        assert problems(response) == [("not_found", None)]
        assert _stored(api, enrolment) == enrolment

    @pytest.mark.parametrize(
        "enrolment_id", ["5e0c8a52-1f7e-4c0d-9b3a-2d6f8e9a1b47", "not-a-guid", "101"]
    )
    def test_an_unknown_enrolment(self, api, learner, enrolment_id):
        response = api.patch(f"/learners/{learner}/courses/{enrolment_id}", {})

        assert response.status_code == 404
        assert problems(response) == [("not_found", None)]

    def test_an_unknown_learner(self, api, enrolment):
        response = api.patch(f"/learners/{uuid.uuid4()}/courses/{enrolment['SmartAssessorId']}", {})

        assert response.status_code == 404

    def test_the_ids_may_be_in_upper_case(self, api, enrolment):
        path = _path(enrolment).upper().replace("/LEARNERS/", "/learners/")
        path = path.replace("/COURSES/", "/courses/")

        response = api.patch(path, {"OffTheJobHoursPlanned": 10})

        assert response.status_code == 200
        assert response.json()["OffTheJobHoursPlanned"] == 10


def test_a_read_only_key_may_not_patch(api, sandbox, enrolment):
    sandbox.faults(ReadOnly=True)

    response = api.patch(_path(enrolment), {"PlannedEndDate": "2027-03-31"})

    assert response.status_code == 403
    assert problems(response) == [("read_only", None)]
    sandbox.faults(ReadOnly=False)
    assert _stored(api, enrolment) == enrolment


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{"),
        ("application/json", b"[]"),
        ("application/json", b'{"PlannedEndDate": "2027-03-31", "PlannedEndDate": "2028-01-01"}'),
        ("text/plain", json.dumps({"PlannedEndDate": "2027-03-31"}).encode()),
    ],
    ids=["truncated", "array", "duplicate-key", "text-plain"],
)
def test_a_body_that_is_not_a_json_object_is_malformed(api, enrolment, content_type, body):
    response = api.request(
        "PATCH", _path(enrolment), data=body, headers={"Content-Type": content_type}
    )

    assert response.status_code == 400
    assert problems(response) == [("malformed_json", None)]


def test_query_parameters_are_unknown(api, enrolment):
    response = api.request("PATCH", _path(enrolment), params={"Page": 1}, json={})

    assert problems(response) == [("unknown_field", "Page")]


def test_the_enrolment_path_takes_only_patch(api, enrolment):
    response = api.get(_path(enrolment))

    assert response.status_code == 405
    assert response.headers["Allow"] == "PATCH"
    assert problems(response) == [("method_not_allowed", None)]


def test_a_bulk_seeded_enrolment_can_be_patched(api, sandbox):
    sandbox.seed(1, courses_per_learner=1, prefix="PATCH")
    enrolment = api.get("/learner-courses").json()["Items"][0]

    response = api.patch(_path(enrolment), {"OffTheJobHoursPlanned": 99.5})

    assert response.status_code == 200
    assert response.json()["OffTheJobHoursPlanned"] == 99.5
