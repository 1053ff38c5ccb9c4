"""Refresh with Smart Assessor on the Delivery Plan (F14), the sync history and run pages
(F21), the held-run actions (F25), the CLI and the daily time in the settings (F13)."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_celery_beat.models import PeriodicTask

from smartassessor.client import LearnerChanges
from smartassessor.models import SyncRun
from smartassessor.services import sync
from smartassessor.services.sync import locks

from .sync_helpers import client, enrolled_learner, sa_id, set_settings

pytestmark = pytest.mark.django_db


def test_refresh_runs_in_the_background_and_shows_what_changed(
    sa_sandbox, staff_client, django_capture_on_commit_callbacks, monkeypatch
):
    learner = enrolled_learner()
    sa_sandbox.advance(60)
    queued = []
    monkeypatch.setattr("smartassessor.tasks.refresh_learner.delay", queued.append)
    plan = learner.get_absolute_url()
    assert "Refresh with Smart Assessor" in staff_client.get(plan).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/smartassessor/learners/{learner.ident}/refresh/", headers={"HX-Request": "true"}
        )

    run = SyncRun.objects.get(learner=learner)
    assert queued == [run.pk]
    assert "Refreshing" in response.content.decode() and 'hx-trigger="every 2s"' in (
        response.content.decode()
    )
    sync.learner_refresh_run(run_id=run.pk)
    page = staff_client.get(plan).content.decode()
    assert "Refreshed" in page and "Progress %" in page
    # The timeline's creep is shown as it is now, on the plan, and is not history (F21).
    timeline = learner.qualifications.get().timeline_percent
    assert timeline > 0 and f"<dd>{timeline:f}".rstrip("0").rstrip(".") + "%</dd>" in page
    history = staff_client.get(f"/smartassessor/learners/{learner.ident}/sync-history/")
    assert "Progress %" in history.content.decode() and f"Run {run.pk}" in history.content.decode()
    assert "Timeline %" not in history.content.decode()


def test_refresh_is_refused_before_enrolment_and_while_the_integration_is_off(
    sa_sandbox, staff_client
):
    from tests.factories import LearnerFactory

    learner = LearnerFactory()
    staff_client.post(f"/smartassessor/learners/{learner.ident}/refresh/")
    assert not SyncRun.objects.exists()
    set_settings(enabled=False)
    response = staff_client.post(f"/smartassessor/learners/{learner.ident}/refresh/")
    assert response.status_code == 404


def test_sync_refresh_command_prints_the_changes(sa_sandbox):
    learner = enrolled_learner()
    set_settings(learner_demographics_mode="pull")
    client().learner_update(learner_id=sa_id(learner), changes=LearnerChanges(mobile="07700 5"))
    out = io.StringIO()

    call_command("smartassessor", "sync", "--learner", learner.ident, stdout=out)

    assert "Succeeded" in out.getvalue() and "Mobile" in out.getvalue()
    learner.refresh_from_db()
    assert learner.mobile == "07700 5"


def test_sync_command_runs_a_daily_run_and_says_why_it_did_not(sa_sandbox):
    enrolled_learner()
    sa_sandbox.advance(30)
    out = io.StringIO()
    call_command("smartassessor", "sync", stdout=out)
    assert "Succeeded" in out.getvalue() and "qualifications updated: 1" in out.getvalue()

    holder = SyncRun.objects.create(trigger=SyncRun.Trigger.DAILY, state=SyncRun.State.RUNNING)
    locks.acquire(holder)
    with pytest.raises(CommandError, match="still running"):
        call_command("smartassessor", "sync", stdout=io.StringIO())


@pytest.fixture
def held_run(sa_sandbox):
    learners = [enrolled_learner(), enrolled_learner()]
    set_settings(learner_demographics_mode="pull")
    for learner in learners:
        client().learner_update(learner_id=sa_id(learner), changes=LearnerChanges(mobile="1"))
    run = sync.sync_run_daily()
    assert run.state == SyncRun.State.HELD
    return run


@pytest.mark.parametrize("who", ["anonymous", "staff", "support"])
def test_only_integration_admins_see_runs_and_decide_held_ones(
    held_run, client, staff_user, support_user, who
):
    if who != "anonymous":
        client.force_login(staff_user if who == "staff" else support_user)
    expected = 302 if who == "anonymous" else 403
    for url in ("/smartassessor/sync/runs/", f"/smartassessor/sync/runs/{held_run.pk}/"):
        assert client.get(url).status_code == expected
    for action in ("approve", "discard"):
        response = client.post(f"/smartassessor/sync/runs/{held_run.pk}/{action}/")
        assert response.status_code == expected
    assert SyncRun.objects.get(pk=held_run.pk).state == SyncRun.State.HELD


def test_the_summary_lists_runs_and_an_admin_discards_a_held_one(held_run, admin_client_ia):
    summary = admin_client_ia.get("/smartassessor/").content.decode()
    assert "Held for approval" in summary
    assert f"/smartassessor/sync/runs/{held_run.pk}/" in summary
    page = admin_client_ia.get(f"/smartassessor/sync/runs/{held_run.pk}/").content.decode()
    assert "What it would change" in page and "Mobile" in page

    admin_client_ia.post(f"/smartassessor/sync/runs/{held_run.pk}/discard/")

    assert SyncRun.objects.get(pk=held_run.pk).state == SyncRun.State.DISCARDED
    summary = admin_client_ia.get("/smartassessor/").content.decode()
    last_sync = summary.split("Last synchronisation")[1].split("</dd>")[0]
    assert "Discarded" in last_sync


def test_an_admin_approves_a_held_run(held_run, admin_client_ia, monkeypatch):
    queued = []
    monkeypatch.setattr("smartassessor.tasks.apply_held_run.delay_on_commit", queued.append)

    admin_client_ia.post(f"/smartassessor/sync/runs/{held_run.pk}/approve/")

    assert queued == [held_run.pk]
    assert SyncRun.objects.get(pk=held_run.pk).state == SyncRun.State.QUEUED


@pytest.mark.parametrize("who", ["anonymous", "staff"])
def test_the_sync_history_is_for_signed_in_staff(sa_sandbox, client, staff_user, who):
    learner = enrolled_learner()
    if who == "staff":
        client.force_login(staff_user)
    response = client.get(f"/smartassessor/learners/{learner.ident}/sync-history/")
    assert response.status_code == (200 if who == "staff" else 302)


def test_the_daily_task_is_made_at_two_and_the_settings_edit_its_time(admin_client_ia, db):
    task = PeriodicTask.objects.get(name=sync.DAILY_TASK_NAME)
    assert task.task == "smartassessor.tasks.sync_daily"
    assert str(task.crontab.timezone) == "Europe/London"
    assert sync.daily_sync_time_get() == dt.time(2, 0)
    from smartassessor.models import IntegrationSettings

    IntegrationSettings.load()
    url = "/admin/smartassessor/integrationsettings/1/change/"
    form = admin_client_ia.get(url).content.decode()
    assert 'name="sync_time"' in form and 'value="02:00"' in form

    response = admin_client_ia.post(
        url,
        {
            "base_url": "",
            "username": "",
            "learner_demographics_mode": "none",
            "officer_demographics_mode": "none",
            "safety_hold_percent": 20,
            "backwards_hold_percent": 10,
            "read_mode": "auto",
            "connect_timeout": 5,
            "read_timeout": 30,
            "requests_per_second": 10,
            "sync_time": "03:30",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    task.refresh_from_db()
    assert (task.crontab.hour, task.crontab.minute) == ("3", "30")
    assert sync.daily_sync_time_get() == dt.time(3, 30)
