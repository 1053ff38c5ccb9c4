"""Nothing loops, nothing is stranded (issue 9, point 2): a link refresh, a daily run, a
learner's refresh and an approved held run each end in a state a person can act on, within a
bounded number of attempts, whatever is raised, and the sweepers take over from dead workers."""

import contextlib
import datetime as dt
import logging

import pytest
from django.db import DataError, IntegrityError
from django.urls import reverse
from django.utils import timezone

from smartassessor import tasks
from smartassessor.client import types as sa
from smartassessor.models import (
    Enrolment,
    LinkRefresh,
    QualificationLink,
    SyncChange,
    SyncLock,
    SyncRun,
)
from smartassessor.services import links, sync
from smartassessor.services.sync import locks, refresh, runs
from tests.factories import LearnerFactory, QualificationFactory

pytestmark = pytest.mark.django_db

UNEXPECTED = [
    KeyError("CourseId"),
    RecursionError("maximum recursion depth exceeded"),
    DataError("value too long for type character varying(36)"),
    IntegrityError("duplicate key value violates unique constraint"),
]
IDS = [type(exc).__name__ for exc in UNEXPECTED]


class WorkerKilled(BaseException):
    """What a killed worker looks like to the row: the code stops and nothing is recorded."""


def _tracebacks(caplog) -> int:
    return sum(1 for record in caplog.records if record.exc_info)


def _sent(monkeypatch, task) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(task, "delay_on_commit", sent.append)
    return sent


def _lease_runs_out(model, pk: int) -> None:
    model.objects.filter(pk=pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))


# --- Refresh Qualification Links -----------------------------------------------------------


class FakeClient:
    """Smart Assessor's course list, with something to do while it is read."""

    def __init__(self, during=None):
        self.during = during
        self.calls = 0

    def course_list(self, page_size):
        self.calls += 1
        if self.during:
            during, self.during = self.during, None
            during()
        yield sa.Course(
            smart_assessor_id=101,
            qan_code="ST0070",
            qualification_title="Business Administrator",
            is_active=True,
        )


def _fake_client(monkeypatch, client) -> None:
    monkeypatch.setattr(links, "client_from_settings", lambda: client)


def test_a_link_refresh_delivered_twice_runs_once(monkeypatch):
    QualificationFactory(reference="ST0070")
    refresh = LinkRefresh.objects.create()
    # The second delivery of the task arrives while the first worker is reading the courses.
    client = FakeClient(
        during=lambda: links.qualification_links_refresh(
            refresh=LinkRefresh.objects.get(pk=refresh.pk), last_try=False
        )
    )
    _fake_client(monkeypatch, client)

    done = links.qualification_links_refresh(refresh=refresh, last_try=False)

    assert client.calls == 1
    assert done.state == LinkRefresh.State.SUCCEEDED and done.attempts == 1
    assert (done.linked, done.unlinked, done.unchanged) == (1, 0, 0)
    # Delivered again after it finished, it does nothing.
    links.qualification_links_refresh(refresh=done, last_try=False)
    assert client.calls == 1


def test_a_worker_whose_lease_was_taken_over_writes_nothing(monkeypatch):
    QualificationFactory(reference="ST0070")
    refresh = LinkRefresh.objects.create()

    def taken_over():
        # The first worker stalled past its lease; another delivery takes the refresh over and
        # finishes it.
        _lease_runs_out(LinkRefresh, refresh.pk)
        links.qualification_links_refresh(
            refresh=LinkRefresh.objects.get(pk=refresh.pk), last_try=False
        )

    _fake_client(monkeypatch, FakeClient(during=taken_over))

    links.qualification_links_refresh(refresh=refresh, last_try=False)

    refresh.refresh_from_db()
    assert refresh.state == LinkRefresh.State.SUCCEEDED and refresh.attempts == 2
    assert (refresh.linked, refresh.unchanged) == (1, 0)
    assert QualificationLink.objects.count() == 1


