"""Every endpoint of the contract: the request the client sends and the object it returns."""

import datetime as dt
import json

import pytest
from responses import matchers

from smartassessor.client import (
    UNSET,
    AssessorInput,
    EmployerInput,
    FeedPosition,
    LearnerChanges,
    LearnerCourseChanges,
    LearnerCourseInput,
    LearnerInput,
)
from smartassessor.client.types import parse_datetime

from . import wire
from .conftest import CLIENT_KEY, PASSWORD

UTC = dt.UTC


def sent_json(call):
    return json.loads(call.request.body)


def test_token_is_fetched_once_with_the_credentials_and_sent_as_bearer(http, make_client):
    http.post(
        wire.API + "/token",
        json=wire.token("abc"),
        match=[
            matchers.json_params_matcher(
                {"Username": "api@provider.example", "Password": PASSWORD, "ClientKey": CLIENT_KEY}
            )
        ],
    )
    http.get(
        wire.API + "/event-types",
        json={"Items": []},
        match=[matchers.header_matcher({"Authorization": "Bearer abc"})],
    )
    client = make_client()

    client.event_type_list()
    client.event_type_list()

    assert [c.request.url.rsplit("/", 1)[1] for c in http.calls] == [
        "token",
        "event-types",
        "event-types",
    ]


def test_courses_are_listed(http, api):
    http.get(
        wire.API + "/courses",
        json=wire.page([wire.course(), wire.course(SmartAssessorId=8, IsActive=False)]),
        match=[matchers.query_param_matcher({"Page": "1", "PageSize": "100"})],
    )

    courses = list(api.course_list())

    assert [(c.smart_assessor_id, c.qan_code, c.is_active) for c in courses] == [
        (7, "ST0070", True),
        (8, "ST0070", False),
    ]
    assert courses[0].qualification_title == "Business Administrator"


def test_employers_page_passes_search_and_mis_filter(http, api):
    http.get(
        wire.API + "/employers",
        json=wire.page([wire.employer()], page=2, page_size=20, total=21),
        match=[
            matchers.query_param_matcher(
                {"Page": "2", "PageSize": "20", "Search": "harbour", "MISEmployerId": "ORG-41"}
            )
        ],
    )

    page = api.employer_page(page=2, page_size=20, search="harbour", mis_employer_id="ORG-41")

    assert (page.page, page.page_size, page.total_count) == (2, 20, 21)
    employer = page.items[0]
    assert employer.smart_assessor_id == 12
    assert employer.mis_employer_id == "ORG-41"
    assert employer.address_post_code == "BS1 4AA"
    assert employer.address_line2 is None
    assert employer.modified_at == dt.datetime(2026, 11, 28, 9, 30, 0, 123456, tzinfo=UTC)


def test_employer_list_filters_by_mis_id(http, api):
    http.get(
        wire.API + "/employers",
        json=wire.page([wire.employer()]),
        match=[
            matchers.query_param_matcher(
                {"Page": "1", "PageSize": "100", "MISEmployerId": "ORG-41"}
            )
        ],
    )

    assert [e.name for e in api.employer_list(mis_employer_id="ORG-41")] == ["Harbour Cafe Ltd"]


def test_employer_get(http, api):
    http.get(wire.API + "/employers/12", json=wire.employer())

    assert api.employer_get(employer_id=12).name == "Harbour Cafe Ltd"


def test_employer_create_sends_trimmed_pascal_case_fields_and_the_idempotency_key(http, api):
    http.post(
        wire.API + "/employers",
        status=201,
        json=wire.employer(SmartAssessorId=13),
        match=[matchers.header_matcher({"Idempotency-Key": "enrolment-5-employer"})],
    )

    created = api.employer_create(
        employer=EmployerInput(
            mis_employer_id="ORG-41",
            name="  Harbour Cafe Ltd ",
            address_line1="1 Quay Street",
            address_line2="   ",
            address_post_code="BS1 4AA",
            employer_size="1-49",
        ),
        idempotency_key="enrolment-5-employer",
    )

    assert created.smart_assessor_id == 13
    call = http.calls[-1]
    assert call.request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent_json(call) == {
        "MISEmployerId": "ORG-41",
        "Name": "Harbour Cafe Ltd",
        "EdsId": None,
        "AddressLine1": "1 Quay Street",
        "AddressLine2": None,
        "AddressLine3": None,
        "AddressLine4": None,
        "AddressPostCode": "BS1 4AA",
        "Telephone": None,
        "Website": None,
        "EmployerSize": "1-49",
    }


