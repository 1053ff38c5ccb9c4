"""The sandbox's fault injection and request counts (``/_sandbox/faults``, ``/_sandbox/stats``)."""

import time

import pytest
import requests

from sandbox.control import SandboxControlError

from .helpers import learner_body, problems

DEFAULT_FAULTS = {
    "LatencyMs": 0,
    "ErrorRate": 0.0,
    "ErrorStatus": 503,
    "Rules": [],
    "DropResponses": [],
    "RateLimitPerSecond": 20,
    "TokenLifetimeSeconds": 3600,
    "ReadOnly": False,
    "SmartCoachLicensed": True,
}


def test_a_reset_sandbox_has_no_faults(sandbox):
    sandbox.faults(latency_ms=10, read_only=True)
    sandbox.reset()

    assert sandbox.faults() == DEFAULT_FAULTS


def test_faults_take_api_or_python_names_and_answer_the_whole_set(sandbox):
    current = sandbox.faults(LatencyMs=5, error_rate=0.25, smart_coach_licensed=False)

    assert current == DEFAULT_FAULTS | {
        "LatencyMs": 5,
        "ErrorRate": 0.25,
        "SmartCoachLicensed": False,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Latency": 5}, "Latency is not a known fault setting"),
        ({"ErrorRate": 1.5}, "ErrorRate must be a number from 0 to 1"),
        ({"ErrorStatus": 200}, "ErrorStatus must be a whole number from 400 to 599"),
        ({"Rules": [{"Path": "(", "Status": 503}]}, "Rules[0].Path is not a regular expression"),
        ({"Rules": [{"Path": "x", "Status": 503, "Times": 0}]}, "Rules[0].Times must be"),
        ({"Rules": [{"Path": "x"}]}, "Rules[0].Status must be"),
        ({"DropResponses": [{"Path": "x", "Status": 503}]}, "Status is not a known field"),
        ({"ReadOnly": "yes"}, "ReadOnly must be true or false"),
        ({"TokenLifetimeSeconds": 0}, "TokenLifetimeSeconds must be"),
    ],
)
def test_bad_fault_settings_are_refused_and_change_nothing(sandbox, changes, message):
    with pytest.raises(SandboxControlError, match=message.replace("[", r"\[").replace("]", r"\]")):
        sandbox.faults(LatencyMs=50, **changes)

    assert sandbox.faults() == DEFAULT_FAULTS


def test_latency_delays_api_answers_but_not_the_controls(api, sandbox):
    sandbox.faults(LatencyMs=250)

    started = time.monotonic()
    api.get("/courses")
    api_seconds = time.monotonic() - started
    started = time.monotonic()
    sandbox.stats()
    control_seconds = time.monotonic() - started

    assert api_seconds >= 0.25
    assert control_seconds < 0.2


def test_an_error_rate_of_one_fails_every_request_with_the_error_status(api, sandbox):
    sandbox.faults(ErrorRate=1, ErrorStatus=502)
    body = learner_body()

    answers = [api.post("/learners", body), api.get("/courses"), api.token()]

    for answer in answers:
        assert answer.status_code == 502
        assert problems(answer) == [("unavailable", None)]
    sandbox.faults(ErrorRate=0)
    assert api.get("/learners", MISLearnerId=body["MISLearnerId"]).json()["TotalCount"] == 0


def test_a_partial_error_rate_fails_some_requests(api, sandbox):
    sandbox.faults(ErrorRate=0.5, ErrorStatus=500)

    statuses = [api.get("/event-types").status_code for _ in range(200)]

    assert set(statuses) == {200, 500}
    assert 60 <= statuses.count(500) <= 140


def test_a_rule_answers_its_status_for_its_times_without_acting(api, sandbox):
    sandbox.faults(
        Rules=[{"Method": "POST", "Path": "^/api/v1/learners$", "Status": 503, "Times": 2}]
    )
    body = learner_body()

    answers = [api.post("/learners", body) for _ in range(3)]
    read = api.get("/learners")

    assert [answer.status_code for answer in answers] == [503, 503, 201]
    assert problems(answers[0]) == [("unavailable", None)]
    assert read.status_code == 200
    assert read.json()["TotalCount"] == 1
    assert sandbox.faults()["Rules"] == []


