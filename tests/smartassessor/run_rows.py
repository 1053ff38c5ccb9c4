"""Synchronisation runs and their changes made as rows, for the pages' and the API's tests
(the engine's own tests run real ones)."""

from django.utils import timezone

from smartassessor.models import SyncChange, SyncError, SyncRun
from tests.factories import LearnerFactory

KINDS = {
    SyncRun.Trigger.DAILY: "Daily",
    SyncRun.Trigger.MANUAL: "Started by hand",
    SyncRun.Trigger.DELTA: "Delta",
    SyncRun.Trigger.DRY_RUN: "Dry run",
    SyncRun.Trigger.LEARNER: "Refresh with Smart Assessor",
}


def run_row(trigger=SyncRun.Trigger.DAILY, state=SyncRun.State.SUCCEEDED, **fields) -> SyncRun:
    finished = state not in SyncRun.ACTIVE_STATES
    now = timezone.now()
    fields.setdefault("started_at", now if state != SyncRun.State.QUEUED else None)
    fields.setdefault("finished_at", now if finished else None)
    if trigger == SyncRun.Trigger.LEARNER:
        fields.setdefault("learner", LearnerFactory())
    return SyncRun.objects.create(trigger=trigger, state=state, **fields)


def planned_change(run, learner=None, *, officer=None, field="Mobile", **fields) -> SyncChange:
    fields.setdefault("target", SyncChange.Target.LEARNER)
    return SyncChange.objects.create(
        run=run,
        learner=learner,
        officer=officer,
        record=str(learner or officer),
        field=field,
        attr=field.lower(),
        old_value=fields.pop("old_value", "07700 1"),
        new_value=fields.pop("new_value", "07700 2"),
        **fields,
    )


def runs_of_every_kind(count: int) -> None:
    """``count`` finished runs, of each kind in turn, each with an error."""
    kinds = list(KINDS)
    for n in range(count):
        run = run_row(kinds[n % len(kinds)], requested_by=None)
        SyncError.objects.create(run=run, subject="Someone", message="Refused")
