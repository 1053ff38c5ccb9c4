"""§5 of the contract: the Idempotency-Key makes retrying a POST safe."""

import json
import threading
import time

import pytest

from .helpers import employer_body, learner_body, problems


def _post_raw(api, path, text, key):
    return api.request(
        "POST",
        path,
        data=text.encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


def _learners_with(api, mis_id):
    return api.get("/learners", MISLearnerId=mis_id).json()["TotalCount"]


def test_the_same_request_again_gets_the_first_answer_without_acting(api):
    body = learner_body()
    first = _post_raw(api, "/learners", json.dumps(body), "enrol-1")
    reordered = json.dumps(dict(reversed(body.items())), indent=4)

    again = _post_raw(api, "/learners", reordered, "enrol-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _learners_with(api, body["MISLearnerId"]) == 1


def test_a_different_body_under_the_same_key_is_refused(api):
    api.post("/learners", learner_body(), **{"Idempotency-Key": "k-1"})

    response = api.post("/learners", learner_body(), **{"Idempotency-Key": "k-1"})

    assert response.status_code == 422
    assert problems(response) == [("idempotency_key_reused", "Idempotency-Key")]


def test_a_different_path_under_the_same_key_is_refused(api):
    api.post("/employers", employer_body(), **{"Idempotency-Key": "k-2"})

    response = api.post("/learners", learner_body(), **{"Idempotency-Key": "k-2"})

    assert response.status_code == 422


def test_a_refusal_is_remembered_so_a_fixed_body_needs_a_new_key(api):
    bad = learner_body(ULN="1234567890")
    refused = api.post("/learners", bad, **{"Idempotency-Key": "k-3"})

    replayed = api.post("/learners", bad, **{"Idempotency-Key": "k-3"})
    fixed_same_key = api.post("/learners", bad | {"ULN": None}, **{"Idempotency-Key": "k-3"})
    fixed_new_key = api.post("/learners", bad | {"ULN": None}, **{"Idempotency-Key": "k-4"})

    assert refused.status_code == replayed.status_code == 400
    assert replayed.json() == refused.json()
    assert fixed_same_key.status_code == 422
    assert fixed_new_key.status_code == 201


def test_a_transient_failure_is_not_remembered(api, sandbox):
    sandbox.faults(Rules=[{"Method": "POST", "Path": "^/api/v1/learners$", "Status": 503}])
    body = learner_body()
    failed = api.post("/learners", body, **{"Idempotency-Key": "k-5"})

    sandbox.faults(Rules=[])
    retried = api.post("/learners", body, **{"Idempotency-Key": "k-5"})

    assert failed.status_code == 503
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers


def test_a_read_only_refusal_is_not_remembered(api, sandbox):
    sandbox.faults(ReadOnly=True)
    body = learner_body()
    refused = api.post("/learners", body, **{"Idempotency-Key": "k-6"})

    sandbox.faults(ReadOnly=False)
    retried = api.post("/learners", body, **{"Idempotency-Key": "k-6"})

    assert refused.status_code == 403
    assert retried.status_code == 201


def test_a_key_is_remembered_for_24_hours(api, sandbox):
    body = learner_body()
    api.post("/learners", body, **{"Idempotency-Key": "k-7"})
    sandbox.advance(0)
    assert api.post("/learners", body, **{"Idempotency-Key": "k-7"}).status_code == 201

    sandbox.advance(1)
    response = api.post("/learners", body, **{"Idempotency-Key": "k-7"})

    assert response.status_code == 409
    assert problems(response) == [("duplicate_mis_id", "MISLearnerId")]


@pytest.mark.parametrize("key", ["", "k" * 65, "with space", "clé", "tab\tkey"])
def test_a_key_must_be_1_to_64_visible_ascii_characters(api, key):
    response = api.request(
        "POST",
        "/learners",
        data=json.dumps(learner_body()).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": key.encode("latin-1")},
    )

    assert response.status_code == 400
    assert problems(response) == [("validation", "Idempotency-Key")]


def test_a_key_of_64_visible_characters_is_fine(api):
    key = "~!" * 32

    assert api.post("/learners", learner_body(), **{"Idempotency-Key": key}).status_code == 201


def test_concurrent_requests_with_one_key_act_once_and_share_the_answer(api, sandbox):
    sandbox.faults(LatencyMs=300)
    body = learner_body()
    start = threading.Barrier(6)
    answers = []

    def post():
        start.wait()
        answers.append(api.post("/learners", body, **{"Idempotency-Key": "k-concurrent"}))

    threads = [threading.Thread(target=post) for _ in range(6)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    assert [answer.status_code for answer in answers] == [201] * 6
    # The first acts in 0.3 s; the others wait for it, then answer together in 0.3 s more.
    assert 0.6 <= elapsed < 1.2
    assert len({answer.text for answer in answers}) == 1
    assert sum("Idempotent-Replayed" in answer.headers for answer in answers) == 5
    sandbox.faults(LatencyMs=0)
    assert _learners_with(api, body["MISLearnerId"]) == 1


def test_a_different_request_waiting_on_a_key_in_flight_gets_422(api, sandbox):
    sandbox.faults(LatencyMs=300)
    answers = {}

    def post(name, body):
        answers[name] = api.post("/learners", body, **{"Idempotency-Key": "k-race"})

    first = threading.Thread(target=post, args=("first", learner_body()))
    first.start()
    threading.Event().wait(0.1)
    post("second", learner_body())
    first.join()

    assert answers["first"].status_code == 201
    assert answers["second"].status_code == 422