def test_a_rule_counts_down_and_shows_what_is_left(sandbox):
    rule = {"Method": "GET", "Path": "^/api/v1/courses", "Status": 500, "Times": 3}
    sandbox.faults(Rules=[rule])

    requests.get(f"{sandbox.url}/api/v1/courses", timeout=10)

    assert sandbox.faults()["Rules"] == [rule | {"Times": 2}]


def test_a_rule_without_times_or_method_applies_to_every_matching_request(api, sandbox):
    sandbox.faults(Rules=[{"Path": "/learners", "Status": 504}])

    answers = [api.get("/learners"), api.post("/learners", learner_body()), api.get("/courses")]

    assert [answer.status_code for answer in answers] == [504, 504, 200]


def test_a_429_rule_says_when_to_retry(api, sandbox):
    sandbox.faults(Rules=[{"Path": "^/api/v1/courses$", "Status": 429, "Times": 1}])

    response = api.get("/courses")

    assert response.status_code == 429
    assert problems(response) == [("rate_limited", None)]
    assert response.headers["Retry-After"] == "1"


def test_a_dropped_response_still_acts_and_a_retry_with_its_key_gets_the_answer(api, sandbox):
    sandbox.faults(DropResponses=[{"Method": "POST", "Path": "^/api/v1/learners$", "Times": 1}])
    body = learner_body()

    with pytest.raises(requests.ConnectionError):
        api.post("/learners", body, **{"Idempotency-Key": "dropped-1"})
    retried = api.post("/learners", body, **{"Idempotency-Key": "dropped-1"})

    found = api.get("/learners", MISLearnerId=body["MISLearnerId"]).json()
    assert found["TotalCount"] == 1
    assert retried.status_code == 201
    assert retried.json() == found["Items"][0]
    assert sandbox.faults()["DropResponses"] == []


def test_a_drop_without_a_key_leaves_the_retry_to_find_a_conflict(api, sandbox):
    sandbox.faults(DropResponses=[{"Method": "POST", "Path": "^/api/v1/learners$", "Times": 1}])
    body = learner_body()

    with pytest.raises(requests.ConnectionError):
        api.post("/learners", body)
    retried = api.post("/learners", body)

    assert retried.status_code == 409
    existing = api.get("/learners", MISLearnerId=body["MISLearnerId"]).json()["Items"][0]
    assert retried.json()["ExistingSmartAssessorId"] == existing["SmartAssessorId"]


def test_without_a_smart_coach_licence_both_endpoints_are_forbidden(api, sandbox):
    learner = api.learner()["SmartAssessorId"]
    sandbox.faults(SmartCoachLicensed=False)

    for response in (api.get(f"/learners/{learner}/smart-coach"), api.get("/smart-coach")):
        assert response.status_code == 403
        assert problems(response) == [("forbidden", None)]


def test_stats_count_api_requests_by_status_and_route(api, sandbox):
    sandbox.reset_stats()
    learner = api.learner()["SmartAssessorId"]
    api.get(f"/learners/{learner}")
    api.get("/learners/not-a-guid")
    api.get("/nowhere")
    sandbox.outbox()

    stats = sandbox.stats()

    assert stats == {
        "Requests": 4,
        "RateLimited": 0,
        "ByStatus": {"200": 1, "201": 1, "404": 2},
        "ByRoute": {
            "GET (no route)": 1,
            "GET /api/v1/learners/{id}": 2,
            "POST /api/v1/learners": 1,
        },
    }
    sandbox.reset_stats()
    assert sandbox.stats()["Requests"] == 0


def test_the_control_endpoints_are_strict_too(sandbox):
    unknown = requests.post(f"{sandbox.url}/_sandbox/advance", json={"Weeks": 1}, timeout=10)
    wrong_method = requests.get(f"{sandbox.url}/_sandbox/reset", timeout=10)
    bad_days = requests.post(f"{sandbox.url}/_sandbox/advance", json={"Days": -1}, timeout=10)

    assert problems(unknown) == [("unknown_field", "Weeks")]
    assert problems(wrong_method) == [("method_not_allowed", None)]
    assert problems(bad_days) == [("validation", "Days")]
