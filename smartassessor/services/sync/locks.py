"""The run lock (two runs never overlap, F22), leases and heartbeats, and the watermarks."""

import datetime as dt
import logging
from contextlib import AbstractContextManager

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from ...client import types as sa
from ...heartbeat import heartbeat
from ...models import SyncLock, SyncRun, SyncWatermark

logger = logging.getLogger(__name__)

LOCK_NAME = "daily"
# A run (or an approval being applied) holds the lock, and its run the same lease, for LOCK_TTL;
# a heartbeat thread renews both every HEARTBEAT_SECONDS while it works, so a remote call of
# any length keeps them, and a killed worker's lease runs out within LOCK_TTL. The sweeper
# (every 30 s, CELERY_BEAT_SCHEDULE) then closes the run as failed and frees the lock: "run
# now" works again within about a minute and a half of the worker's death.
LOCK_TTL = dt.timedelta(seconds=60)
HEARTBEAT_SECONDS = 20.0
# A learner's refresh holds no lock: it renews its own lease between steps.
LEARNER_LEASE = dt.timedelta(minutes=3)
MIS_LEARNERS = "mis_learners"


class LockLost(Exception):
    pass


def acquire(run: SyncRun) -> SyncLock | None:
    """Claims the lock for the run; returns the lock (and its holder) otherwise (None: ours)."""
    SyncLock.objects.get_or_create(name=LOCK_NAME)
    now = timezone.now()
    claimed = (
        SyncLock.objects.filter(name=LOCK_NAME)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__lt=now))
        .update(run=run, expires_at=now + LOCK_TTL)
    )
    if claimed == 1:
        SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
            lease_until=now + LOCK_TTL
        )
        return None
    return SyncLock.objects.select_related("run").get(name=LOCK_NAME)


def renew(run: SyncRun) -> None:
    """Renews the lock and the run's lease, only while the run still holds the lock and is
    running: one the sweeper closed as failed stops at its next renewal."""
    now = timezone.now()
    renewed = SyncLock.objects.filter(
        name=LOCK_NAME, run=run, run__state=SyncRun.State.RUNNING
    ).update(expires_at=now + LOCK_TTL)
    if renewed != 1:
        raise LockLost
    SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
        lease_until=now + LOCK_TTL
    )


def release(run: SyncRun) -> None:
    SyncLock.objects.filter(name=LOCK_NAME, run=run).update(expires_at=None)


def holder() -> SyncRun | None:
    """The run that holds the lock now, if any."""
    lock = SyncLock.objects.select_related("run").filter(name=LOCK_NAME).first()
    if lock is None or lock.expires_at is None or lock.expires_at <= timezone.now():
        return None
    return lock.run


def _lease(run: SyncRun, length: dt.timedelta) -> None:
    SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
        lease_until=timezone.now() + length
    )


def keep_alive(run: SyncRun) -> None:
    """Between steps: a learner's refresh renews its lease; a dry run (which holds no lock) its
    lease; any other run the lock and its lease."""
    if run.trigger == SyncRun.Trigger.LEARNER:
        _lease(run, LEARNER_LEASE)
    elif run.trigger == SyncRun.Trigger.DRY_RUN:
        _lease(run, LOCK_TTL)
    else:
        renew(run)


def _beat(run: SyncRun) -> bool:
    """One heartbeat; False once the lock is lost. NOWAIT: a lock row held by another
    transaction is left for the next beat rather than blocking the heartbeat."""
    if run.trigger == SyncRun.Trigger.DRY_RUN:
        _lease(run, LOCK_TTL)
        return True
    try:
        with transaction.atomic():
            if list(
                SyncLock.objects.filter(name=LOCK_NAME, run=run)
                .select_for_update(nowait=True)
                .values_list("pk")
            ):
                renew(run)
                return True
    except LockLost:
        pass
    except DatabaseError:
        logger.info("Sync run %s: lock not renewed this time", run.pk, exc_info=True)
        return True
    logger.warning("Sync run %s lost its lock; its next step stops it", run.pk)
    return False


def beating(run: SyncRun) -> AbstractContextManager[None]:
    """Renews the lock and the run's lease every HEARTBEAT_SECONDS while the block runs, in a
    thread of its own, so that a long remote call never outlives the lease."""
    return heartbeat(
        renew=lambda: _beat(run), every=HEARTBEAT_SECONDS, name=f"sync-run-{run.pk}-lease"
    )


# --- Watermarks (F22) ----------------------------------------------------------------------


def watermark(feed: str) -> sa.FeedPosition | None:
    row = SyncWatermark.objects.filter(feed=feed).first()
    if row is None:
        return None
    return sa.FeedPosition(modified_at=row.modified_at, smart_assessor_id=row.sa_id)


def watermarks_move(run: SyncRun) -> None:
    """The run's positions become the watermarks, never moving one back."""
    for feed, (modified_at, sa_id) in run.positions.items():
        moment = dt.datetime.fromisoformat(modified_at)
        row = SyncWatermark.objects.filter(feed=feed).first()
        if row is not None and (row.modified_at, row.sa_id) >= (moment, sa_id):
            continue
        SyncWatermark.objects.update_or_create(
            feed=feed, defaults={"modified_at": moment, "sa_id": sa_id, "run": run}
        )
