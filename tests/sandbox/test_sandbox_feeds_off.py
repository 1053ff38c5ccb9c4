"""The sandbox without change feeds (issue 11, point 5): it plays an older Smart Assessor service
that offers only the paged lists, so ``ModifiedSince`` and ``AfterId`` are unknown query
parameters (§1, §4: ``400 unknown_field``) while every paged list still answers."""

import pytest
import requests

from sandbox import cli
from sandbox.control import SandboxControl, SandboxControlError
from sandbox.process import start_sandbox

from .helpers import EPOCH, SandboxApi, problems

FEEDS = ["/learners", "/learner-courses", "/sessions", "/smart-coach"]
SOME_GUID = "00000000-0000-0000-0000-000000000000"


def item_id(item: dict) -> str:
    return item.get("SmartAssessorId") or item["LearnerSmartAssessorId"]


@pytest.fixture
def world(api: SandboxApi, sandbox: SandboxControl) -> SandboxApi:
    """Learners with courses, sessions and Smart Coach scores, for every feed to hold something."""
    sandbox.seed(4, courses_per_learner=2, prefix="FEED")
    sandbox.advance(120)
    for path in FEEDS:
        assert api.feed(path), f"{path} holds nothing to read"
    return api


@pytest.mark.parametrize("path", FEEDS)
def test_modified_since_is_an_unknown_query_parameter_with_feeds_off(world, sandbox, path):
    assert world.get(path, ModifiedSince=EPOCH).status_code == 200

    sandbox.feeds(False)
    response = world.get(path, ModifiedSince=EPOCH, PageSize=500)

    assert response.status_code == 400
    assert problems(response) == [("unknown_field", "ModifiedSince")]
    assert response.json()["Errors"][0]["Message"] == (
        "ModifiedSince is not a known query parameter."
    )


@pytest.mark.parametrize("path", FEEDS)
def test_after_id_is_an_unknown_query_parameter_with_feeds_off(world, sandbox, path):
    assert world.get(path, ModifiedSince=EPOCH, AfterId=SOME_GUID).status_code == 200

    sandbox.feeds(False)
    alone = world.get(path, AfterId=SOME_GUID)
    with_since = world.get(path, ModifiedSince=EPOCH, AfterId=SOME_GUID)

    assert alone.status_code == 400
    assert problems(alone) == [("unknown_field", "AfterId")]
    assert with_since.status_code == 400
    assert problems(with_since) == [
        ("unknown_field", "AfterId"),
        ("unknown_field", "ModifiedSince"),
    ]


def test_feeds_off_answers_as_an_endpoint_that_never_had_feeds(world, sandbox):
    """The same body a list that is not a feed gives (``/courses``), so a client cannot tell a
    server without feeds from this one."""
    sandbox.feeds(False)

    learners = world.get("/learners", ModifiedSince=EPOCH)
    courses = world.get("/courses", ModifiedSince=EPOCH)

    assert learners.status_code == courses.status_code == 400
    assert learners.json() == courses.json()


@pytest.mark.parametrize("path", FEEDS)
def test_paged_lists_hold_everything_the_feed_held_with_feeds_off(world, sandbox, path):
    by_feed = sorted(item_id(item) for item in world.feed(path))

    sandbox.feeds(False)
    first = world.get(path, Page=1, PageSize=3)
    rest = world.get(path, Page=2, PageSize=500)
    everything = world.get(path, PageSize=500)

    assert first.status_code == rest.status_code == everything.status_code == 200
    assert first.json()["TotalCount"] == len(by_feed)
    assert [item_id(item) for item in everything.json()["Items"]] == by_feed
    assert [item_id(item) for item in first.json()["Items"]] == by_feed[:3]


def test_filters_and_per_learner_lists_still_answer_with_feeds_off(world, sandbox):
    learner = world.get("/learners", PageSize=1).json()["Items"][0]
    learner_id = learner["SmartAssessorId"]
    sandbox.feeds(False)

    found = world.get("/learners", MISLearnerId=learner["MISLearnerId"])
    courses = world.get(f"/learners/{learner_id}/courses", Page=1, PageSize=10)
    sessions = world.get(f"/learners/{learner_id}/sessions", Page=1, PageSize=10)
    score = world.get(f"/learners/{learner_id}/smart-coach")

    assert found.status_code == 200
    assert [item["SmartAssessorId"] for item in found.json()["Items"]] == [learner_id]
    assert courses.status_code == 200 and courses.json()["TotalCount"] == 2
    assert sessions.status_code == 200 and sessions.json()["Items"]
    assert score.status_code == 200
    assert score.json()["LearnerSmartAssessorId"] == learner_id


