"""A daily run whose worker died is noticed (issue 11, point 6): its heartbeat stops, its lease
runs out within a minute, the sweeper closes it as failed and frees the lock, and "run now"
works again within two minutes. A live run is never closed. "Learners seen" never exceeds
"learners in scope"."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from smartassessor.models import SyncLock, SyncRun
from smartassessor.services import sync
from smartassessor.services.sync import locks, runs

from .sync_helpers import enrolled_learner

pytestmark = pytest.mark.django_db

DIED = "The run stopped without finishing (its worker was stopped); the next run catches up."


class WorkerKilled(BaseException):
    """What a killed worker looks like to the run: the code stops and nothing is recorded."""


@pytest.fixture
def no_client(monkeypatch):
    """No call reaches Smart Assessor: the steps that would call it are replaced."""
    monkeypatch.setattr(runs, "client_from_settings", lambda: object())


def _later(monkeypatch, by: dt.timedelta) -> None:
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + by)


def _run_now() -> SyncRun:
    return sync.sync_run_daily(trigger=SyncRun.Trigger.MANUAL)


def test_a_run_whose_worker_was_killed_is_closed_and_run_now_works_within_two_minutes(
    monkeypatch, no_client
):
    def killed(work, **_):
        raise WorkerKilled

    monkeypatch.setattr(runs, "plan_run", killed)
    monkeypatch.setattr(locks, "release", lambda run: None)  # a killed worker frees nothing
    with pytest.raises(WorkerKilled):
        _run_now()
    dead = SyncRun.objects.get()
    # The next worker is a healthy one.
    monkeypatch.undo()
    monkeypatch.setattr(runs, "client_from_settings", lambda: object())
    monkeypatch.setattr(runs, "plan_run", lambda work, **_: None)

    _later(monkeypatch, dt.timedelta(minutes=2))
    sync.sync_runs_sweep()

    dead.refresh_from_db()
    assert dead.state == SyncRun.State.FAILED and dead.error == DIED and dead.finished_at
    lock = SyncLock.objects.get(name=sync.LOCK_NAME)
    assert lock.expires_at is None, "the lock is free"
    again = _run_now()
    assert again.state == SyncRun.State.SUCCEEDED, again.error


def test_a_run_whose_heartbeat_stopped_61_seconds_ago_is_closed_by_the_sweeper(no_client):
    now = timezone.now()
    dead = SyncRun.objects.create(
        trigger=SyncRun.Trigger.DAILY,
        state=SyncRun.State.RUNNING,
        started_at=now - dt.timedelta(minutes=3),
        learners_in_scope=1500,
        learners_seen=167,
    )
    assert locks.acquire(dead) is None
    stopped = now - dt.timedelta(seconds=61)
    SyncLock.objects.filter(name=sync.LOCK_NAME).update(expires_at=stopped)
    SyncRun.objects.filter(pk=dead.pk).update(lease_until=stopped)

    assert sync.sync_runs_sweep() == 1

    dead.refresh_from_db()
    assert dead.state == SyncRun.State.FAILED and dead.error == DIED
    assert dead.lease_until is None
    assert SyncLock.objects.get(name=sync.LOCK_NAME).expires_at is None
    # Swept again, nothing more moves.
    assert sync.sync_runs_sweep() == 0


def test_a_live_run_with_a_fresh_lease_is_never_closed(no_client):
    """A long run (40 minutes in) whose heartbeat renewed its lease a moment ago stays running,
    even when the sweeper comes between the heartbeat's renewal of the lease and of the lock."""
    now = timezone.now()
    live = SyncRun.objects.create(
        trigger=SyncRun.Trigger.DAILY,
        state=SyncRun.State.RUNNING,
        started_at=now - dt.timedelta(minutes=40),
    )
    assert locks.acquire(live) is None
    SyncLock.objects.filter(name=sync.LOCK_NAME).update(expires_at=now - dt.timedelta(seconds=1))
    SyncRun.objects.filter(pk=live.pk).update(lease_until=now + dt.timedelta(seconds=59))

    assert sync.sync_runs_sweep() == 0

    live.refresh_from_db()
    assert live.state == SyncRun.State.RUNNING and live.error == ""


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_the_lock_during_a_long_remote_call(monkeypatch, no_client):
    """A step longer than the lease (here 1 s) keeps the run alive: the sweeper leaves it and a
    second "run now" is refused, and the run then finishes."""
    monkeypatch.setattr(locks, "LOCK_TTL", dt.timedelta(seconds=1))
    monkeypatch.setattr(locks, "HEARTBEAT_SECONDS", 0.2, raising=False)
    seen = {}

    def slow_call(work, **_):
        time.sleep(2.5)
        seen["swept"] = sync.sync_runs_sweep()
        seen["second"] = _run_now().state
        seen["state"] = SyncRun.objects.get(pk=work.run.pk).state

    monkeypatch.setattr(runs, "plan_run", slow_call)
    run = sync.sync_run_daily()

    assert seen == {
        "swept": 0,
        "second": SyncRun.State.SKIPPED,
        "state": SyncRun.State.RUNNING,
    }
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert SyncRun.objects.get(pk=run.pk).state == SyncRun.State.SUCCEEDED


def test_learners_seen_never_exceeds_learners_in_scope(sa_sandbox, monkeypatch):
    """A learner enrolled while the run works is read from the feeds: counted in scope too."""
    enrolled_learner()
    daily_work = runs.plan_run

    def enrolled_meanwhile(work, **kwargs):
        enrolled_learner()
        daily_work(work, **kwargs)

    monkeypatch.setattr(runs, "plan_run", enrolled_meanwhile)
    sa_sandbox.advance(10)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert run.learners_seen == 2
    assert run.learners_seen <= run.learners_in_scope == 2
    stored = SyncRun.objects.get(pk=run.pk)
    assert (stored.learners_seen, stored.learners_in_scope) == (2, 2)
