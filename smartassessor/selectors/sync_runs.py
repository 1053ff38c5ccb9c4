"""Reads of the synchronisation runs, their changes and their errors (F14, F21, F25)."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, Prefetch, QuerySet
from django.utils import timezone

from learners.models import Learner

from ..models import SyncChange, SyncError, SyncRun

# The runs that synchronise every learner in scope: the Summary's last synchronisation.
SYNCHRONISING = (SyncRun.Trigger.DAILY, SyncRun.Trigger.MANUAL, SyncRun.Trigger.DELTA)
# A run that ended so reads Smart Assessor's changes up to its start (F22).
FINISHED_WELL = (SyncRun.State.SUCCEEDED, SyncRun.State.PARTIAL)


def sync_runs_recent() -> QuerySet[SyncRun]:
    """Runs of every kind (daily, by hand, delta, dry run, a learner's refresh), newest
    first."""
    return SyncRun.objects.select_related("requested_by", "learner").order_by(
        "-requested_at", "-id"
    )


def sync_runs_filtered(
    *,
    trigger: str = "",
    state: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[SyncRun]:
    """The runs of one kind and outcome, requested between two days (UK time, both
    included); a blank filter keeps every run."""
    runs = sync_runs_recent()
    if trigger:
        runs = runs.filter(trigger=trigger)
    if state:
        runs = runs.filter(state=state)
    # Bounds in time rather than a __date lookup, so the index on requested_at serves them.
    if since:
        runs = runs.filter(requested_at__gte=_day_start(since))
    if until:
        runs = runs.filter(requested_at__lt=_day_start(until + dt.timedelta(days=1)))
    return runs


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def sync_run_last_finished() -> SyncRun | None:
    """The latest synchronisation (daily, by hand or delta) that ended, whatever its outcome."""
    return (
        sync_runs_recent()
        .filter(trigger__in=SYNCHRONISING)
        .exclude(state__in=[*SyncRun.ACTIVE_STATES, SyncRun.State.SKIPPED])
        .order_by(F("finished_at").desc(nulls_last=True), "-id")
        .first()
    )


def sync_run_last_daily() -> SyncRun | None:
    """The latest daily run that read what it set out to (held ones included): what it skipped
    for want of a review type mapping covers every session in scope."""
    return (
        SyncRun.objects.filter(
            trigger=SyncRun.Trigger.DAILY,
            state__in=[*FINISHED_WELL, SyncRun.State.HELD, SyncRun.State.DISCARDED],
        )
        .order_by(F("finished_at").desc(nulls_last=True), "-id")
        .first()
    )


def sync_run_last_fresh() -> SyncRun | None:
    """The latest daily or delta run that finished well: the MIS holds what Smart Assessor
    held when it started."""
    return (
        sync_runs_recent()
        .filter(trigger__in=SYNCHRONISING, state__in=FINISHED_WELL)
        .order_by(F("finished_at").desc(nulls_last=True), "-id")
        .first()
    )


def sync_runs_with_errors() -> QuerySet[SyncRun]:
    """Runs with their learner, who asked, and each error's learner, as the API shows them."""
    return SyncRun.objects.select_related("learner", "requested_by").prefetch_related(
        "learner_errors__learner"
    )


def sync_runs_filtered_with_errors(*, trigger: str = "", state: str = "") -> QuerySet[SyncRun]:
    """Runs of one kind and outcome with each run's errors, as the API lists them."""
    return sync_runs_filtered(trigger=trigger, state=state).prefetch_related(
        "learner_errors__learner"
    )


def learner_refresh_latest(*, learner: Learner) -> SyncRun | None:
    """The learner's latest Refresh with Smart Assessor, with its errors; None if never."""
    return sync_runs_with_errors().filter(learner=learner, trigger=SyncRun.Trigger.LEARNER).first()


def learner_refresh_latest_with_changes(*, learner: Learner) -> SyncRun | None:
    """The learner's latest refresh with the changes it made, for the learner's block."""
    changes = SyncChange.objects.applied().order_by("id")
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
        SyncChange.objects.applied()
        .filter(learner=learner)
        .select_related("run")
        .order_by("-at", "-id")
    )


def sync_runs_for_detail() -> QuerySet[SyncRun]:
    return SyncRun.objects.select_related("learner", "requested_by", "decided_by")


def sync_run_shows_plan(run: SyncRun) -> bool:
    """Whether the run's page shows its plan (what it would change) rather than what it
    changed: a held run waiting for a decision, and a dry run, which never writes."""
    return run.state == SyncRun.State.HELD or run.trigger == SyncRun.Trigger.DRY_RUN


# A plan as a person reads it: learner by learner, then officer by officer, record by record,
# field by field.
PLAN_ORDER = (
    F("learner__surname").asc(nulls_last=True),
    F("learner__first_name").asc(nulls_last=True),
    F("learner_id").asc(nulls_last=True),
    F("officer__surname").asc(nulls_last=True),
    F("officer_id").asc(nulls_last=True),
    "record",
    "field",
    "id",
)


def sync_run_changes(*, run: SyncRun, planned: bool) -> QuerySet[SyncChange]:
    """The run's changes in the order it made them; or, when ``planned``, its plan (the
    changes not applied) in ``PLAN_ORDER`` without the routine writes nobody needs to check."""
    changes = SyncChange.objects.filter(run=run).select_related("learner", "officer", "run")
    if not planned:
        return changes.order_by("id")
    return changes.planned().filter(in_history=True).order_by(*PLAN_ORDER)


def sync_run_changes_listed(*, run: SyncRun, applied: bool | None) -> QuerySet[SyncChange]:
    """Every change of the run, or only those applied (in the order made) or not (its plan,
    in ``PLAN_ORDER``), routine writes included, as the API lists them."""
    changes = SyncChange.objects.filter(run=run).select_related("learner", "run")
    if applied is None:
        return changes.order_by("id")
    if applied:
        return changes.applied().order_by("id")
    return changes.planned().order_by(*PLAN_ORDER)


@dataclass(frozen=True)
class ChangeCounts:
    """How many of a run's changes (or of its plan) touch each kind of record, by label in the
    order of ``SyncChange.Target``, and how many routine writes a plan leaves unlisted."""

    by_target: list[tuple[str, int]]
    routine: int = 0


def sync_run_change_counts(*, run: SyncRun, planned: bool) -> ChangeCounts:
    changes = SyncChange.objects.filter(run=run)
    changes = changes.planned() if planned else changes
    rows = changes.order_by().values_list("target", "in_history").annotate(count=Count("id"))
    listed: dict[str, int] = {}
    routine = 0
    for target, in_history, count in rows:
        if planned and not in_history:
            routine += count
        else:
            listed[target] = listed.get(target, 0) + count
    return ChangeCounts(
        by_target=[
            (str(label), listed[value])
            for value, label in SyncChange.Target.choices
            if value in listed
        ],
        routine=routine,
    )


def sync_run_errors(*, run: SyncRun) -> QuerySet[SyncError]:
    return run.learner_errors.select_related("learner")
