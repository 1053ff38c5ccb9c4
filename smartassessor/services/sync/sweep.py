"""Keeping runs moving: every run ends in a state a person can act on, whatever happened to
its worker or its task."""

import datetime as dt

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from picsweb.task_queue import queue_on_commit

from ...models import SyncLock, SyncRun
from . import locks, refresh
from .runs import APPROVAL_WAITS, REQUEUE_AFTER, approval_send, held_again

# Runs from before leases (none set) running this long without holding the lock died.
STALE_AFTER = dt.timedelta(minutes=30)
# A refresh or dry run that no worker finished in this long fails, whatever happened to its task.
GIVE_UP_AFTER = dt.timedelta(minutes=30)


def _refreshes(now: dt.datetime) -> int:
    """Learners' refreshes: fail those that cannot finish (no worker took them for too long,
    or a worker stopped on each attempt), take back those whose worker died, and send again
    those whose task was lost or whose retry is due."""
    from ...tasks import refresh_learner

    refreshes = SyncRun.objects.filter(trigger=SyncRun.Trigger.LEARNER)
    queued, running = SyncRun.State.QUEUED, SyncRun.State.RUNNING
    gave_up = refreshes.filter(state=queued, requested_at__lt=now - GIVE_UP_AFTER).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        lease_until=None,
        error=f"No worker finished this refresh within {GIVE_UP_AFTER.seconds // 60} minutes: "
        "check that the background worker is running, then press Refresh with Smart Assessor "
        "again.",
    )
    died = refreshes.filter(state=running, lease_until__lt=now)
    failed = died.filter(attempts__gte=refresh.LEARNER_REFRESH_ATTEMPTS).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        lease_until=None,
        error="The refresh stopped without finishing on each of its "
        f"{refresh.LEARNER_REFRESH_ATTEMPTS} attempts (its worker was stopped). Press Refresh "
        "with Smart Assessor again; if it fails again, tell support.",
    )
    lost = refreshes.filter(state=queued).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, requested_at__lt=now - REQUEUE_AFTER)
    )
    resent = list(lost.values_list("pk", flat=True))
    lost.filter(pk__in=resent).update(lease_until=now + REQUEUE_AFTER)
    for pk, attempts in list(died.values_list("pk", "attempts")):
        # Conditional: the worker may have come back and finished in the meantime.
        if refreshes.filter(pk=pk, state=running, attempts=attempts).update(
            state=queued,
            lease_until=now + REQUEUE_AFTER,
            error=f"Attempt {attempts} of {refresh.LEARNER_REFRESH_ATTEMPTS} stopped without "
            "finishing (its worker was stopped). Trying again.",
        ):
            resent.append(pk)
    for pk in resent:
        queue_on_commit(refresh_learner, pk)
    return gave_up + failed + len(resent)


def _approvals(now: dt.datetime, holder: int | None) -> int:
    """Approved held runs: sent again while the lock is free (their task was lost, or found the
    lock taken); held again when they waited too long or their worker died while applying."""
    runs = SyncRun.objects.exclude(
        trigger__in=(SyncRun.Trigger.LEARNER, SyncRun.Trigger.DRY_RUN)
    ).filter(decided_at__isnull=False)
    touched = 0
    # Applying holds the lock from before it starts until it ends: one that is applying without
    # holding it has died. Checked in the UPDATE itself, so a run that just started is safe.
    applying = runs.filter(state=SyncRun.State.RUNNING).exclude(
        Exists(SyncLock.objects.filter(run=OuterRef("pk"), expires_at__gt=now))
    )
    for run in applying:
        touched += held_again(
            run,
            "Applying the approved changes stopped without finishing (its worker was stopped).",
            rows=applying,
        )
    too_long = runs.filter(state=SyncRun.State.QUEUED, decided_at__lt=now - APPROVAL_WAITS)
    for run in too_long:
        touched += held_again(
            run,
            f"The approved changes were not applied within {APPROVAL_WAITS.seconds // 3600} "
            "hours (another synchronisation held the lock, or no worker took them).",
            rows=too_long,
        )
    if holder is None:
        waiting = runs.filter(state=SyncRun.State.QUEUED).filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        )
        for pk in waiting.values_list("pk", flat=True):
            touched += 1
            approval_send(pk)
    return touched


def _dry_runs(now: dt.datetime) -> int:
    """Dry runs no worker took: failed after a while, for the admin to ask again."""
    return SyncRun.objects.filter(
        trigger=SyncRun.Trigger.DRY_RUN,
        state=SyncRun.State.QUEUED,
        requested_at__lt=now - GIVE_UP_AFTER,
    ).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        error=f"No worker took this dry run within {GIVE_UP_AFTER.seconds // 60} minutes: check "
        "that the background worker is running, then preview the next synchronisation again.",
    )


def sync_runs_sweep() -> int:
    """Keep every run moving to a state a person can act on: learners' refreshes and approved
    held runs (above), and daily runs whose worker died, closed as failed. Returns how many
    rows it touched; each one moved on, so nothing is sent again for ever."""
    now = timezone.now()
    touched = _refreshes(now) + _dry_runs(now)
    going = locks.holder()
    holder = going.pk if going else None
    touched += _approvals(now, holder)
    # A daily run's heartbeat renews its lease and the lock together: one whose lease ran out
    # and that holds no live lock has died. Both checked in the UPDATE itself, so a run whose
    # heartbeat just renewed is never closed. Runs from before leases: by their age.
    died = (
        SyncRun.objects.filter(state=SyncRun.State.RUNNING, decided_at__isnull=True)
        .filter(
            Q(lease_until__lt=now) | Q(lease_until__isnull=True, started_at__lt=now - STALE_AFTER)
        )
        .exclude(Exists(SyncLock.objects.filter(run=OuterRef("pk"), expires_at__gte=now)))
        # Refreshes with a lease are the sweeper's above; those without are from before leases.
        .exclude(trigger=SyncRun.Trigger.LEARNER, lease_until__isnull=False)
    )
    closed = list(died.values_list("pk", flat=True))
    dead = died.filter(pk__in=closed).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        lease_until=None,
        error="The run stopped without finishing (its worker was stopped); the next run "
        "catches up.",
    )
    # Its lock is freed at once, so "run now" works again.
    SyncLock.objects.filter(name=locks.LOCK_NAME, run__in=closed, expires_at__lt=now).update(
        expires_at=None
    )
    return touched + dead
