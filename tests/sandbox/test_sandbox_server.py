"""The sandbox as a process: bulk seeding and its speed, restarts, the HTML page, the command."""

import signal
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from sandbox.control import SandboxControl, SandboxControlError
from tests.fixtures.sandbox import running_sandbox

from .helpers import EPOCH, SandboxApi, learner_body, today

REPOSITORY = Path(__file__).resolve().parents[2]


def test_bulk_seed_creates_valid_learners_enrolled_on_active_courses(api, sandbox):
    assert sandbox.seed(250, courses_per_learner=3, prefix="BENCH") == 250

    learners = api.get("/learners", PageSize=500).json()
    enrolments = api.get("/learner-courses", PageSize=500, Page=2).json()
    first = api.get("/learners", MISLearnerId="BENCH000001").json()["Items"][0]
    active = {
        course["SmartAssessorId"]
        for course in api.get("/courses", PageSize=500).json()["Items"]
        if course["IsActive"]
    }

    assert learners["TotalCount"] == 250
    assert enrolments["TotalCount"] == 750
    stamps = [item["ModifiedAt"] for item in api.feed("/learners") + api.feed("/learner-courses")]
    assert len(set(stamps)) == 1000
    assert {item["CourseSmartAssessorId"] for item in enrolments["Items"]} <= active
    assert api.get("/learners", MISLearnerId="BENCH000250").json()["TotalCount"] == 1
    writable = {
        name: value
        for name, value in first.items()
        if name not in ("SmartAssessorId", "MISLearnerId", "Status", "ModifiedAt")
    }
    resent = api.patch(f"/learners/{first['SmartAssessorId']}", writable)
    assert resent.status_code == 200, resent.text
    assert resent.json() == first


def test_bulk_seed_refuses_mis_ids_that_exist(sandbox):
    sandbox.seed(3, prefix="TWICE")

    with pytest.raises(SandboxControlError, match="TWICE000001 already exists"):
        sandbox.seed(5, prefix="TWICE")


def test_a_page_of_500_from_10000_learners_is_quick(api, sandbox):
    sandbox.seed(10_000, courses_per_learner=3)

    timings = []
    for params in (
        {"PageSize": 500, "Page": 20},
        {"PageSize": 500, "ModifiedSince": EPOCH},
        {"PageSize": 500},
    ):
        for path in ("/learners", "/learner-courses"):
            started = time.perf_counter()
            response = api.get(path, **params)
            timings.append(time.perf_counter() - started)
            assert len(response.json()["Items"]) == 500

    # Typically 2-3 ms; the bound leaves room for a busy CI machine.
    assert statistics.median(timings) < 0.1, timings


def _client(server) -> tuple[SandboxControl, SandboxApi]:
    control = SandboxControl(
        server.url,
        username=server.username,
        password=server.password,
        client_key=server.client_key,
    )
    return control, SandboxApi(control).authenticate()


def test_the_data_survives_a_restart(tmp_path):
    data = tmp_path / "sandbox.sqlite3"
    body = learner_body()
    with running_sandbox(data, tmp_path / "first.log") as first:
        control, api = _client(first)
        learner = api.learner()
        api.enrol(learner["SmartAssessorId"])
        now = control.advance(3)["Now"]
        learner = api.get(f"/learners/{learner['SmartAssessorId']}").json()
        enrolments = api.get(f"/learners/{learner['SmartAssessorId']}/courses").json()
        created = api.post("/learners", body, **{"Idempotency-Key": "kept"})

    with running_sandbox(data, tmp_path / "second.log") as second:
        control, api = _client(second)
        read = api.get(f"/learners/{learner['SmartAssessorId']}").json()
        enrolments_again = api.get(f"/learners/{learner['SmartAssessorId']}/courses").json()
        replayed = api.post("/learners", body, **{"Idempotency-Key": "kept"})
        later = control.advance(0)["Now"]
        newer = api.learner()

    assert read == learner
    assert enrolments_again == enrolments
    assert enrolments["Items"][0]["Status"] != "AwaitingInduction"
    assert replayed.status_code == 201
    assert replayed.json() == created.json()
    assert later[:10] == now[:10]
    assert newer["ModifiedAt"] > now


def test_the_page_shows_learners_their_courses_and_the_outbox_escaped(api, sandbox):
    started = (today() - timedelta(days=30)).isoformat()
    learner = api.learner(
        GivenNames="Ada", FamilyName="O'Neill <b>", SendWelcomeEmail=True, StartDate=started
    )
    api.enrol(
        learner["SmartAssessorId"],
        StartDate=started,
        PlannedEndDate=(today() + timedelta(days=335)).isoformat(),
    )
    sandbox.advance(1)

    page = requests.get(f"{sandbox.url}/", timeout=10)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    html = page.text
    assert "Ada O&#x27;Neill &lt;b&gt;" in html
    assert "<b>" not in html
    assert learner["MISLearnerId"] in html
    assert "ST0070 Business Administrator" in html
    assert "InTraining" in html
    assert "Welcome to Smart Assessor" in html
    assert "Pennine Valley Care Ltd" in html
    assert "Priya" in html
    assert "RateLimitPerSecond" in html


def test_the_page_shows_breaks_and_off_the_job_hours(api, sandbox):
    started = (today() - timedelta(days=30)).isoformat()
    learner = api.learner(StartDate=started)["SmartAssessorId"]
    dates = {"StartDate": started, "PlannedEndDate": (today() + timedelta(days=335)).isoformat()}
    planned = api.enrol(learner, OffTheJobHoursPlanned=312.5, **dates)
    api.enrol(learner, CourseSmartAssessorId=103, **dates)
    api.patch(
        f"/learners/{learner}/courses/{planned['SmartAssessorId']}",
        {"Status": "BreakInLearning", "StatusDate": started},
    )
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    start = today() - timedelta(days=30)

    html = requests.get(f"{sandbox.url}/", timeout=10).text

    assert f"on a break since {start.day} {months[start.month - 1]} {start.year}" in html
    assert "off the job 0 h of 312.5 h planned" in html
    assert "off the job 0 h;" in html


def test_the_page_shows_the_simulated_date_the_uk_way(sandbox):
    now = sandbox.advance(3)["Now"]
    year, month, day = (int(part) for part in now[:10].split("-"))
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    html = requests.get(f"{sandbox.url}/", timeout=10).text

    assert f"Simulated date: <strong>{day} {months[month - 1]} {year}</strong>" in html


def test_run_sandbox_announces_itself_and_stops_cleanly_on_ctrl_c(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_sandbox", "--port", "0"],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = [process.stdout.readline() for _ in range(4)]
        url = banner[0].removeprefix("Smart Assessor sandbox listening on ").strip()
        assert requests.get(f"{url}/_sandbox/stats", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=10)

    assert banner[0].startswith("Smart Assessor sandbox listening on http://127.0.0.1:")
    assert "in memory" in banner[1]
    assert "for the demo only" in banner[2]
    assert "api.demo@provider.example" in banner[2]
    assert process.returncode == 0
    assert "Smart Assessor sandbox stopped." in rest


def test_the_fixture_server_stops_with_sigterm(tmp_path):
    with running_sandbox(tmp_path / "data.sqlite3", tmp_path / "log") as server:
        pass

    assert server.stop() == 0
    assert "Smart Assessor sandbox stopped." in server.output()