def test_employer_update_puts_every_writable_field(http, api):
    http.put(wire.API + "/employers/12", json=wire.employer(Telephone=None))

    api.employer_update(
        employer_id=12,
        employer=EmployerInput(
            mis_employer_id="ORG-41", name="Harbour Cafe Ltd", address_post_code="BS1 4AA"
        ),
    )

    body = sent_json(http.calls[-1])
    assert body["Telephone"] is None
    assert "SmartAssessorId" not in body and "ModifiedAt" not in body
    assert "Idempotency-Key" not in http.calls[-1].request.headers


def test_assessors_page_list_get_create_update(http, api):
    http.get(
        wire.API + "/assessors",
        json=wire.page([wire.assessor()]),
        match=[matchers.query_param_matcher({"Page": "1", "PageSize": "10", "Search": "shah"})],
    )
    http.get(
        wire.API + "/assessors",
        json=wire.page([wire.assessor()]),
        match=[
            matchers.query_param_matcher({"Page": "1", "PageSize": "100", "MISAssessorId": "OFF-9"})
        ],
    )
    http.get(wire.API + "/assessors/31", json=wire.assessor())
    http.post(
        wire.API + "/assessors",
        status=201,
        json=wire.assessor(),
        match=[matchers.header_matcher({"Idempotency-Key": "k1"})],
    )
    http.put(wire.API + "/assessors/31", json=wire.assessor(Mobile=None))
    new = AssessorInput(
        mis_assessor_id="OFF-9",
        first_name="Priya",
        last_name="Shah",
        email="priya.shah@provider.example",
    )

    assert api.assessor_page(page_size=10, search="shah").items[0].last_name == "Shah"
    assert [a.smart_assessor_id for a in api.assessor_list(mis_assessor_id="OFF-9")] == [31]
    assert api.assessor_get(assessor_id=31).mobile == "07700 900123"
    assert api.assessor_create(assessor=new, idempotency_key="k1").smart_assessor_id == 31
    assert sent_json(http.calls[-1]) == {
        "MISAssessorId": "OFF-9",
        "FirstName": "Priya",
        "LastName": "Shah",
        "Email": "priya.shah@provider.example",
        "Telephone": None,
        "Mobile": None,
    }
    assert api.assessor_update(assessor_id=31, assessor=new).mobile is None
    assert http.calls[-1].request.method == "PUT"


def test_learner_page_and_list_filter_by_mis_learner_id(http, api):
    http.get(
        wire.API + "/learners",
        json=wire.page([wire.learner()]),
        match=[
            matchers.query_param_matcher({"Page": "3", "PageSize": "50", "MISLearnerId": "L000123"})
        ],
    )
    http.get(
        wire.API + "/learners",
        json=wire.page([wire.learner()]),
        match=[
            matchers.query_param_matcher(
                {"Page": "1", "PageSize": "100", "MISLearnerId": "L000123"}
            )
        ],
    )

    assert api.learner_page(page=3, page_size=50, mis_learner_id="L000123").items
    [learner] = api.learner_list(mis_learner_id="L000123")

    assert learner.smart_assessor_id == wire.LEARNER_ID
    assert learner.date_of_birth == dt.date(2004, 3, 15)
    assert learner.ni_number == "AB123456C"
    assert learner.uln == "1000000042"
    assert learner.employer_smart_assessor_id == 12
    assert learner.modified_at == dt.datetime(2026, 11, 28, 9, 30, 0, 1, tzinfo=UTC)


def test_learner_get_quotes_the_id_into_the_path(http, api):
    http.get(wire.API + f"/learners/{wire.LEARNER_ID}", json=wire.learner())

    assert api.learner_get(learner_id=wire.LEARNER_ID).family_name == "Jones"
    assert http.calls[-1].request.path_url == f"/api/v1/learners/{wire.LEARNER_ID}"


