"""``manage.py smartassessor sync --dry-run`` and ``--delta`` (F25, F31). The engine's entry
points are replaced here by stand-ins that write rows: the engine's own tests run the real ones."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from smartassessor.models import SyncRun
from smartassessor.services import sync
from tests.factories import LearnerFactory

from .run_rows import planned_change, run_row

pytestmark = pytest.mark.django_db


def test_sync_dry_run_builds_the_plan_in_the_foreground_and_prints_it(sa_settings, monkeypatch):
    learner = LearnerFactory(first_name="Zoe", surname="Adams")

    def work(*, actor=None):
        run = SyncRun.objects.create(
            trigger=SyncRun.Trigger.DRY_RUN,
            state=SyncRun.State.SUCCEEDED,
            learners_in_scope=1,
            learners_seen=1,
            finished_at=timezone.now(),
        )
        planned_change(run, learner, field="Mobile")
        return run

    monkeypatch.setattr(sync, "sync_run_dry", work)
    out = io.StringIO()

    call_command("smartassessor", "sync", "--dry-run", stdout=out)

    run = SyncRun.objects.get()
    assert run.trigger == SyncRun.Trigger.DRY_RUN and run.state == SyncRun.State.SUCCEEDED
    printed = out.getvalue()
    assert f"Sync run {run.pk} (Dry run): Succeeded" in printed
    assert "It would change: Learner details 1" in printed
    assert "Zoe Adams" in printed and "Mobile: 07700 1 → 07700 2" in printed


def test_sync_delta_prints_its_counts_or_says_it_did_not_start(sa_settings, monkeypatch):
    delta = run_row(SyncRun.Trigger.DELTA, learners_in_scope=4, learners_seen=4, reviews_created=2)
    monkeypatch.setattr(sync, "sync_run_delta", lambda: delta)
    out = io.StringIO()

    call_command("smartassessor", "sync", "--delta", stdout=out)

    assert f"Sync run {delta.pk} (Delta): Succeeded" in out.getvalue()
    assert "reviews created: 2" in out.getvalue()

    monkeypatch.setattr(sync, "sync_run_delta", lambda: None)
    with pytest.raises(CommandError, match="did not start: another synchronisation is running"):
        call_command("smartassessor", "sync", "--delta", stdout=io.StringIO())


def test_sync_takes_one_kind_of_run_at_a_time(sa_settings):
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("smartassessor", "sync", "--delta", "--dry-run", stdout=io.StringIO())
