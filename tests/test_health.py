"""The health checks behind the compose healthchecks of web, worker and beat."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from picsweb import health


def test_healthz_answers_without_a_login_and_is_never_cached(client, db):
    response = client.get("/healthz/")

    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]


def test_the_web_check_asks_the_running_server(live_server, capsys):
    call_command("healthcheck", "web", "--url", f"{live_server.url}/healthz/")

    assert "answered 200" in capsys.readouterr().out


def test_the_web_check_fails_when_nothing_answers():
    with pytest.raises(CommandError, match="did not answer"):
        call_command("healthcheck", "web", "--url", "http://127.0.0.1:9/healthz/", "--timeout", "1")


def _sweeper(last_run_at):
    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name=health.HEARTBEAT_TASK,
        defaults={
            "task": "smartassessor.tasks.sweep_enrolments",
            "interval": every,
            "last_run_at": last_run_at,
        },
    )


@pytest.mark.django_db
def test_beat_is_healthy_while_it_runs_the_sweeper(capsys):
    _sweeper(timezone.now() - dt.timedelta(minutes=2))

    call_command("healthcheck", "beat")

    assert "beat ran sweep-enrolments" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize("last_run", [None, dt.timedelta(minutes=11)])
def test_beat_is_unhealthy_when_the_sweeper_is_silent(last_run):
    _sweeper(None if last_run is None else timezone.now() - last_run)

    with pytest.raises(CommandError, match="Beat"):
        call_command("healthcheck", "beat")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_worker_check_pings_the_worker_on_this_host(celery_worker_process, capsys):
    call_command("healthcheck", "worker")

    assert "answered" in capsys.readouterr().out