def test_learner_create_sends_dates_nulls_and_the_welcome_email_flag(http, api):
    http.post(wire.API + "/learners", status=201, json=wire.learner())

    learner = api.learner_create(
        learner=LearnerInput(
            mis_learner_id="L000123",
            given_names="Amelia",
            family_name="Jones",
            date_of_birth=dt.date(2004, 3, 15),
            email="amelia.jones@example.com ",
            uln="",
            start_date=dt.date(2026, 9, 1),
            employer_smart_assessor_id=12,
        ),
        send_welcome_email=True,
        idempotency_key="enrolment-5-learner",
    )

    assert learner.status == "Active"
    body = sent_json(http.calls[-1])
    assert body["DateOfBirth"] == "2004-03-15"
    assert body["StartDate"] == "2026-09-01"
    assert body["Email"] == "amelia.jones@example.com"
    assert body["ULN"] is None
    assert body["EmployerSmartAssessorId"] == 12
    assert body["AssessorSmartAssessorId"] is None
    assert body["SendWelcomeEmail"] is True
    assert not {"SmartAssessorId", "Status", "ModifiedAt"} & body.keys()
    assert http.calls[-1].request.headers["Idempotency-Key"] == "enrolment-5-learner"


def test_learner_update_patches_only_the_given_fields(http, api):
    http.patch(wire.API + f"/learners/{wire.LEARNER_ID}", json=wire.learner(Mobile=None))

    api.learner_update(
        learner_id=wire.LEARNER_ID,
        changes=LearnerChanges(family_name=" Jones-Smith ", mobile=None),
    )

    assert sent_json(http.calls[-1]) == {"FamilyName": "Jones-Smith", "Mobile": None}


def test_learner_changes_know_when_there_is_nothing_to_send():
    assert not LearnerChanges()
    assert LearnerChanges(telephone=None)
    assert LearnerChanges().email is UNSET


def test_learner_courses_list_and_create(http, api):
    path = f"/learners/{wire.LEARNER_ID}/courses"
    http.get(
        wire.API + path,
        json=wire.page([wire.learner_course()]),
        match=[matchers.query_param_matcher({"Page": "1", "PageSize": "100"})],
    )
    http.post(wire.API + path, status=201, json=wire.learner_course(Status="AwaitingInduction"))

    [course] = api.learner_course_list(learner_id=wire.LEARNER_ID)
    created = api.learner_course_create(
        learner_id=wire.LEARNER_ID,
        enrolment=LearnerCourseInput(
            course_smart_assessor_id=7,
            primary_assessor_smart_assessor_id=31,
            start_date=dt.date(2026, 9, 1),
            planned_end_date=dt.date(2027, 12, 31),
        ),
        idempotency_key="enrolment-5-course-7",
    )

    assert course.progress_percent == 12.5
    assert course.assessed_percent == 10.0 and isinstance(course.assessed_percent, float)
    assert course.actual_end_date is None
    assert course.planned_end_date == dt.date(2027, 12, 31)
    assert created.status == "AwaitingInduction"
    assert sent_json(http.calls[-1]) == {
        "CourseSmartAssessorId": 7,
        "PrimaryAssessorSmartAssessorId": 31,
        "SecondaryAssessorSmartAssessorId": None,
        "StartDate": "2026-09-01",
        "PlannedEndDate": "2027-12-31",
    }


def test_learner_sessions_and_event_types(http, api):
    http.get(
        wire.API + f"/learners/{wire.LEARNER_ID}/sessions",
        json=wire.page([wire.session(), wire.session(ActualStart=None, Attendance=None)]),
    )
    http.get(
        wire.API + "/event-types",
        json={"Items": [{"Code": "PR", "Name": "Progress Review"}]},
        match=[matchers.query_param_matcher({})],
    )

    attended, planned = api.learner_session_list(learner_id=wire.LEARNER_ID)
    [event_type] = api.event_type_list()

    assert attended.actual_start == dt.datetime(2026, 11, 20, 10, 5, tzinfo=UTC)
    assert attended.duration_minutes == 60
    assert planned.actual_start is None and planned.attendance is None
    assert (event_type.code, event_type.name) == ("PR", "Progress Review")


def test_smart_coach_one_learner(http, api):
    http.get(wire.API + f"/learners/{wire.LEARNER_ID}/smart-coach", json=wire.smart_coach())

    score = api.smart_coach_get(learner_id=wire.LEARNER_ID)

    assert (score.score, score.band) == (0.73, "High")


