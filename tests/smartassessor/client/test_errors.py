"""Every error path: typed exceptions, their details and the client's retry behaviour."""

import datetime as dt

import pytest
import requests
from responses import matchers

from smartassessor.client import (
    AssessorInput,
    AuthenticationFailed,
    Conflict,
    EmployerInput,
    Forbidden,
    IdempotencyKeyReused,
    InvalidTransition,
    LearnerChanges,
    LearnerCourseChanges,
    LearnerCourseInput,
    LearnerInput,
    MemoryTokenStore,
    NotFound,
    ProtocolError,
    RateLimited,
    RetryPolicy,
    SmartAssessorError,
    Transient,
    ValidationFailed,
)
from smartassessor.client.client import _full_jitter

from . import wire
from .conftest import CLIENT_KEY, PASSWORD

NEW_ASSESSOR = AssessorInput(
    mis_assessor_id="OFF-9", first_name="Priya", last_name="Shah", email="p@provider.example"
)


def new_learner():
    return LearnerInput(
        mis_learner_id="L000123",
        given_names="Amelia",
        family_name="Jones",
        date_of_birth=dt.date(2004, 3, 15),
        email="amelia.jones@example.com",
        start_date=dt.date(2026, 9, 1),
    )


def routes(http):
    return [f"{c.request.method} {c.request.path_url.split('?')[0]}" for c in http.calls]


# --- 400 / 403 / 404 / 405 / 409 / 422 ------------------------------------------------------


def test_validation_errors_carry_each_message_by_field(http, api):
    http.post(
        wire.API + "/learners",
        status=400,
        json={
            "Errors": [
                {"Code": "validation", "Field": "ULN", "Message": "ULN must be 10 digits"},
                {"Code": "validation", "Field": "Email", "Message": "Email is not valid"},
                {"Code": "validation", "Field": "ULN", "Message": "ULN check digit is wrong"},
                {"Code": "validation", "Field": None, "Message": "Learner is too young"},
            ]
        },
    )

    with pytest.raises(ValidationFailed) as caught:
        api.learner_create(learner=new_learner(), idempotency_key="k")

    error = caught.value
    assert error.status == 400
    assert error.field_messages == {
        "ULN": ["ULN must be 10 digits", "ULN check digit is wrong"],
        "Email": ["Email is not valid"],
        None: ["Learner is too young"],
    }
    assert error.errors[0] == ("validation", "ULN", "ULN must be 10 digits")
    assert "ULN: ULN must be 10 digits" in str(error)
    assert "POST /learners" in str(error)
    assert routes(http).count("POST /api/v1/learners") == 1


@pytest.mark.parametrize("code", ["unknown_field", "malformed_json"])
def test_other_bad_requests_are_validation_failures_too(http, api, code):
    http.get(wire.API + "/courses", status=400, json=wire.errors(code, "Unknown field Foo", "Foo"))

    with pytest.raises(ValidationFailed) as caught:
        list(api.course_list())

    assert caught.value.code == code
    assert routes(http).count("GET /api/v1/courses") == 1


def test_read_only_key_is_forbidden_and_says_so(http, api):
    http.put(
        wire.API + "/assessors/31",
        status=403,
        json=wire.errors("read_only", "This client key is read-only"),
    )

    with pytest.raises(Forbidden) as caught:
        api.assessor_update(assessor_id=31, assessor=NEW_ASSESSOR)

    assert caught.value.read_only
    assert "This client key is read-only" in str(caught.value)


def test_unlicensed_smart_coach_is_forbidden_but_not_read_only(http, api):
    http.get(wire.API + "/smart-coach", status=403, json=wire.errors("forbidden", "No licence"))

    with pytest.raises(Forbidden) as caught:
        list(api.smart_coach_feed())

    assert not caught.value.read_only


def test_not_found_is_not_retried(http, api):
    http.get(wire.API + "/employers/99", status=404, json=wire.errors("not_found", "No employer"))

    with pytest.raises(NotFound):
        api.employer_get(employer_id=99)

    assert routes(http) == ["POST /api/v1/token", "GET /api/v1/employers/99"]


def test_method_not_allowed_is_a_protocol_error(http, api):
    http.get(
        wire.API + "/event-types", status=405, json=wire.errors("method_not_allowed", "No GET")
    )

    with pytest.raises(ProtocolError) as caught:
        api.event_type_list()

    assert str(caught.value) == (
        "Unexpected answer from Smart Assessor (GET /event-types answered 405): No GET"
    )


