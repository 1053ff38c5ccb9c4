"""§1 and §3 of the contract: JSON in and out, unknown names, methods, the error body."""

import json
import re

import pytest
import requests

from .helpers import (
    ASSESSOR_ID,
    EMPLOYER_ID,
    MODIFIED_AT,
    assessor_body,
    employer_body,
    learner_body,
    problems,
)


def test_answers_are_json_with_the_contract_content_type(api):
    response = api.get("/courses")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{"),
        ("application/json", b"[1, 2]"),
        ("application/json", b"null"),
        ("application/json", b""),
        ("application/json", b'{"MISLearnerId": "A", "MISLearnerId": "B"}'),
        ("application/json", b'{"GivenNames": NaN}'),
        ("application/json", b"\xff\xfe{}"),
        ("application/json", b"[" * 100_000),
        ("application/json; charset=latin-1", b"{}"),
        ("text/plain", json.dumps(learner_body()).encode()),
        (None, json.dumps(learner_body()).encode()),
    ],
    ids=[
        "truncated",
        "array",
        "null",
        "empty",
        "duplicate-key",
        "nan",
        "not-utf8",
        "too-deep",
        "latin1",
        "text-plain",
        "no-content-type",
    ],
)
def test_a_body_that_is_not_a_json_object_is_malformed(api, content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.request("POST", "/learners", data=body, headers=headers)

    assert response.status_code == 400
    assert problems(response) == [("malformed_json", None)]


def test_the_json_content_type_may_name_utf8(api):
    response = api.request(
        "POST",
        "/learners",
        data=json.dumps(learner_body(GivenNames="Zoë")).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 201
    assert response.json()["GivenNames"] == "Zoë"


@pytest.mark.parametrize(
    ("path", "body", "unknown"),
    [
        ("/learners", learner_body(MiddleName="Ann"), "MiddleName"),
        ("/learners", {**learner_body(), "givenNames": "Amelia"}, "givenNames"),
        ("/employers", employer_body(Postcode="HX1 1AA"), "Postcode"),
        ("/assessors", assessor_body(Role="Assessor"), "Role"),
        ("/token", {"Username": "u", "Password": "p", "ClientKey": "k", "Scope": "all"}, "Scope"),
    ],
    ids=["learner", "learner-case", "employer", "assessor", "token"],
)
def test_unknown_body_fields_are_refused_by_name(api, path, body, unknown):
    response = api.post(path, body)

    assert response.status_code == 400
    assert problems(response) == [("unknown_field", unknown)]


def test_every_unknown_field_is_listed(api):
    response = api.post("/learners", learner_body(Nickname="Millie", Shoe="5"))

    assert problems(response) == [("unknown_field", "Nickname"), ("unknown_field", "Shoe")]


@pytest.mark.parametrize(
    ("path", "params", "unknown"),
    [
        ("/courses", {"Search": "care"}, "Search"),
        ("/learners", {"page": "1"}, "page"),
        ("/learners", {"Search": "Jones"}, "Search"),
        (f"/employers/{EMPLOYER_ID}", {"PageSize": "5"}, "PageSize"),
        ("/employers", {"MISAssessorId": "X"}, "MISAssessorId"),
        ("/employers", {"ModifiedSince": "2026-01-01T00:00:00Z"}, "ModifiedSince"),
        ("/assessors", {"AfterId": "x"}, "AfterId"),
        ("/courses", {"ModifiedSince": "2026-01-01T00:00:00Z"}, "ModifiedSince"),
        ("/event-types", {"Page": "1"}, "Page"),
    ],
)
def test_unknown_query_parameters_are_refused(api, path, params, unknown):
    response = api.get(path, **params)

    assert response.status_code == 400
    assert problems(response) == [("unknown_field", unknown)]


def test_a_post_with_a_query_parameter_is_refused(api):
    response = api.request("POST", "/learners", params={"Send": "1"}, json=learner_body())

    assert problems(response) == [("unknown_field", "Send")]


def test_a_query_parameter_given_twice_is_refused(api):
    response = api.request("GET", "/courses?PageSize=5&PageSize=6")

    assert response.status_code == 400
    assert problems(response) == [("validation", "PageSize")]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/learners/{learner}", "GET, PATCH"),
        ("PUT", "/learners/{learner}", "GET, PATCH"),
        ("PATCH", f"/employers/{EMPLOYER_ID}", "GET, PUT"),
        ("DELETE", f"/assessors/{ASSESSOR_ID}", "GET, PUT"),
        ("POST", "/courses", "GET"),
        ("GET", "/token", "POST"),
        ("PUT", "/learners", "GET, POST"),
        ("POST", "/event-types", "GET"),
        ("OPTIONS", "/sessions", "GET"),
    ],
)
def test_a_method_a_path_does_not_take_is_405(api, method, path, allowed):
    learner = api.learner()
    response = api.request(
        method, path.format(learner=learner["SmartAssessorId"]), json=learner_body()
    )

    assert response.status_code == 405
    assert problems(response) == [("method_not_allowed", None)]
    assert response.headers["Allow"] == allowed


@pytest.mark.parametrize(
    "path",
    [
        "/employers/999999",
        "/employers/abc",
        "/assessors/99999999999999999999999",
        "/learners/7d3b9f0e-1111-4a3c-9d5e-000000000000",
        "/learners/not-a-guid",
        "/learners/7d3b9f0e-1111-4a3c-9d5e-000000000000/courses",
        "/learner-courses/7d3b9f0e-1111-4a3c-9d5e-000000000000",
        "/nothing-here",
    ],
)
def test_what_does_not_exist_is_404(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert problems(response) == [("not_found", None)]


def test_every_error_has_the_contract_shape(api):
    responses = [
        api.post("/learners", learner_body(ULN="12")),
        api.get("/courses", Page="0"),
        api.request("DELETE", "/courses"),
        api.get("/employers/424242"),
        requests.get(f"{api.base}/courses", timeout=10),
    ]

    for response in responses:
        body = response.json()
        assert set(body) == {"Errors"}, body
        for error in body["Errors"]:
            assert set(error) == {"Code", "Field", "Message"}
            assert error["Message"]


def test_modified_at_always_has_six_fractional_digits(api):
    learner = api.learner()
    enrolment = api.enrol(learner["SmartAssessorId"])
    employer = api.created("/employers", employer_body())
    assessor = api.created("/assessors", assessor_body())

    for created in (learner, enrolment, employer, assessor):
        assert re.match(MODIFIED_AT, created["ModifiedAt"]), created["ModifiedAt"]


@pytest.mark.parametrize(
    "since",
    ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00.123456Z"],
)
def test_date_times_in_utc_with_z_are_accepted(api, since):
    assert api.get("/learners", ModifiedSince=since).status_code == 200


@pytest.mark.parametrize(
    "since",
    [
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.1234567Z",
        "2026-01-01",
        "2026-02-30T00:00:00Z",
        "2026-01-01 00:00:00Z",
        "",
    ],
)
def test_other_date_time_forms_are_refused(api, since):
    response = api.get("/learners", ModifiedSince=since)

    assert response.status_code == 400
    assert problems(response) == [("validation", "ModifiedSince")]
