"""§7 and §8 of the contract: every rule, each with a value it takes and one it refuses."""

import pytest

from .helpers import (
    ASSESSOR_ID,
    COURSE_ID,
    EMPLOYER_ID,
    INACTIVE_COURSE_ID,
    OTHER_ASSESSOR_ID,
    VALID_ULN,
    assessor_body,
    birthday,
    employer_body,
    enrolment_body,
    learner_body,
    problems,
)

# (field, a value that passes, a value that fails)
EMPLOYER_RULES = [
    ("MISEmployerId", "E" * 32, "E" * 33),
    ("MISEmployerId", "ORG-1", " ORG-1"),
    ("Name", "N" * 100, "N" * 101),
    ("Name", "Calder Engineering", ""),
    ("Name", "Calder Engineering", "Calder Engineering "),
    ("Name", "Calder Engineering", 42),
    ("EdsId", "123456789", "1234567890"),
    ("EdsId", "104558231", "10455823A"),
    ("AddressLine1", "a" * 50, "a" * 51),
    ("AddressLine4", "a" * 50, "a" * 51),
    ("AddressPostCode", "SW1A 1AA", "SW1A1AA"),
    ("AddressPostCode", "GIR 0AA", "hx1 1aa"),
    ("AddressPostCode", "M1 1AE", "M1  1AE"),
    ("AddressPostCode", "EC1A 1BB", "ABC 1AA"),
    ("Telephone", "0" * 20, "0" * 21),
    ("Website", "https://" + "w" * 247, "https://" + "w" * 248),
    ("EmployerSize", "1-49", "x" * 21),
]
ASSESSOR_RULES = [
    ("MISAssessorId", "A" * 32, "A" * 33),
    ("FirstName", "F" * 50, "F" * 51),
    ("LastName", "L" * 50, "L" * 51),
    ("LastName", "O'Brien", "\tO'Brien"),
    ("Email", "sam@provider.example", "sam.provider.example"),
    ("Email", "sam@provider.example", "sam@provider"),
    ("Email", "sam@provider.example", "sam patel@provider.example"),
    ("Email", "sam@provider.example", "sam@@provider.example"),
    ("Email", "sam@provider.example", "@provider.example"),
    ("Email", "a" * 116 + "@example.com", "a" * 117 + "@example.com"),
    ("Telephone", "0" * 20, "0" * 21),
    ("Mobile", "07700 900123", "0" * 21),
]
LEARNER_RULES = [
    ("MISLearnerId", "L" * 32, "L" * 33),
    ("StudentId", "S" * 20, "S" * 21),
    ("GivenNames", "G" * 50, "G" * 51),
    ("FamilyName", "F" * 50, "F" * 51),
    ("DateOfBirth", "2001-05-17", "17/05/2001"),
    ("DateOfBirth", "2000-02-29", "2001-02-29"),
    ("DateOfBirth", "2001-05-17", "2001-5-17"),
    ("Sex", "NotKnown", "Unknown"),
    ("Sex", "Female", "female"),
    ("Sex", "Other", "O"),
    ("ULN", VALID_ULN, "1234567890"),  # wrong check digit
    ("ULN", VALID_ULN, "9876543210"),  # the check digit would have to be 10
    ("ULN", VALID_ULN, "123456789"),
    ("ULN", VALID_ULN, "0123456789"),
    ("ULN", VALID_ULN, "12345678AB"),
    ("ULN", VALID_ULN, 1234567899),
    ("NINumber", "AB123456C", "DA123456A"),
    ("NINumber", "CE123456D", "FA123456A"),
    ("NINumber", "AB123456C", "QQ123456C"),
    ("NINumber", "AB123456C", "AO123456A"),
    ("NINumber", "AB123456C", "AV123456A"),
    ("NINumber", "AB123456C", "BG123456A"),
    ("NINumber", "AB123456C", "GB123456A"),
    ("NINumber", "AB123456C", "KN123456A"),
    ("NINumber", "AB123456C", "NK123456A"),
    ("NINumber", "AB123456C", "NT123456A"),
    ("NINumber", "AB123456C", "TN123456A"),
    ("NINumber", "AB123456C", "ZZ123456A"),
    ("NINumber", "AB123456C", "AB123456E"),
    ("NINumber", "AB123456C", "ab123456c"),
    ("NINumber", "AB123456C", "AB 123456C"),
    ("Email", "amelia@learners.example", "amelia@learners"),
    ("Telephone", "0113 496 0000", "0" * 21),
    ("Mobile", "07700 900123", "0" * 21),
    ("AddressLine2", "a" * 50, "a" * 51),
    ("AddressPostCode", "S1 2AB", "s1 2ab"),
    ("StartDate", "2025-09-01", "2025-09-31"),
    ("EmployerSmartAssessorId", EMPLOYER_ID, 999_999),
    ("EmployerSmartAssessorId", EMPLOYER_ID, str(EMPLOYER_ID)),
    ("EmployerSmartAssessorId", None, 10.5),
    ("AssessorSmartAssessorId", ASSESSOR_ID, 424_242),
    ("AssessorSmartAssessorId", ASSESSOR_ID, True),
    ("SendWelcomeEmail", True, "yes"),
]
ENROLMENT_RULES = [
    ("CourseSmartAssessorId", COURSE_ID, 999),
    ("CourseSmartAssessorId", COURSE_ID, INACTIVE_COURSE_ID),
    ("CourseSmartAssessorId", COURSE_ID, str(COURSE_ID)),
    ("PrimaryAssessorSmartAssessorId", OTHER_ASSESSOR_ID, 777),
    ("PrimaryAssessorSmartAssessorId", None, "5001"),
    ("SecondaryAssessorSmartAssessorId", OTHER_ASSESSOR_ID, ASSESSOR_ID),
    ("SecondaryAssessorSmartAssessorId", None, 778),
    ("PlannedEndDate", "2025-09-02", "2025-09-01"),
    ("PlannedEndDate", "2027-09-01", "2025-08-31"),
    ("StartDate", "2025-09-01", "2025-09-01T00:00:00Z"),
    ("OffTheJobHoursPlanned", 5000, 5000.1),
    ("OffTheJobHoursPlanned", 0, -1),
    ("OffTheJobHoursPlanned", 4999.9, -0.1),
    ("OffTheJobHoursPlanned", 312.5, 1.25),
    ("OffTheJobHoursPlanned", None, True),
    ("OffTheJobHoursPlanned", 280, "280"),
]


