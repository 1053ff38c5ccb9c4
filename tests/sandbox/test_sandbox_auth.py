"""§2 and §6 of the contract: tokens, expiry, read-only keys and the rate limit."""

import time

import pytest
import requests

from .helpers import EMPLOYER_ID, SandboxApi, employer_body, learner_body, problems


def test_a_token_is_a_bearer_token_for_an_hour_by_default(api):
    response = api.token()

    assert response.status_code == 200
    body = response.json()
    assert body["TokenType"] == "Bearer"
    assert body["ExpiresIn"] == 3600
    assert body["AccessToken"]


@pytest.mark.parametrize("wrong", ["Username", "Password", "ClientKey"])
def test_any_wrong_credential_is_invalid_credentials(api, wrong):
    response = api.token(**{wrong: "not-the-right-one"})

    assert response.status_code == 401
    assert problems(response) == [("invalid_credentials", None)]


def test_a_token_request_without_a_field_is_a_validation_error(api):
    response = requests.post(
        f"{api.base}/token", json={"Username": "u", "Password": "p"}, timeout=10
    )

    assert response.status_code == 400
    assert problems(response) == [("validation", "ClientKey")]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Basic YXBpOnBhc3M=", "not-a-token"],
)
def test_a_missing_or_unknown_token_is_unauthorized(api, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = requests.get(f"{api.base}/courses", headers=headers, timeout=10)

    assert response.status_code == 401
    assert problems(response) == [("unauthorized", None)]


def test_an_expired_token_is_token_expired_and_a_new_one_works(sandbox):
    sandbox.faults(TokenLifetimeSeconds=1, RateLimitPerSecond=None)
    client = SandboxApi(sandbox).authenticate()
    assert client.token().json()["ExpiresIn"] == 1
    assert client.get("/courses").status_code == 200

    time.sleep(1.1)
    expired = client.get("/courses")

    assert expired.status_code == 401
    assert problems(expired) == [("token_expired", None)]
    assert client.authenticate().get("/courses").status_code == 200


def test_a_new_token_does_not_revoke_older_ones(sandbox):
    sandbox.faults(RateLimitPerSecond=None)
    first = SandboxApi(sandbox).authenticate()
    second = SandboxApi(sandbox).authenticate()

    assert first.session.headers != second.session.headers
    assert first.get("/courses").status_code == 200
    assert second.get("/courses").status_code == 200


def test_a_reset_forgets_tokens(api, sandbox):
    sandbox.reset()

    response = api.get("/courses")

    assert problems(response) == [("unauthorized", None)]


def test_a_read_only_key_may_read_but_not_write(api, sandbox):
    learner = api.learner()
    sandbox.faults(ReadOnly=True)

    writes = [
        api.post("/learners", learner_body()),
        api.post(f"/learners/{learner['SmartAssessorId']}/courses", {}),
        api.patch(f"/learners/{learner['SmartAssessorId']}", {"GivenNames": "Ann"}),
        api.put(f"/employers/{EMPLOYER_ID}", employer_body()),
        api.post("/employers", employer_body()),
    ]

    for response in writes:
        assert response.status_code == 403
        assert problems(response) == [("read_only", None)]
    assert api.get("/learners").json()["TotalCount"] == 1
    assert api.token().status_code == 200


def test_the_rate_limit_answers_429_with_retry_after_and_counts_token_requests(sandbox):
    sandbox.faults(RateLimitPerSecond=4)
    client = SandboxApi(sandbox)

    answers = [client.token() for _ in range(4)]
    # The bucket refills a token every 0.25 s: on a loaded machine a request may take that
    # long, so ask until it says 429 (asking faster than 4/s empties it within a few).
    refilled = 0
    for _ in range(20):
        limited = client.token()
        if limited.status_code != 200:
            break
        refilled += 1

    assert [answer.status_code for answer in answers] == [200] * 4
    assert limited.status_code == 429
    assert problems(limited) == [("rate_limited", None)]
    wait = int(limited.headers["Retry-After"])
    assert wait >= 1
    time.sleep(wait)
    assert client.token().status_code == 200
    stats = sandbox.stats()
    assert stats["RateLimited"] == 1
    assert stats["ByStatus"] == {"200": 5 + refilled, "429": 1}


def test_the_rate_limit_refills_at_its_rate(sandbox):
    sandbox.faults(RateLimitPerSecond=10)
    client = SandboxApi(sandbox).authenticate()
    started = time.monotonic()

    statuses = []
    while time.monotonic() - started < 1.0:
        statuses.append(client.get("/event-types").status_code)

    served = statuses.count(200) + 1  # the token request took one too
    assert 10 <= served <= 22, statuses
    assert 429 in statuses
