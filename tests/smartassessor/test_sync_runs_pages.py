"""The runs of every kind with their filters, their live progress, Preview the next
synchronisation (a dry run) and its plan, and the delta setting and freshness on the Summary
(F3, F21, F25, F26, F31). Runs are made as rows here: the engine's own tests run them."""

import datetime as dt

import pytest
from django.utils import timezone

from smartassessor.models import SyncChange, SyncRun
from smartassessor.services import sync
from tests.factories import LearnerFactory, OfficerFactory

from .client import wire
from .run_rows import KINDS, planned_change, run_row, runs_of_every_kind
from .test_queries import _assert_same, _queries

pytestmark = pytest.mark.django_db

RUNS_URL = "/smartassessor/sync/runs/"
SUMMARY_URL = "/smartassessor/"


@pytest.fixture
def summary_http(sa_http):
    """The Summary asks Smart Assessor for its event types."""
    sa_http.get(wire.API + "/event-types", json=wire.page([]))
    return sa_http


def _status_ids(content: str) -> list[int]:
    return [int(part.split('"')[0]) for part in content.split('id="sync-run-status-')[1:] if part]


# --- The lists ------------------------------------------------------------------------------


def test_the_runs_list_shows_every_kind_ofrun_row(sa_settings, admin_client_ia):
    runs = {trigger: run_row(trigger) for trigger in KINDS}

    page = admin_client_ia.get(RUNS_URL).content.decode()

    assert sorted(_status_ids(page)) == sorted(run.pk for run in runs.values())
    for label in KINDS.values():
        assert label in page
    learner = runs[SyncRun.Trigger.LEARNER].learner
    assert learner.get_absolute_url() in page


def test_the_runs_list_filters_by_kind_outcome_and_days(sa_settings, admin_client_ia):
    delta = run_row(SyncRun.Trigger.DELTA)
    held = run_row(SyncRun.Trigger.DAILY, SyncRun.State.HELD)
    failed_delta = run_row(
        SyncRun.Trigger.DELTA, SyncRun.State.FAILED, error="Smart Assessor is down"
    )
    old = run_row(SyncRun.Trigger.DAILY)
    SyncRun.objects.filter(pk=old.pk).update(requested_at=timezone.now() - dt.timedelta(days=10))
    today = timezone.localdate()

    def listed(**query) -> list[int]:
        response = admin_client_ia.get(RUNS_URL, query)
        assert response.status_code == 200
        return sorted(_status_ids(response.content.decode()))

    assert listed(trigger="delta") == sorted([delta.pk, failed_delta.pk])
    assert listed(state="held") == [held.pk]
    assert listed(trigger="delta", state="failed") == [failed_delta.pk]
    assert listed(since=today.isoformat()) == sorted([delta.pk, held.pk, failed_delta.pk])
    ten_days_ago = (today - dt.timedelta(days=10)).isoformat()
    assert listed(since=ten_days_ago, until=ten_days_ago) == [old.pk]
    assert listed(trigger="dry_run") == []
    assert (
        "No run matches these filters."
        in admin_client_ia.get(RUNS_URL, {"trigger": "dry_run"}).content.decode()
    )


def test_a_wrong_filter_says_so_and_the_others_still_apply(sa_settings, admin_client_ia):
    delta = run_row(SyncRun.Trigger.DELTA)
    run_row(SyncRun.Trigger.DAILY)
    today = timezone.localdate()

    response = admin_client_ia.get(
        RUNS_URL,
        {
            "trigger": "delta",
            "since": today.isoformat(),
            "until": (today - dt.timedelta(days=1)).isoformat(),
        },
    )

    page = response.content.decode()
    assert "Choose a day on or after the From day." in page
    assert _status_ids(page) == [delta.pk]
    assert _status_ids(admin_client_ia.get(RUNS_URL, {"state": "nonsense"}).content.decode())