@pytest.mark.parametrize(
    ("call", "path", "existing_id"),
    [
        (
            lambda api: api.employer_create(
                employer=EmployerInput(mis_employer_id="O", name="N", address_post_code="S1 2AB"),
                idempotency_key="k",
            ),
            "/employers",
            12,
        ),
        (
            lambda api: api.assessor_create(assessor=NEW_ASSESSOR, idempotency_key="k"),
            "/assessors",
            31,
        ),
        (
            lambda api: api.learner_create(learner=new_learner(), idempotency_key="k"),
            "/learners",
            wire.LEARNER_ID,
        ),
    ],
)
def test_duplicate_mis_id_names_the_existing_object_with_its_id_type(
    http, api, call, path, existing_id
):
    http.post(
        wire.API + path,
        status=409,
        json=wire.errors(
            "duplicate_mis_id", "MIS id already used", "MISId", ExistingSmartAssessorId=existing_id
        ),
    )

    with pytest.raises(Conflict) as caught:
        call(api)

    assert caught.value.existing_id == existing_id
    assert type(caught.value.existing_id) is type(existing_id)
    assert caught.value.code == "duplicate_mis_id"


def test_already_enrolled_names_the_existing_learner_course(http, api):
    http.post(
        wire.API + f"/learners/{wire.LEARNER_ID}/courses",
        status=409,
        json=wire.errors(
            "already_enrolled",
            "Already on this course",
            "CourseSmartAssessorId",
            ExistingSmartAssessorId=wire.LEARNER_COURSE_ID,
        ),
    )

    with pytest.raises(Conflict) as caught:
        api.learner_course_create(
            learner_id=wire.LEARNER_ID,
            enrolment=LearnerCourseInput(
                course_smart_assessor_id=7,
                start_date=dt.date(2026, 9, 1),
                planned_end_date=dt.date(2027, 9, 1),
            ),
            idempotency_key="k",
        )

    assert caught.value.code == "already_enrolled"
    assert caught.value.existing_id == wire.LEARNER_COURSE_ID


def test_a_conflict_id_of_the_wrong_type_is_a_protocol_error(http, api):
    http.post(
        wire.API + "/assessors",
        status=409,
        json=wire.errors("duplicate_mis_id", "dup", ExistingSmartAssessorId="31"),
    )

    with pytest.raises(ProtocolError, match="ExistingSmartAssessorId of type int"):
        api.assessor_create(assessor=NEW_ASSESSOR, idempotency_key="k")


def test_idempotency_key_reused_is_its_own_error(http, api):
    http.post(
        wire.API + "/assessors",
        status=422,
        json=wire.errors("idempotency_key_reused", "Key used for another request"),
    )

    with pytest.raises(IdempotencyKeyReused):
        api.assessor_create(assessor=NEW_ASSESSOR, idempotency_key="k")

    assert routes(http).count("POST /api/v1/assessors") == 1


# --- Authentication -------------------------------------------------------------------------


def test_invalid_credentials_are_never_retried(http, make_client):
    http.post(
        wire.API + "/token",
        status=401,
        json=wire.errors("invalid_credentials", "Username, password or client key is wrong"),
    )
    client = make_client()

    with pytest.raises(AuthenticationFailed) as caught:
        client.event_type_list()

    assert routes(http) == ["POST /api/v1/token"]
    message = str(caught.value)
    assert "Username, password or client key is wrong" in message
    assert PASSWORD not in message and CLIENT_KEY not in message


@pytest.mark.parametrize("code", ["token_expired", "unauthorized"])
def test_a_refused_token_is_renewed_once_and_the_request_repeated(http, make_client, code):
    http.post(wire.API + "/token", json=wire.token("old"))
    http.post(wire.API + "/token", json=wire.token("new"))
    http.get(
        wire.API + "/assessors/31",
        status=401,
        json=wire.errors(code, "Token is no good"),
        match=[matchers.header_matcher({"Authorization": "Bearer old"})],
    )
    http.get(
        wire.API + "/assessors/31",
        json=wire.assessor(),
        match=[matchers.header_matcher({"Authorization": "Bearer new"})],
    )
    client = make_client()

    assert client.assessor_get(assessor_id=31).smart_assessor_id == 31
    assert routes(http) == [
        "POST /api/v1/token",
        "GET /api/v1/assessors/31",
        "POST /api/v1/token",
        "GET /api/v1/assessors/31",
    ]