@pytest.mark.parametrize("error", UNEXPECTED, ids=IDS)
def test_a_link_refresh_stopped_by_any_error_is_counted_and_fails_after_the_cap(
    monkeypatch, caplog, error, admin_client_ia, sa_settings
):
    class Broken(FakeClient):
        def course_list(self, page_size):
            raise error

    _fake_client(monkeypatch, Broken())
    refresh = LinkRefresh.objects.create()
    name = type(error).__name__

    for attempt in range(1, links.LINK_REFRESH_ATTEMPTS):
        caplog.clear()
        with caplog.at_level(logging.ERROR), pytest.raises(links.TryAgainLater):
            links.qualification_links_refresh(refresh=refresh, last_try=False)
        refresh.refresh_from_db()
        assert refresh.state == LinkRefresh.State.QUEUED
        assert refresh.attempts == attempt
        assert f"unexpected error ({name}" in refresh.error and "Trying again" in refresh.error
        assert _tracebacks(caplog) == 1

    failed = links.qualification_links_refresh(refresh=refresh, last_try=False)

    assert failed.state == LinkRefresh.State.FAILED
    assert failed.attempts == links.LINK_REFRESH_ATTEMPTS
    assert f"unexpected error ({name}" in failed.error and "Traceback" not in failed.error
    assert "Request another refresh" in failed.error
    page = admin_client_ia.get(reverse("smartassessor:link_refresh_status", args=[refresh.pk]))
    assert "Failed" in page.content.decode() and name in page.content.decode()
    # Nothing runs it again.
    assert links.qualification_links_refresh(refresh=failed, last_try=False).attempts == 5


def test_a_write_that_breaks_a_constraint_leaves_no_links_and_a_message(monkeypatch):
    QualificationFactory(reference="ST0070")
    _fake_client(monkeypatch, FakeClient())

    def clash(*args, **kwargs):
        raise IntegrityError('duplicate key value violates unique constraint "course_id"')

    monkeypatch.setattr(QualificationLink.objects, "bulk_create", clash)

    failed = links.qualification_links_refresh(refresh=LinkRefresh.objects.create())

    assert failed.state == LinkRefresh.State.FAILED and failed.attempts == 1
    assert "unexpected error (IntegrityError: duplicate key" in failed.error
    assert not QualificationLink.objects.exists()


def test_a_link_refresh_whose_worker_died_is_taken_back_and_failed_after_the_cap(
    monkeypatch,
):
    def killed(page_size):
        raise WorkerKilled

    client = FakeClient()
    client.course_list = killed
    _fake_client(monkeypatch, client)
    sent = _sent(monkeypatch, tasks.refresh_qualification_links)
    refresh = LinkRefresh.objects.create()

    for attempt in range(1, links.LINK_REFRESH_ATTEMPTS + 1):
        with pytest.raises(WorkerKilled):
            links.qualification_links_refresh(refresh=refresh, last_try=False)
        refresh.refresh_from_db()
        assert refresh.state == LinkRefresh.State.RUNNING and refresh.attempts == attempt
        links.link_refreshes_sweep()
        refresh.refresh_from_db()
        assert refresh.state == LinkRefresh.State.RUNNING, "swept while its lease holds"
        _lease_runs_out(LinkRefresh, refresh.pk)
        links.link_refreshes_sweep()
        refresh.refresh_from_db()
        if attempt < links.LINK_REFRESH_ATTEMPTS:
            assert refresh.state == LinkRefresh.State.QUEUED
            assert sent[-1] == refresh.pk and len(sent) == attempt
            assert "stopped without finishing" in refresh.error

    assert refresh.state == LinkRefresh.State.FAILED
    assert "each of its 5 attempts" in refresh.error and "Request another" in refresh.error
    assert links.link_refreshes_sweep() == 0
    assert len(sent) == links.LINK_REFRESH_ATTEMPTS - 1