def test_the_runs_list_pages_and_keeps_its_filters(sa_settings, admin_client_ia):
    for _ in range(30):
        run_row(SyncRun.Trigger.DELTA)
    run_row(SyncRun.Trigger.DAILY)

    first = admin_client_ia.get(RUNS_URL, {"trigger": "delta"}).content.decode()
    second = admin_client_ia.get(RUNS_URL, {"trigger": "delta", "page": 2}).content.decode()

    assert len(_status_ids(first)) == 25 and len(_status_ids(second)) == 5
    assert "trigger=delta&amp;page=2" in first or "page=2&amp;trigger=delta" in first
    assert "Showing 1–25 of 30" in first


def test_the_summary_lists_recent_runs_of_every_kind_and_links_the_filters(
    summary_http, admin_client_ia
):
    runs = [run_row(trigger) for trigger in KINDS]

    page = admin_client_ia.get(SUMMARY_URL).content.decode()

    assert sorted(_status_ids(page)) == sorted(run.pk for run in runs)
    assert f"{RUNS_URL}?state=held" in page and f"{RUNS_URL}?trigger=dry_run" in page


@pytest.mark.parametrize("who", ["anonymous", "staff", "support"])
def test_only_integration_admins_see_a_runs_progress_or_preview(
    sa_settings, client, staff_user, support_user, who
):
    run = run_row(state=SyncRun.State.RUNNING)
    if who != "anonymous":
        client.force_login(staff_user if who == "staff" else support_user)
    expected = 302 if who == "anonymous" else 403

    assert client.get(f"{RUNS_URL}{run.pk}/status/").status_code == expected
    assert client.get(f"{RUNS_URL}{run.pk}/", headers={"HX-Request": "true"}).status_code == (
        expected
    )
    assert client.post("/smartassessor/sync/dry-run/").status_code == expected
    assert not SyncRun.objects.filter(trigger=SyncRun.Trigger.DRY_RUN).exists()


# --- Live progress --------------------------------------------------------------------------