@pytest.mark.parametrize(
    ("method_name", "path", "item"),
    [
        ("learner_feed", "/learners", wire.learner),
        ("learner_course_feed", "/learner-courses", wire.learner_course),
        ("session_feed", "/sessions", wire.session),
        ("smart_coach_feed", "/smart-coach", wire.smart_coach),
    ],
)
def test_every_feed_reads_from_modified_since(http, api, method_name, path, item):
    http.get(
        wire.API + path,
        json=wire.page([item()]),
        match=[
            matchers.query_param_matcher(
                {"ModifiedSince": "2026-11-01T00:00:00.000000Z", "PageSize": "100"}
            )
        ],
    )

    feed = getattr(api, method_name)(since=dt.datetime(2026, 11, 1, tzinfo=UTC))

    assert len(list(feed)) == 1
    expected_id = item().get("SmartAssessorId", wire.LEARNER_ID)
    assert feed.position == FeedPosition(
        modified_at=parse_datetime(item()["ModifiedAt"]), smart_assessor_id=expected_id
    )


def test_unknown_response_fields_are_ignored(http, api):
    http.get(wire.API + "/assessors/31", json=wire.assessor(JobTitle="Assessor", Extra={"a": 1}))

    assert api.assessor_get(assessor_id=31).first_name == "Priya"


def test_connect_and_read_timeouts_are_passed_on_every_call(http, make_client, monkeypatch):
    http.post(wire.API + "/token", json=wire.token())
    http.get(wire.API + "/event-types", json={"Items": []})
    client = make_client(connect_timeout=2.5, read_timeout=12.0)
    seen = []
    original = client._session.request

    def spy(method, url, **kwargs):
        seen.append((method, kwargs["timeout"]))
        return original(method, url, **kwargs)

    monkeypatch.setattr(client._session, "request", spy)

    client.event_type_list()

    assert seen == [("POST", (2.5, 12.0)), ("GET", (2.5, 12.0))]


def test_the_session_pools_connections_for_the_configured_concurrency(make_client):
    client = make_client(pool_size=16)

    adapter = client._session.get_adapter(wire.API)

    assert adapter._pool_maxsize == 16
    assert adapter.max_retries.total == 0


def test_invalid_arguments_are_refused_before_sending(http, api):
    with pytest.raises(ValueError, match="PageSize"):
        api.course_list(page_size=501)
    with pytest.raises(ValueError, match="Idempotency-Key"):
        api.assessor_create(
            assessor=AssessorInput(
                mis_assessor_id="1", first_name="A", last_name="B", email="a@b.example"
            ),
            idempotency_key="has space",
        )
    assert len(http.calls) == 0


def test_secrets_stay_out_of_the_client_repr(api):
    assert PASSWORD not in repr(api) and CLIENT_KEY not in repr(api)


def test_an_enrolment_is_changed_with_only_the_fields_given(http, api):
    path = f"/learners/{wire.LEARNER_ID}/courses/{wire.LEARNER_COURSE_ID}"
    http.patch(
        wire.API + path,
        json=wire.learner_course(
            Status="BreakInLearning", BreakStartDate="2026-11-20", OffTheJobHoursActual=42.5
        ),
    )

    changed = api.learner_course_update(
        learner_id=wire.LEARNER_ID,
        enrolment_id=wire.LEARNER_COURSE_ID,
        changes=LearnerCourseChanges(status="BreakInLearning", status_date=dt.date(2026, 11, 20)),
    )

    assert sent_json(http.calls[-1]) == {"Status": "BreakInLearning", "StatusDate": "2026-11-20"}
    assert changed.break_start_date == dt.date(2026, 11, 20)
    assert changed.off_the_job_hours_actual == 42.5
    assert changed.off_the_job_hours_planned is None  # a field a server may leave out


def test_a_status_goes_with_the_date_it_took_effect():
    with pytest.raises(ValueError):
        LearnerCourseChanges(status="Withdrawn")
    with pytest.raises(ValueError):
        LearnerCourseChanges(status_date=dt.date(2026, 11, 20))
    assert not LearnerCourseChanges()
    assert LearnerCourseChanges(off_the_job_hours_planned=None)


def test_planned_hours_are_left_out_of_a_new_enrolment_unless_given(http, api):
    path = f"/learners/{wire.LEARNER_ID}/courses"
    http.post(wire.API + path, status=201, json=wire.learner_course())
    api.learner_course_create(
        learner_id=wire.LEARNER_ID,
        enrolment=LearnerCourseInput(
            course_smart_assessor_id=7,
            start_date=dt.date(2026, 9, 1),
            planned_end_date=dt.date(2027, 12, 31),
            off_the_job_hours_planned=280.5,
        ),
        idempotency_key="enrolment-6-course-7",
    )
    assert sent_json(http.calls[-1])["OffTheJobHoursPlanned"] == 280.5