def test_a_post_is_repeated_after_renewing_its_token(http, make_client):
    http.post(wire.API + "/token", json=wire.token("old"))
    http.post(wire.API + "/token", json=wire.token("new"))
    http.post(
        wire.API + "/assessors",
        status=401,
        json=wire.errors("token_expired", "Expired"),
        match=[matchers.header_matcher({"Authorization": "Bearer old"})],
    )
    http.post(
        wire.API + "/assessors",
        status=201,
        json=wire.assessor(),
        match=[matchers.header_matcher({"Authorization": "Bearer new", "Idempotency-Key": "k"})],
    )

    make_client().assessor_create(assessor=NEW_ASSESSOR, idempotency_key="k")

    assert routes(http).count("POST /api/v1/assessors") == 2


def test_a_second_refusal_after_renewal_is_an_authentication_failure(http, make_client):
    http.post(wire.API + "/token", json=wire.token("old"))
    http.post(wire.API + "/token", json=wire.token("new"))
    http.get(wire.API + "/courses", status=401, json=wire.errors("unauthorized", "Unknown token"))

    with pytest.raises(AuthenticationFailed, match="newly issued access token was refused"):
        list(make_client().course_list())

    assert routes(http).count("POST /api/v1/token") == 2
    assert routes(http).count("GET /api/v1/courses") == 2


def test_a_token_is_reused_until_shortly_before_it_expires(http, make_client, clock):
    http.post(wire.API + "/token", json=wire.token("first", expires_in=3600))
    http.post(wire.API + "/token", json=wire.token("second", expires_in=3600))
    http.get(wire.API + "/event-types", json={"Items": []})
    client = make_client()

    client.event_type_list()
    clock.now += 3600 - 61
    client.event_type_list()
    clock.now += 2  # now within the last minute of the token's life
    client.event_type_list()

    tokens = [c.request.headers["Authorization"] for c in http.calls if "event" in c.request.url]
    assert tokens == ["Bearer first", "Bearer first", "Bearer second"]


def test_a_short_lived_token_is_renewed_in_the_last_tenth_of_its_life(http, make_client, clock):
    http.post(wire.API + "/token", json=wire.token("first", expires_in=10))
    http.post(wire.API + "/token", json=wire.token("second", expires_in=10))
    http.get(wire.API + "/event-types", json={"Items": []})
    client = make_client()

    client.event_type_list()
    clock.now += 8.9
    client.event_type_list()
    clock.now += 0.2
    client.event_type_list()

    assert routes(http).count("POST /api/v1/token") == 2


def test_clients_sharing_a_token_store_share_the_token(http, make_client):
    http.post(wire.API + "/token", json=wire.token())
    http.get(wire.API + "/event-types", json={"Items": []})
    store = MemoryTokenStore()

    make_client(token_store=store).event_type_list()
    make_client(token_store=store).event_type_list()

    assert routes(http).count("POST /api/v1/token") == 1


# --- Transient failures and backoff ---------------------------------------------------------


def test_get_is_retried_on_5xx_with_exponential_backoff(http, api, sleeps):
    http.get(wire.API + "/courses", status=503, json=wire.errors("unavailable", "Down"))
    http.get(wire.API + "/courses", status=502, body="<html>Bad gateway</html>")
    http.get(wire.API + "/courses", json=wire.page([wire.course()]))

    assert len(list(api.course_list())) == 1
    assert sleeps == [0.5, 1.0]


def test_backoff_is_bounded_and_gives_up_after_max_attempts(http, make_client, sleeps):
    http.post(wire.API + "/token", json=wire.token())
    http.get(wire.API + "/courses", status=500, json=wire.errors("server_error", "Oops"))
    client = make_client(retry=RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0))

    with pytest.raises(Transient) as caught:
        list(client.course_list())

    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert routes(http).count("GET /api/v1/courses") == 6
    assert caught.value.status == 500
    assert caught.value.ambiguous