def test_a_link_refresh_no_worker_takes_is_sent_again_then_failed(monkeypatch):
    sent = _sent(monkeypatch, tasks.refresh_qualification_links)
    refresh = links.link_refresh_request(actor=None)
    assert sent == [refresh.pk]

    assert links.link_refreshes_sweep() == 0  # just queued: its task is on its way
    _lease_runs_out(LinkRefresh, refresh.pk)
    assert links.link_refreshes_sweep() == 1
    assert sent == [refresh.pk, refresh.pk]

    LinkRefresh.objects.filter(pk=refresh.pk).update(
        requested_at=timezone.now() - links.GIVE_UP_AFTER - dt.timedelta(seconds=1)
    )
    assert links.link_refreshes_sweep() == 1
    refresh.refresh_from_db()
    assert refresh.state == LinkRefresh.State.FAILED
    assert "check that the background worker is running" in refresh.error
    assert links.link_refreshes_sweep() == 0 and len(sent) == 2


# --- The daily run --------------------------------------------------------------------------


@pytest.fixture
def no_client(monkeypatch):
    """No call reaches Smart Assessor: the steps that would call it are replaced."""
    monkeypatch.setattr(runs, "client_from_settings", lambda: object())
    monkeypatch.setattr(refresh, "client_from_settings", lambda: object())


def _lock_is_free() -> bool:
    other = SyncRun.objects.create(trigger=SyncRun.Trigger.MANUAL, state=SyncRun.State.RUNNING)
    free = locks.acquire(other) is None
    locks.release(other)
    return free


@pytest.mark.parametrize("step", [(runs, "plan_run"), (locks, "watermarks_move")])
@pytest.mark.parametrize("error", UNEXPECTED, ids=IDS)
def test_a_daily_run_stopped_by_any_error_fails_with_a_message_and_frees_the_lock(
    monkeypatch, caplog, no_client, error, step
):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(runs, "plan_run", lambda work, **_: None)
    monkeypatch.setattr(*step, broken)

    with caplog.at_level(logging.ERROR):
        run = sync.sync_run_daily()

    stored = SyncRun.objects.get(pk=run.pk)
    assert stored.state == SyncRun.State.FAILED and stored.finished_at
    assert f"unexpected error ({type(error).__name__}: " in stored.error
    assert "next run catches up" in stored.error and "(" + repr(error) not in stored.error
    assert _tracebacks(caplog) == 1
    assert _lock_is_free()
    # The next run is not refused.
    monkeypatch.setattr(*step, lambda *args, **kwargs: None)
    assert sync.sync_run_daily().state == SyncRun.State.SUCCEEDED


# --- A learner's refresh --------------------------------------------------------------------


def _refresh() -> SyncRun:
    learner = LearnerFactory()
    Enrolment.objects.create(
        learner=learner,
        state=Enrolment.State.ENROLLED,
        sa_learner_id="00000000-0000-4000-8000-000000000001",
        enrolled_at=timezone.now(),
    )
    return SyncRun.objects.create(trigger=SyncRun.Trigger.LEARNER, learner=learner)


@pytest.mark.parametrize("error", UNEXPECTED, ids=IDS)
def test_a_learner_refresh_stopped_by_any_error_is_counted_and_fails_after_the_cap(
    monkeypatch, caplog, no_client, error
):
    def broken(work, enrolment):
        raise error

    monkeypatch.setattr(refresh, "refresh_work", broken)
    run = _refresh()
    name = type(error).__name__

    for attempt in range(1, sync.LEARNER_REFRESH_ATTEMPTS):
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            sync.learner_refresh_run(run_id=run.pk)
        run.refresh_from_db()
        assert run.state == SyncRun.State.QUEUED and run.attempts == attempt
        assert f"unexpected error ({name}" in run.error and "Trying again" in run.error
        assert _tracebacks(caplog) == 1

    sync.learner_refresh_run(run_id=run.pk)

    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED and run.finished_at
    assert run.attempts == sync.LEARNER_REFRESH_ATTEMPTS
    assert f"unexpected error ({name}" in run.error and "Press Refresh" in run.error
    assert sync.learner_refresh_run(run_id=run.pk) is None


def test_a_learner_refresh_in_the_foreground_fails_at_once(monkeypatch, no_client):
    def broken(work, enrolment):
        raise KeyError("CourseId")

    monkeypatch.setattr(refresh, "refresh_work", broken)
    run = _refresh()

    done = sync.learner_refresh_now(learner=run.learner)

    assert done.state == SyncRun.State.FAILED and "KeyError: 'CourseId'" in done.error