def test_a_running_run_shows_its_progress_on_the_summary_until_it_ends(
    summary_http, admin_client_ia
):
    run = run_row(state=SyncRun.State.RUNNING, learners_in_scope=40, learners_seen=12)
    status_url = f"{RUNS_URL}{run.pk}/status/"

    summary = admin_client_ia.get(SUMMARY_URL).content.decode()
    assert f'hx-get="{status_url}" hx-trigger="every 2s"' in summary
    assert "12 of 40 learners" in summary

    SyncRun.objects.filter(pk=run.pk).update(learners_seen=30)
    polled = admin_client_ia.get(status_url, headers={"HX-Request": "true"}).content.decode()
    assert "30 of 40 learners" in polled and 'hx-trigger="every 2s"' in polled
    assert "<html" not in polled and "<script" not in polled and "style=" not in polled

    SyncRun.objects.filter(pk=run.pk).update(
        state=SyncRun.State.PARTIAL,
        finished_at=timezone.now(),
        learners_seen=40,
        qualifications_updated=7,
        reviews_created=1,
        error_count=2,
        error="",
    )
    ended = admin_client_ia.get(status_url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in ended, "the polling stops when the run ends"
    assert "Partial" in ended
    assert "40 of 40 learners; 7 qualifications updated; 1 review created; 2 errors" in ended


def test_a_queued_run_says_it_waits_and_a_failed_one_says_why(sa_settings, admin_client_ia):
    queued = run_row(state=SyncRun.State.QUEUED)
    failed = run_row(SyncRun.Trigger.DELTA, SyncRun.State.FAILED, error="Smart Assessor is down.")

    waiting = admin_client_ia.get(f"{RUNS_URL}{queued.pk}/status/").content.decode()
    assert "Waiting for the background worker" in waiting and "every 2s" in waiting
    reason = admin_client_ia.get(f"{RUNS_URL}{failed.pk}/status/").content.decode()
    assert "Failed" in reason and "Smart Assessor is down." in reason


def test_the_run_page_polls_its_body_while_it_runs_and_then_shows_its_result(
    sa_settings, admin_client_ia
):
    run = run_row(state=SyncRun.State.RUNNING, learners_in_scope=8, learners_seen=3)
    url = f"{RUNS_URL}{run.pk}/"

    page = admin_client_ia.get(url).content.decode()
    assert f'hx-get="{url}" hx-trigger="every 2s"' in page and "3 of 8 learners" in page

    SyncRun.objects.filter(pk=run.pk).update(
        state=SyncRun.State.SUCCEEDED, finished_at=timezone.now(), learners_seen=8
    )
    body = admin_client_ia.get(url, headers={"HX-Request": "true"}).content.decode()
    assert body.lstrip().startswith('<div id="sync-run"')
    assert "hx-trigger" not in body and "Succeeded" in body and "8 of 8" in body
    assert "What it changed" in body


# --- Preview the next synchronisation --------------------------------------------------------


def test_an_admin_previews_the_next_synchronisation_from_the_summary(
    summary_http, admin_client_ia, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("smartassessor.tasks.sync_dry_run.delay_on_commit", queued.append)
    summary = admin_client_ia.get(SUMMARY_URL).content.decode()
    assert "Preview the next synchronisation" in summary

    response = admin_client_ia.post("/smartassessor/sync/dry-run/")

    run = SyncRun.objects.get(trigger=SyncRun.Trigger.DRY_RUN)
    assert queued == [run.pk]
    assert run.requested_by.username == "integration-admin"
    assert response.status_code == 302 and response.url == f"{RUNS_URL}{run.pk}/"
    page = admin_client_ia.get(response.url).content.decode()
    assert "Preview of the next synchronisation" in page and "The preview has started" in page
    assert "Waiting for the background worker" in page and 'hx-trigger="every 2s"' in page


def test_no_preview_while_the_integration_is_off(admin_client_ia, db):
    summary = admin_client_ia.get(SUMMARY_URL).content.decode()
    assert "Preview the next synchronisation" not in summary
    assert admin_client_ia.post("/smartassessor/sync/dry-run/").status_code == 404
    assert not SyncRun.objects.exists()


def _dry_run_with_a_plan() -> tuple[SyncRun, list]:
    run = run_row(SyncRun.Trigger.DRY_RUN, learners_in_scope=3, learners_seen=3)
    zoe = LearnerFactory(first_name="Zoe", surname="Adams")
    amy = LearnerFactory(first_name="Amy", surname="Young")
    officer = OfficerFactory()
    planned_change(run, amy, field="Mobile")
    planned_change(
        run,
        zoe,
        field="Progress %",
        target=SyncChange.Target.QUALIFICATION,
        old_value="60",
        new_value="40",
    )
    planned_change(run, zoe, field="Email", new_value="zoe@example.test")
    planned_change(run, officer=officer, target=SyncChange.Target.OFFICER, field="Phone")
    planned_change(
        run, zoe, field="Timeline %", target=SyncChange.Target.QUALIFICATION, in_history=False
    )
    return run, [zoe, amy, officer]


def test_a_finished_preview_shows_its_plan_for_a_person(sa_settings, admin_client_ia):
    run, (zoe, amy, officer) = _dry_run_with_a_plan()

    page = admin_client_ia.get(f"{RUNS_URL}{run.pk}/").content.decode()

    assert "What the next synchronisation would change" in page
    assert "hx-trigger" not in page
    plan = page.split("What the next synchronisation would change")[1]
    # Learner by learner (surname first), each learner's fields in order, officers last.
    order = [plan.index(text) for text in ("Email", "Progress %", ">Mobile<", ">Phone<")]
    assert order == sorted(order)
    assert '60</td><td><span aria-hidden="true">→ </span>40' in plan
    assert "Timeline %" not in plan
    assert "Qualification: 1" in plan and "Learner details: 2" in plan
    assert "Officer details: 1" in plan
    assert "1 routine update nobody needs to check" in plan
    assert zoe.get_absolute_url() in plan and amy.get_absolute_url() in plan
    assert str(officer) in plan
    assert "Approve and apply" not in page, "a preview is never applied"


def test_a_held_runs_page_shows_its_plan_the_same_way(sa_settings, admin_client_ia):
    run = run_row(SyncRun.Trigger.DAILY, SyncRun.State.HELD, details_pulled=2)
    learner = LearnerFactory()
    planned_change(run, learner, field="Mobile")

    page = admin_client_ia.get(f"{RUNS_URL}{run.pk}/").content.decode()

    assert "What it would change" in page and "Learner details: 1" in page
    assert "Mobile" in page
    assert "Approve and apply these changes" in page


def test_the_plan_pages_at_a_hundred_changes(sa_settings, admin_client_ia):
    run = run_row(SyncRun.Trigger.DRY_RUN)
    learner = LearnerFactory()
    for n in range(105):
        planned_change(run, learner, field=f"Field {n:03}")

    first = admin_client_ia.get(f"{RUNS_URL}{run.pk}/").content.decode()
    second = admin_client_ia.get(f"{RUNS_URL}{run.pk}/", {"page": 2}).content.decode()

    assert "Field 099" in first and "Field 100" not in first
    assert "Field 100" in second and "Learner details: 105" in second


# --- The Summary's delta setting and freshness ------------------------------------------------


def test_the_summary_shows_the_delta_setting(summary_http, admin_client_ia):
    assert "Delta runs every 15 minutes" in admin_client_ia.get(SUMMARY_URL).content.decode()

    sync.delta_sync_minutes_set(minutes=0)
    assert "Delta runs off" in admin_client_ia.get(SUMMARY_URL).content.decode()

    sync.delta_sync_minutes_set(minutes=1)
    assert "Delta runs every 1 minute<" in admin_client_ia.get(SUMMARY_URL).content.decode()


def test_the_summary_says_how_fresh_the_data_is(summary_http, admin_client_ia):
    def fresh_as_of() -> str:
        page = admin_client_ia.get(SUMMARY_URL).content.decode()
        return page.split("Up to date as of")[1].split("</dd>")[0]

    assert "No daily or delta run has finished yet." in fresh_as_of()
    long_ago = timezone.now() - dt.timedelta(hours=5)
    daily = run_row(SyncRun.Trigger.DAILY, finished_at=long_ago)
    assert f"{RUNS_URL}{daily.pk}/" in fresh_as_of() and "daily run" in fresh_as_of()

    delta = run_row(SyncRun.Trigger.DELTA, finished_at=long_ago + dt.timedelta(hours=4))
    # Neither a later failure nor a preview nor one learner's refresh makes the data fresher.
    run_row(SyncRun.Trigger.DELTA, SyncRun.State.FAILED)
    run_row(SyncRun.Trigger.DRY_RUN)
    run_row(SyncRun.Trigger.LEARNER)
    shown = fresh_as_of()
    assert f"{RUNS_URL}{delta.pk}/" in shown and "delta run" in shown


# --- Query counts ---------------------------------------------------------------------------


def test_the_filtered_runs_list_asks_as_much_for_5_runs_as_for_25(sa_settings, admin_client_ia):
    counts = {}
    for size in (5, 25):
        runs_of_every_kind(size - SyncRun.objects.count())
        counts[size] = _queries(admin_client_ia, "get", RUNS_URL + "?state=succeeded")
    _assert_same(counts)


def test_the_plan_asks_as_much_for_5_changes_as_for_100(sa_settings, admin_client_ia):
    counts = {}
    for size in (5, 100):
        run = run_row(SyncRun.Trigger.DRY_RUN)
        for n in range(size):
            learner = LearnerFactory() if n % 2 else None
            officer = None if learner else OfficerFactory()
            target = SyncChange.Target.LEARNER if learner else SyncChange.Target.OFFICER
            planned_change(run, learner, officer=officer, target=target, field=f"Field {n}")
        counts[size] = _queries(admin_client_ia, "get", f"{RUNS_URL}{run.pk}/")
    _assert_same(counts)
