"""The delta synchronisation's schedule (F31): a periodic task every N minutes, edited beside the
daily time in the settings, off with 0, and the task's own schedule as the one truth."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from smartassessor.models import AuditEntry, IntegrationSettings
from smartassessor.services import settings as settings_service
from smartassessor.services import sync

from .test_admin import SETTINGS_URL, _errors, _periodic_task_form, _post_settings

pytestmark = pytest.mark.django_db


def _delta_task() -> PeriodicTask:
    return PeriodicTask.objects.select_related("interval").get(name=sync.DELTA_TASK_NAME)


def test_the_delta_task_is_made_at_fifteen_minutes(db):
    task = _delta_task()
    assert task.task == "smartassessor.tasks.sync_delta" and task.enabled
    assert (task.interval.every, task.interval.period) == (15, IntervalSchedule.MINUTES)
    assert sync.delta_sync_minutes_get() == 15


def test_the_settings_show_and_edit_the_interval_and_the_audit_says_so(admin_client_ia):
    IntegrationSettings.load()
    form = admin_client_ia.get(SETTINGS_URL).content.decode()
    assert 'name="delta_minutes"' in form and 'value="15"' in form
    assert "0 turns delta runs off" in form

    response = _post_settings(admin_client_ia, delta_minutes="30")

    assert response.status_code == 302
    task = _delta_task()
    assert (task.interval.every, task.interval.period, task.enabled) == (30, "minutes", True)
    assert sync.delta_sync_minutes_get() == 30
    entry = AuditEntry.objects.get()
    assert entry.changes == {"delta_sync_minutes": [15, 30]}
    assert entry.actor.username == "integration-admin"


def test_zero_turns_delta_runs_off_and_a_number_turns_them_on_again(admin_client_ia):
    IntegrationSettings.load()
    _post_settings(admin_client_ia, delta_minutes="0")

    assert not _delta_task().enabled and sync.delta_sync_minutes_get() == 0
    assert 'value="0"' in admin_client_ia.get(SETTINGS_URL).content.decode()

    _post_settings(admin_client_ia, delta_minutes="5")

    assert _delta_task().enabled and sync.delta_sync_minutes_get() == 5
    changes = [entry.changes for entry in AuditEntry.objects.order_by("id")]
    assert changes == [{"delta_sync_minutes": [15, 0]}, {"delta_sync_minutes": [0, 5]}]


@pytest.mark.parametrize("value", ["-1", "1441", "many"])
def test_an_interval_out_of_range_is_refused(admin_client_ia, value):
    IntegrationSettings.load()

    response = _post_settings(admin_client_ia, delta_minutes=value)

    assert response.status_code == 200 and "delta_minutes" in _errors(response)
    assert sync.delta_sync_minutes_get() == 15 and not AuditEntry.objects.exists()


def test_the_service_refuses_an_interval_out_of_range_and_saves_nothing(db):
    with pytest.raises(settings_service.SettingsRefused) as refused:
        settings_service.integration_settings_update(
            actor=None, changes={"connect_timeout": 7}, delta_sync_minutes=1441
        )

    assert "delta_sync_minutes" in refused.value.errors
    assert IntegrationSettings.load().connect_timeout == 5
    assert sync.delta_sync_minutes_get() == 15


def test_a_schedule_given_in_the_admin_is_read_back_or_reads_as_none(db):
    task = _delta_task()
    task.interval = IntervalSchedule.objects.create(every=2, period=IntervalSchedule.HOURS)
    task.save()
    assert sync.delta_sync_minutes_get() == 120

    task.interval = IntervalSchedule.objects.create(every=90, period=IntervalSchedule.SECONDS)
    task.save()
    assert sync.delta_sync_minutes_get() is None

    task.interval = None
    task.crontab = CrontabSchedule.objects.create(minute="*/5")
    task.save()
    assert sync.delta_sync_minutes_get() is None


def test_setting_the_interval_repairs_a_task_pointed_elsewhere_or_missing(db):
    PeriodicTask.objects.filter(name=sync.DELTA_TASK_NAME).update(
        task="smartassessor.tasks.enrol_learner", args="[1]"
    )

    sync.delta_sync_minutes_set(minutes=20)

    task = _delta_task()
    assert (task.task, task.args, task.interval.every) == (sync.DELTA_TASK, "[]", 20)

    task.delete()
    sync.delta_sync_minutes_set(minutes=0)
    assert not _delta_task().enabled and sync.delta_sync_minutes_get() == 0


def test_the_delta_task_may_be_rescheduled_in_the_periodic_tasks_admin(admin_client_ia):
    task = _delta_task()
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)

    response = _periodic_task_form(
        admin_client_ia,
        reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]),
        name=task.name,
        regtask=sync.DELTA_TASK,
        crontab="",
        interval=interval.pk,
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert sync.delta_sync_minutes_get() == 10


def test_demo_makes_the_delta_task_again_should_it_be_gone(monkeypatch):
    from smartassessor.services import links

    monkeypatch.setenv("SMARTASSESSOR_PASSWORD", "demo-password")
    monkeypatch.setenv("SMARTASSESSOR_CLIENT_KEY", "demo-client-key")
    monkeypatch.setattr(links, "link_refresh_request", lambda actor: None)
    _delta_task().delete()

    call_command("smartassessor", "demo", "--username", "demo", stdout=io.StringIO())

    assert sync.delta_sync_minutes_get() == sync.DELTA_DEFAULT_MINUTES == 15


def test_the_backwards_hold_and_the_read_mode_are_settings_with_bounds(db):
    settings_service.integration_settings_update(
        actor=None, changes={"backwards_hold_percent": 25, "read_mode": "lists"}
    )
    stored = IntegrationSettings.load()
    assert (stored.backwards_hold_percent, stored.read_mode) == (25, "lists")
    assert AuditEntry.objects.get().changes == {
        "backwards_hold_percent": [10, 25],
        "read_mode": ["auto", "lists"],
    }
    with pytest.raises(settings_service.SettingsRefused) as refused:
        settings_service.integration_settings_update(
            actor=None, changes={"backwards_hold_percent": 0, "read_mode": "sometimes"}
        )
    assert {"backwards_hold_percent", "read_mode"} <= set(refused.value.errors)
    assert IntegrationSettings.load().read_mode == "lists"
