"""Celery tasks: each loads a row by id and calls one service."""

import logging

from celery import Task, shared_task

from .models import LinkRefresh, SyncRun
from .services import enrolment_requests, links, pushes, reconciliation, sync

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=links.LINK_REFRESH_ATTEMPTS)
def refresh_qualification_links(self: Task, refresh_id: int) -> None:
    # The row counts the attempts and fails after the last; should Celery give up first, the
    # sweeper sends the refresh again.
    refresh = LinkRefresh.objects.filter(pk=refresh_id).first()
    if refresh is None:
        return
    try:
        links.qualification_links_refresh(refresh=refresh, last_try=False)
    except links.TryAgainLater as exc:
        raise self.retry(countdown=exc.countdown) from exc


@shared_task(acks_late=True)
def sweep_link_refreshes() -> int:
    """Re-queue link refreshes whose task was lost; fail those that cannot finish."""
    return links.link_refreshes_sweep()


@shared_task(acks_late=True)
def enrol_learner(enrolment_id: int) -> None:
    enrolment_requests.enrolment_run(enrolment_id=enrolment_id)


@shared_task(acks_late=True)
def sweep_enrolments() -> int:
    """Re-queue enrolments whose task was lost (a restart, a killed worker)."""
    return enrolment_requests.enrolments_sweep()


@shared_task(acks_late=True)
def send_push(push_id: int) -> None:
    pushes.push_run(push_id=push_id)


@shared_task(acks_late=True)
def sweep_pushes() -> int:
    """Re-queue pushes whose task was lost (a restart, a killed worker)."""
    return pushes.pushes_sweep()


# A daily run may read every feed from the start after a long outage: give it time, well
# under the broker's visibility timeout.
SYNC_SOFT_TIME_LIMIT = 2700
SYNC_TIME_LIMIT = 3000


@shared_task(acks_late=True, soft_time_limit=SYNC_SOFT_TIME_LIMIT, time_limit=SYNC_TIME_LIMIT)
def sync_daily() -> int:
    """The daily synchronisation (F13), started by its periodic task."""
    return sync.sync_run_daily(trigger=SyncRun.Trigger.DAILY).pk


@shared_task(acks_late=True, soft_time_limit=SYNC_SOFT_TIME_LIMIT, time_limit=SYNC_TIME_LIMIT)
def sync_delta() -> int | None:
    """A delta synchronisation (F31), started by its periodic task every few minutes."""
    run = sync.sync_run_delta()
    return run.pk if run else None


@shared_task(acks_late=True, soft_time_limit=SYNC_SOFT_TIME_LIMIT, time_limit=SYNC_TIME_LIMIT)
def sync_dry_run(run_id: int) -> None:
    """Preview the next synchronisation (F25): its plan, nothing else written."""
    sync.dry_run_work(run_id=run_id)


@shared_task(acks_late=True)
def refresh_learner(run_id: int) -> None:
    sync.learner_refresh_run(run_id=run_id)


@shared_task(acks_late=True, soft_time_limit=SYNC_SOFT_TIME_LIMIT, time_limit=SYNC_TIME_LIMIT)
def apply_held_run(run_id: int) -> None:
    try:
        sync.sync_run_apply_held(run_id=run_id)
    except sync.SyncBusy:
        # The run stays approved, waiting: the sweeper sends it again once the lock is free, so
        # no count of retries can strand it.
        logger.info("Held run %s waits for the daily lock.", run_id)


@shared_task(acks_late=True)
def sweep_sync_runs() -> int:
    """Re-queue refreshes and approved held runs whose task was lost; close or hold again the
    runs whose worker died."""
    return sync.sync_runs_sweep()


@shared_task(acks_late=True, soft_time_limit=SYNC_SOFT_TIME_LIMIT, time_limit=SYNC_TIME_LIMIT)
def build_reconciliation(report_id: int) -> None:
    """Build the reconciliation report (F24); a redelivered task finds it taken and stops."""
    reconciliation.reconciliation_build(report_id=report_id)


@shared_task(acks_late=True)
def sweep_reconciliations() -> int:
    """Fail reconciliation builds whose worker is gone; re-queue those whose task was lost."""
    return reconciliation.reconciliations_sweep()