def test_backoff_uses_full_jitter_below_the_ceiling(http, make_client, sleeps):
    http.post(wire.API + "/token", json=wire.token())
    http.get(wire.API + "/courses", status=503, json=wire.errors("unavailable", "Down"))
    ceilings = []

    def jitter(ceiling):
        ceilings.append(ceiling)
        return ceiling * 0.25

    with pytest.raises(Transient):
        list(make_client(jitter=jitter).course_list())

    assert ceilings == [0.5, 1.0, 2.0]
    assert sleeps == [0.125, 0.25, 0.5]


def test_default_jitter_stays_within_the_ceiling(http, make_client, sleeps):
    http.post(wire.API + "/token", json=wire.token())
    http.get(wire.API + "/courses", status=503, json=wire.errors("unavailable", "Down"))
    with pytest.raises(Transient):
        list(make_client(jitter=_full_jitter).course_list())

    assert len(sleeps) == 3
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(sleeps, [0.5, 1, 2], strict=True))


def test_put_is_retried(http, api):
    http.put(wire.API + "/assessors/31", status=504, json=wire.errors("unavailable", "Timeout"))
    http.put(wire.API + "/assessors/31", json=wire.assessor())

    api.assessor_update(assessor_id=31, assessor=NEW_ASSESSOR)

    assert routes(http).count("PUT /api/v1/assessors/31") == 2


def test_patch_is_retried(http, api):
    path = f"/learners/{wire.LEARNER_ID}"
    http.patch(wire.API + path, status=502, json=wire.errors("unavailable", "Bad gateway"))
    http.patch(wire.API + path, json=wire.learner())

    api.learner_update(learner_id=wire.LEARNER_ID, changes=LearnerChanges(mobile="07700 900000"))

    assert routes(http).count(f"PATCH /api/v1{path}") == 2


def test_post_is_not_retried_on_5xx_and_is_ambiguous(http, api, sleeps):
    http.post(wire.API + "/assessors", status=503, json=wire.errors("unavailable", "Down"))

    with pytest.raises(Transient) as caught:
        api.assessor_create(assessor=NEW_ASSESSOR, idempotency_key="k")

    assert caught.value.ambiguous
    assert routes(http).count("POST /api/v1/assessors") == 1
    assert sleeps == []


def test_post_read_timeout_is_ambiguous_and_not_retried(http, api):
    http.post(wire.API + "/assessors", body=requests.ReadTimeout("read timed out"))

    with pytest.raises(Transient) as caught:
        api.assessor_create(assessor=NEW_ASSESSOR, idempotency_key="k")

    assert caught.value.ambiguous
    assert caught.value.status is None
    assert "no answer within 30.0 s" in str(caught.value)
    assert routes(http).count("POST /api/v1/assessors") == 1


def test_post_that_never_connected_is_not_ambiguous(http, api):
    http.post(wire.API + "/assessors", body=requests.ConnectTimeout("connect timed out"))

    with pytest.raises(Transient) as caught:
        api.assessor_create(assessor=NEW_ASSESSOR, idempotency_key="k")

    assert not caught.value.ambiguous


def test_get_is_retried_after_a_timeout(http, api):
    http.get(wire.API + "/courses", body=requests.ReadTimeout("read timed out"))
    http.get(wire.API + "/courses", json=wire.page([wire.course()]))

    assert len(list(api.course_list())) == 1


def test_connection_refused_is_transient_and_not_ambiguous(make_client, sleeps):
    # Nothing listens on port 9 of the loopback interface.
    client = make_client(base_url="http://127.0.0.1:9", retry=RetryPolicy(max_attempts=2))

    with pytest.raises(Transient) as caught:
        client.event_type_list()

    assert not caught.value.ambiguous
    assert "connection to http://127.0.0.1:9 failed" in str(caught.value)
    assert sleeps == [0.5]


# --- 429 ------------------------------------------------------------------------------------


def test_rate_limited_waits_retry_after_then_retries_even_a_post(http, api, sleeps):
    http.post(
        wire.API + "/assessors",
        status=429,
        json=wire.errors("rate_limited", "Slow down"),
        headers={"Retry-After": "3"},
    )
    http.post(wire.API + "/assessors", status=201, json=wire.assessor())

    api.assessor_create(assessor=NEW_ASSESSOR, idempotency_key="k")

    assert sleeps == [3.0]
    assert routes(http).count("POST /api/v1/assessors") == 2


