"""Reads of the synchronisation runs, their changes and their errors (F14, F21, F25)."""

from django.db.models import Prefetch, QuerySet

from learners.models import Learner

from ..models import SyncChange, SyncError, SyncRun


def sync_runs_recent() -> QuerySet[SyncRun]:
    """Daily and hand-started runs, newest first (one learner's refreshes are on its page)."""
    return (
        SyncRun.objects.exclude(trigger=SyncRun.Trigger.LEARNER)
        .select_related("requested_by")
        .order_by("-requested_at", "-id")
    )


def sync_run_last_finished() -> SyncRun | None:
    return (
        sync_runs_recent()
        .exclude(state__in=[*SyncRun.ACTIVE_STATES, SyncRun.State.SKIPPED])
        .first()
    )


def sync_runs_with_errors() -> QuerySet[SyncRun]:
    """Runs with their learner, who asked, and each error's learner, as the API shows them."""
    return SyncRun.objects.select_related("learner", "requested_by").prefetch_related(
        "learner_errors__learner"
    )


def sync_runs_recent_with_errors() -> QuerySet[SyncRun]:
    return sync_runs_recent().select_related("learner").prefetch_related("learner_errors__learner")


def learner_refresh_latest(*, learner: Learner) -> SyncRun | None:
    """The learner's latest Refresh with Smart Assessor, with its errors; None if never."""
    return sync_runs_with_errors().filter(learner=learner, trigger=SyncRun.Trigger.LEARNER).first()


def learner_refresh_latest_with_changes(*, learner: Learner) -> SyncRun | None:
    """The learner's latest refresh with the changes it made, for the learner's block."""
    changes = SyncChange.objects.filter(applied=True).order_by("id")
    return (
        SyncRun.objects.filter(learner=learner, trigger=SyncRun.Trigger.LEARNER)
        .select_related("requested_by")
        .prefetch_related(Prefetch("changes", changes), "learner_errors")
        .first()
    )


def learner_sync_changes(*, learner: Learner) -> QuerySet[SyncChange]:
    """Everything synchronisation changed on the learner, newest first: applied plans only (a
    held run's or a dry run's plan changed nothing)."""
    return (
        SyncChange.objects.filter(learner=learner, applied=True)
        .select_related("run")
        .order_by("-at", "-id")
    )


def sync_runs_for_detail() -> QuerySet[SyncRun]:
    return SyncRun.objects.select_related("learner", "decided_by")


def sync_run_changes(*, run: SyncRun, held: bool) -> QuerySet[SyncChange]:
    """The run's changes in order; of a held run, only those waiting for a decision."""
    changes = run.changes.select_related("learner", "officer").order_by("id")
    return changes.filter(applied=False) if held else changes


def sync_run_errors(*, run: SyncRun) -> QuerySet[SyncError]:
    return run.learner_errors.select_related("learner")