def test_a_learner_refresh_whose_worker_died_is_taken_back_and_failed_after_the_cap(
    monkeypatch, no_client
):
    def killed(work, enrolment):
        raise WorkerKilled

    monkeypatch.setattr(refresh, "refresh_work", killed)
    sent = _sent(monkeypatch, tasks.refresh_learner)
    run = _refresh()

    for attempt in range(1, sync.LEARNER_REFRESH_ATTEMPTS + 1):
        with pytest.raises(WorkerKilled):
            sync.learner_refresh_run(run_id=run.pk)
        sync.sync_runs_sweep()
        run.refresh_from_db()
        assert run.state == SyncRun.State.RUNNING, "swept while its lease holds"
        _lease_runs_out(SyncRun, run.pk)
        sync.sync_runs_sweep()
        run.refresh_from_db()
        if attempt < sync.LEARNER_REFRESH_ATTEMPTS:
            assert run.state == SyncRun.State.QUEUED and len(sent) == attempt
            assert "stopped without finishing" in run.error

    assert run.state == SyncRun.State.FAILED
    assert "each of its 3 attempts" in run.error and "Press Refresh" in run.error
    assert sync.sync_runs_sweep() == 0
    assert sent == [run.pk] * (sync.LEARNER_REFRESH_ATTEMPTS - 1)


def test_a_learner_refresh_queued_again_is_sent_when_due_and_a_lost_one_ends(
    monkeypatch, no_client
):
    def broken(work, enrolment):
        raise KeyError("CourseId")

    monkeypatch.setattr(refresh, "refresh_work", broken)
    sent = _sent(monkeypatch, tasks.refresh_learner)
    run = _refresh()
    sync.learner_refresh_run(run_id=run.pk)

    assert sync.sync_runs_sweep() == 0  # its retry is not due yet
    _lease_runs_out(SyncRun, run.pk)
    assert sync.sync_runs_sweep() == 1 and sent == [run.pk]

    # Its task is lost again and again: it ends instead of being sent for ever.
    SyncRun.objects.filter(pk=run.pk).update(
        requested_at=timezone.now() - sync.GIVE_UP_AFTER - dt.timedelta(seconds=1)
    )
    assert sync.sync_runs_sweep() == 1
    run.refresh_from_db()
    assert run.state == SyncRun.State.FAILED and "background worker" in run.error
    assert sync.sync_runs_sweep() == 0 and sent == [run.pk]


# --- An approved held run -------------------------------------------------------------------

NEW_MOBILE = "07700 900123"


def _held_run() -> SyncRun:
    learner = LearnerFactory(mobile="07700 900000")
    Enrolment.objects.create(
        learner=learner,
        state=Enrolment.State.ENROLLED,
        sa_learner_id="00000000-0000-4000-8000-000000000002",
        enrolled_at=timezone.now(),
    )
    now = timezone.now()
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.DAILY,
        state=SyncRun.State.HELD,
        started_at=now - dt.timedelta(hours=1),
        finished_at=now,
    )
    SyncChange.objects.create(
        run=run,
        learner=learner,
        target=SyncChange.Target.LEARNER,
        direction=SyncChange.Direction.PULL,
        record=str(learner),
        field="Mobile",
        attr="mobile",
        old_value=learner.mobile,
        new_value=NEW_MOBILE,
        value=NEW_MOBILE,
    )
    return run


def _apply(pk: int) -> None:
    """What the task does: apply, or leave it waiting while the lock is taken."""
    with contextlib.suppress(sync.SyncBusy):
        sync.sync_run_apply_held(run_id=pk)