def _case_id(rule: tuple) -> str:
    field, _, bad = rule
    return f"{field}-{str(bad)[:12]}"


def _assert_refused(response, field):
    assert response.status_code == 400, response.text
    assert problems(response) == [("validation", field)]


@pytest.mark.parametrize(
    ("field", "good", "bad"), EMPLOYER_RULES, ids=map(_case_id, EMPLOYER_RULES)
)
def test_employer_rules(api, field, good, bad):
    assert api.post("/employers", employer_body(**{field: good})).status_code == 201
    _assert_refused(api.post("/employers", employer_body(**{field: bad})), field)


@pytest.mark.parametrize(
    ("field", "good", "bad"), ASSESSOR_RULES, ids=map(_case_id, ASSESSOR_RULES)
)
def test_assessor_rules(api, field, good, bad):
    assert api.post("/assessors", assessor_body(**{field: good})).status_code == 201
    _assert_refused(api.post("/assessors", assessor_body(**{field: bad})), field)


@pytest.mark.parametrize(("field", "good", "bad"), LEARNER_RULES, ids=map(_case_id, LEARNER_RULES))
def test_learner_rules(api, field, good, bad):
    assert api.post("/learners", learner_body(**{field: good})).status_code == 201
    _assert_refused(api.post("/learners", learner_body(**{field: bad})), field)


@pytest.mark.parametrize(
    ("field", "good", "bad"), ENROLMENT_RULES, ids=map(_case_id, ENROLMENT_RULES)
)
def test_enrolment_rules(api, field, good, bad):
    learner = api.learner()["SmartAssessorId"]
    refused = api.post(f"/learners/{learner}/courses", enrolment_body(**{field: bad}))
    accepted = api.post(f"/learners/{learner}/courses", enrolment_body(**{field: good}))

    _assert_refused(refused, field)
    assert accepted.status_code == 201, accepted.text


def test_an_inactive_course_is_refused_with_a_message_naming_it(api):
    learner = api.learner()["SmartAssessorId"]

    response = api.post(
        f"/learners/{learner}/courses", enrolment_body(CourseSmartAssessorId=INACTIVE_COURSE_ID)
    )

    assert response.json()["Errors"][0]["Message"] == (
        "Course ST0228 Commis Chef is inactive and cannot be enrolled on."
    )


