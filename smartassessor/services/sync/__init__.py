"""Synchronisation with Smart Assessor (F13–F22, F25, F31).

Every run has one shape: read what Smart Assessor says (``reading``: change feeds, or full lists
for an SA without them) and turn it into a stored plan of every write (``planning``), check the
plan (``checks``: the safety hold), then apply it in bulk (``applying``, ``writes``) or hold it
with nothing written. ``runs`` holds the daily, delta and dry runs and the decisions on a held
run; ``refresh`` one learner's refresh; ``locks`` the lock, leases and watermarks; ``sweep``
keeps every run moving; ``schedule`` the periodic tasks."""

from .locks import LOCK_NAME
from .reading import FEED_COURSES, FEED_LEARNERS, FEED_SESSIONS, FEED_SMART_COACH, PAGE_SIZE
from .refresh import (
    LEARNER_REFRESH_ATTEMPTS,
    learner_refresh_now,
    learner_refresh_request,
    learner_refresh_run,
)
from .runs import (
    SyncBusy,
    dry_run_request,
    dry_run_work,
    sync_run_apply_held,
    sync_run_approve,
    sync_run_daily,
    sync_run_delta,
    sync_run_discard,
    sync_run_dry,
)
from .schedule import (
    DAILY_TASK,
    DAILY_TASK_NAME,
    DELTA_DEFAULT_MINUTES,
    DELTA_MAX_MINUTES,
    DELTA_TASK,
    DELTA_TASK_NAME,
    daily_sync_time_get,
    daily_sync_time_set,
    delta_sync_minutes_get,
    delta_sync_minutes_set,
)
from .scope import sync_scope
from .sweep import GIVE_UP_AFTER, sync_runs_sweep

__all__ = [
    "DAILY_TASK",
    "DAILY_TASK_NAME",
    "DELTA_DEFAULT_MINUTES",
    "DELTA_MAX_MINUTES",
    "DELTA_TASK",
    "DELTA_TASK_NAME",
    "FEED_COURSES",
    "FEED_LEARNERS",
    "FEED_SESSIONS",
    "FEED_SMART_COACH",
    "GIVE_UP_AFTER",
    "LEARNER_REFRESH_ATTEMPTS",
    "LOCK_NAME",
    "PAGE_SIZE",
    "SyncBusy",
    "daily_sync_time_get",
    "daily_sync_time_set",
    "delta_sync_minutes_get",
    "delta_sync_minutes_set",
    "dry_run_request",
    "dry_run_work",
    "learner_refresh_now",
    "learner_refresh_request",
    "learner_refresh_run",
    "sync_run_apply_held",
    "sync_run_approve",
    "sync_run_daily",
    "sync_run_delta",
    "sync_run_discard",
    "sync_run_dry",
    "sync_runs_sweep",
    "sync_scope",
]