def test_an_approval_made_while_the_lock_is_taken_is_applied_once_it_is_free(
    monkeypatch, no_client, admin_user
):
    held = _held_run()
    daily = SyncRun.objects.create(trigger=SyncRun.Trigger.DAILY, state=SyncRun.State.RUNNING)
    assert locks.acquire(daily) is None
    sent = _sent(monkeypatch, tasks.apply_held_run)

    sync.sync_run_approve(run=held, actor=admin_user)
    for pk in sent:  # the task finds the lock taken and gives up
        _apply(pk)
    sent.clear()

    sync.sync_runs_sweep()
    assert sent == [] and SyncRun.objects.get(pk=held.pk).state == SyncRun.State.QUEUED

    locks.release(daily)
    sync.sync_runs_sweep()
    assert sent == [held.pk]
    for pk in sent:
        _apply(pk)

    applied = SyncRun.objects.get(pk=held.pk)
    assert applied.state == SyncRun.State.SUCCEEDED and applied.details_pulled == 1
    assert SyncChange.objects.get(run=held).learner.mobile == NEW_MOBILE
    # Sent again by mistake, it changes nothing.
    sent.clear()
    sync.sync_runs_sweep()
    _apply(held.pk)
    assert sent == [] and SyncRun.objects.get(pk=held.pk).details_pulled == 1


@pytest.mark.parametrize("error", UNEXPECTED, ids=IDS)
def test_an_error_while_applying_holds_the_run_again_with_a_message(
    monkeypatch, caplog, no_client, admin_user, error
):
    held = _held_run()
    sent = _sent(monkeypatch, tasks.apply_held_run)

    def broken(work):
        raise error

    monkeypatch.setattr(runs, "apply_plan", broken)
    sync.sync_run_approve(run=held, actor=admin_user)
    with caplog.at_level(logging.ERROR):
        _apply(sent[0])

    again = SyncRun.objects.get(pk=held.pk)
    assert again.state == SyncRun.State.HELD
    assert f"unexpected error ({type(error).__name__}: " in again.error
    assert "approve again" in again.error and "discard" in again.error
    assert _tracebacks(caplog) == 1
    assert _lock_is_free()

    monkeypatch.undo()
    monkeypatch.setattr(runs, "client_from_settings", lambda: object())
    sync.sync_run_approve(run=again, actor=admin_user)
    sync.sync_run_apply_held(run_id=held.pk)
    done = SyncRun.objects.get(pk=held.pk)
    assert done.state == SyncRun.State.SUCCEEDED and done.error == ""
    assert done.details_pulled == 1


def test_a_run_held_again_can_be_discarded_and_its_page_says_why(
    monkeypatch, no_client, admin_user, admin_client_ia, sa_settings
):
    held = _held_run()
    _sent(monkeypatch, tasks.apply_held_run)

    def broken(work):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(runs, "apply_plan", broken)
    sync.sync_run_approve(run=held, actor=admin_user)
    _apply(held.pk)

    page = admin_client_ia.get(f"/smartassessor/sync/runs/{held.pk}/").content.decode()
    assert "Held for approval" in page and "RecursionError" in page
    assert "Approve and apply these changes" in page and "Discard these changes" in page
    sync.sync_run_discard(run=held, actor=admin_user)
    assert SyncRun.objects.get(pk=held.pk).state == SyncRun.State.DISCARDED


def test_an_approval_whose_worker_died_while_applying_is_held_again(
    monkeypatch, no_client, admin_user
):
    held = _held_run()
    sent = _sent(monkeypatch, tasks.apply_held_run)

    def killed(work, **_):
        raise WorkerKilled

    monkeypatch.setattr(runs, "apply_plan", killed)
    sync.sync_run_approve(run=held, actor=admin_user)
    # The lock is not released by a killed worker: simulated by taking it back afterwards.
    monkeypatch.setattr(locks, "release", lambda run: None)
    with pytest.raises(WorkerKilled):
        sync.sync_run_apply_held(run_id=sent[0])
    assert SyncRun.objects.get(pk=held.pk).state == SyncRun.State.RUNNING

    sync.sync_runs_sweep()
    assert SyncRun.objects.get(pk=held.pk).state == SyncRun.State.RUNNING, "it holds the lock"
    SyncLock.objects.filter(name=sync.LOCK_NAME).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    sync.sync_runs_sweep()

    again = SyncRun.objects.get(pk=held.pk)
    assert again.state == SyncRun.State.HELD
    assert "stopped without finishing" in again.error and "approve again" in again.error