def test_feeds_switch_at_run_time_and_a_reset_turns_them_back_on(api, sandbox):
    assert sandbox.settings() == {"Feeds": True}

    sandbox.feeds(False)
    off = api.get("/learners", ModifiedSince=EPOCH)
    page_off = requests.get(f"{sandbox.url}/", timeout=10).text
    sandbox.feeds(True)
    on = api.get("/learners", ModifiedSince=EPOCH)
    page_on = requests.get(f"{sandbox.url}/", timeout=10).text
    sandbox.feeds(False)
    sandbox.reset()

    assert (off.status_code, on.status_code) == (400, 200)
    assert "Change feeds: <strong>off</strong>" in page_off
    assert "Change feeds: <strong>on</strong>" in page_on
    assert sandbox.settings() == {"Feeds": True}
    assert requests.get(f"{sandbox.url}/_sandbox/settings", timeout=10).json() == {"Feeds": True}


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"Feeds": "off"}, "validation", "Feeds must be true or false."),
        ({"Feed": False}, "unknown_field", "Feed is not a known setting."),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(sandbox, body, code, message):
    response = requests.put(f"{sandbox.url}/_sandbox/settings", json=body, timeout=10)

    assert response.status_code == 400
    assert response.json()["Errors"][0]["Code"] == code
    assert response.json()["Errors"][0]["Message"] == message
    assert sandbox.settings() == {"Feeds": True}
    with pytest.raises(SandboxControlError, match="Feeds must be true or false"):
        sandbox.settings(Feeds=None)


def test_a_sandbox_started_with_no_feeds_has_none_even_after_a_reset(tmp_path):
    server = start_sandbox(tmp_path / "data.sqlite3", tmp_path / "log", feeds=False)
    control = SandboxControl(
        server.url,
        username=server.username,
        password=server.password,
        client_key=server.client_key,
    )
    try:
        api = SandboxApi(control).authenticate()
        at_start = api.get("/learner-courses", ModifiedSince=EPOCH)
        listed = api.get("/learner-courses", Page=1)
        control.reset()
        api.authenticate()  # a reset forgets the tokens
        after_reset = api.get("/sessions", ModifiedSince=EPOCH)
        settings = control.settings()
        page = requests.get(f"{server.url}/", timeout=10).text
        control.feeds(True)
        switched_on = api.get("/sessions", ModifiedSince=EPOCH)
    finally:
        control.close()
        server.stop()

    assert (at_start.status_code, listed.status_code) == (400, 200)
    assert problems(at_start) == [("unknown_field", "ModifiedSince")]
    assert after_reset.status_code == 400
    assert settings == {"Feeds": False}
    assert "Change feeds: <strong>off</strong>" in page
    assert switched_on.status_code == 200
    assert "Change feeds off" in server.output()


@pytest.mark.parametrize(
    ("argv", "environment", "feeds"),
    [
        ([], None, True),
        (["--no-feeds"], None, False),
        ([], "off", False),
        ([], "ON", True),
        (["--feeds"], "off", True),
    ],
)
def test_the_command_line_and_sandbox_feeds_choose_the_feeds(monkeypatch, argv, environment, feeds):
    chosen = {}
    monkeypatch.setattr(cli, "serve", lambda **options: chosen.update(options))
    if environment is None:
        monkeypatch.delenv("SANDBOX_FEEDS", raising=False)
    else:
        monkeypatch.setenv("SANDBOX_FEEDS", environment)

    assert cli.main(["--port", "0", *argv]) == 0
    assert chosen["feeds"] is feeds


def test_a_sandbox_feeds_value_other_than_on_or_off_stops_the_start(monkeypatch, capsys):
    monkeypatch.setattr(cli, "serve", lambda **options: pytest.fail("the sandbox started"))
    monkeypatch.setenv("SANDBOX_FEEDS", "no")

    with pytest.raises(SystemExit) as stopped:
        cli.main(["--port", "0"])

    assert stopped.value.code == 2
    assert "SANDBOX_FEEDS must be on or off, not 'no'" in capsys.readouterr().err