@pytest.mark.parametrize(
    ("born", "accepted"),
    [
        (birthday(14), True),
        (birthday(14, shift_days=1), False),
        (birthday(101, shift_days=1), True),
        (birthday(101), False),
        (birthday(40), True),
    ],
    ids=["14-today", "14-tomorrow", "100-until-tomorrow", "101-today", "40"],
)
def test_a_learner_is_14_to_100_years_old_on_the_day_of_the_request(api, born, accepted):
    response = api.post("/learners", learner_body(DateOfBirth=born))

    if accepted:
        assert response.status_code == 201, response.text
    else:
        _assert_refused(response, "DateOfBirth")


def test_the_age_rule_uses_the_simulated_day(api, sandbox):
    thirteen = birthday(14, shift_days=10)
    assert api.post("/learners", learner_body(DateOfBirth=thirteen)).status_code == 400

    sandbox.advance(10)

    assert api.post("/learners", learner_body(DateOfBirth=thirteen)).status_code == 201


@pytest.mark.parametrize(
    ("path", "body", "required"),
    [
        ("/employers", employer_body(), ["MISEmployerId", "Name", "AddressPostCode"]),
        ("/assessors", assessor_body(), ["MISAssessorId", "FirstName", "LastName", "Email"]),
        (
            "/learners",
            learner_body(),
            ["MISLearnerId", "GivenNames", "FamilyName", "DateOfBirth", "Email", "StartDate"],
        ),
        (
            "/learners/{learner}/courses",
            enrolment_body(),
            ["CourseSmartAssessorId", "StartDate", "PlannedEndDate"],
        ),
    ],
    ids=["employer", "assessor", "learner", "enrolment"],
)
def test_required_fields_may_be_neither_missing_nor_null(api, path, body, required):
    path = path.format(learner=api.learner()["SmartAssessorId"])
    missing = {name: value for name, value in body.items() if name not in required}
    nulls = body | dict.fromkeys(required)

    for attempt in (missing, nulls):
        response = api.post(path, attempt)
        assert response.status_code == 400
        assert problems(response) == [("validation", name) for name in required]


def test_optional_fields_may_be_null(api):
    response = api.post(
        "/learners", learner_body(ULN=None, NINumber=None, Sex=None, EmployerSmartAssessorId=None)
    )

    assert response.status_code == 201
    assert response.json()["ULN"] is None


def test_every_problem_of_a_body_is_reported_at_once(api):
    response = api.post(
        "/learners",
        learner_body(GivenNames=" Amelia", ULN="1234567890", Email="nope", Sex="F"),
    )

    assert problems(response) == [
        ("validation", "GivenNames"),
        ("validation", "Sex"),
        ("validation", "ULN"),
        ("validation", "Email"),
    ]


def test_a_validation_message_says_what_is_wrong(api):
    response = api.post("/learners", learner_body(GivenNames="G" * 51))

    assert response.json()["Errors"][0]["Message"] == (
        "GivenNames must be at most 50 characters (it has 51)."
    )


class TestLearnerPatch:
    @pytest.fixture
    def learner(self, api):
        return api.learner()

    def test_mis_learner_id_cannot_be_sent(self, api, learner):
        response = api.patch(
            f"/learners/{learner['SmartAssessorId']}", {"MISLearnerId": learner["MISLearnerId"]}
        )

        _assert_refused(response, "MISLearnerId")

    def test_its_values_follow_the_same_rules(self, api, learner):
        response = api.patch(
            f"/learners/{learner['SmartAssessorId']}",
            {"ULN": "1234567890", "AssessorSmartAssessorId": 9, "DateOfBirth": birthday(5)},
        )

        assert problems(response) == [
            ("validation", "ULN"),
            ("validation", "DateOfBirth"),
            ("validation", "AssessorSmartAssessorId"),
        ]

    def test_a_required_field_cannot_be_cleared(self, api, learner):
        response = api.patch(f"/learners/{learner['SmartAssessorId']}", {"Email": None})

        _assert_refused(response, "Email")

    def test_send_welcome_email_is_only_for_create(self, api, learner):
        response = api.patch(f"/learners/{learner['SmartAssessorId']}", {"SendWelcomeEmail": True})

        assert problems(response) == [("unknown_field", "SendWelcomeEmail")]