def test_rate_limited_beyond_the_bound_is_raised_with_retry_after(http, make_client, sleeps):
    http.post(wire.API + "/token", json=wire.token())
    http.get(
        wire.API + "/courses",
        status=429,
        json=wire.errors("rate_limited", "Slow down"),
        headers={"Retry-After": "120"},
    )
    client = make_client(retry=RetryPolicy(max_retry_after=30))

    with pytest.raises(RateLimited) as caught:
        list(client.course_list())

    assert caught.value.retry_after == 120
    assert sleeps == []


def test_rate_limited_gives_up_after_max_attempts(http, api, sleeps):
    http.get(
        wire.API + "/courses",
        status=429,
        json=wire.errors("rate_limited", "Slow down"),
        headers={"Retry-After": "1"},
    )

    with pytest.raises(RateLimited):
        list(api.course_list())

    assert sleeps == [1.0, 1.0, 1.0]


def test_the_token_request_waits_out_a_429_too(http, make_client, sleeps):
    http.post(
        wire.API + "/token",
        status=429,
        json=wire.errors("rate_limited", "Slow down"),
        headers={"Retry-After": "2"},
    )
    http.post(wire.API + "/token", json=wire.token())
    http.get(wire.API + "/event-types", json={"Items": []})

    make_client().event_type_list()

    assert sleeps == [2.0]


# --- Answers that break the contract --------------------------------------------------------


def test_a_2xx_body_that_is_not_json_is_a_clear_protocol_error(http, api, sleeps):
    http.get(wire.API + "/courses", body="<html>Maintenance</html>", status=200)

    with pytest.raises(ProtocolError) as caught:
        list(api.course_list())

    assert "the answer is not JSON" in str(caught.value)
    assert "Maintenance" in str(caught.value)
    assert not isinstance(caught.value, Transient)
    assert sleeps == []


def test_a_2xx_body_of_the_wrong_shape_names_the_field(http, api):
    http.get(
        wire.API + "/learners",
        json=wire.page([wire.learner(), wire.learner(ModifiedAt="28/11/2026")]),
    )

    with pytest.raises(ProtocolError, match=r"Items\[1\]\.ModifiedAt: expected a date-time"):
        list(api.learner_list())


def test_a_missing_required_field_is_a_protocol_error(http, api):
    body = wire.assessor()
    del body["FirstName"]
    http.get(wire.API + "/assessors/31", json=body)

    with pytest.raises(ProtocolError, match="FirstName is missing"):
        api.assessor_get(assessor_id=31)


def test_a_redirect_is_not_followed(http, api):
    http.get(wire.API + "/courses", status=301, headers={"Location": "https://elsewhere/"})

    with pytest.raises(ProtocolError, match="redirected to https://elsewhere/"):
        list(api.course_list())


def test_every_error_is_a_smart_assessor_error_with_a_readable_message(http, api):
    http.get(wire.API + "/employers/5", status=404, json=wire.errors("not_found", "No such"))

    with pytest.raises(SmartAssessorError) as caught:
        api.employer_get(employer_id=5)

    assert str(caught.value) == (
        "Not found in Smart Assessor (GET /employers/5 answered 404): No such"
    )


def test_a_certificate_failure_is_reported_and_not_retried(http, make_client, sleeps):
    http.post(wire.API + "/token", body=requests.exceptions.SSLError("certificate verify failed"))

    with pytest.raises(SmartAssessorError) as caught:
        make_client().event_type_list()

    assert not isinstance(caught.value, Transient)
    assert "TLS handshake with https://sa.example.test failed" in str(caught.value)
    assert "certificate verify failed" in str(caught.value)
    assert sleeps == []


def test_an_invalid_transition_is_its_own_refusal_and_never_retried(http, api):
    path = f"/learners/{wire.LEARNER_ID}/courses/{wire.LEARNER_COURSE_ID}"
    http.patch(
        wire.API + path,
        status=409,
        json=wire.errors(
            "invalid_transition", "Withdrawn cannot move to BreakInLearning", "Status"
        ),
    )

    with pytest.raises(InvalidTransition) as caught:
        api.learner_course_update(
            learner_id=wire.LEARNER_ID,
            enrolment_id=wire.LEARNER_COURSE_ID,
            changes=LearnerCourseChanges(
                status="BreakInLearning", status_date=dt.date(2026, 11, 20)
            ),
        )

    assert caught.value.messages == ["Status: Withdrawn cannot move to BreakInLearning"]
    assert len(http.calls) == 2  # the token, and the one PATCH
