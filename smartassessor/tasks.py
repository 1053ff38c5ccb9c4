"""Celery tasks: each loads a row by id and calls one service."""

from celery import shared_task

from .models import LinkRefresh
from .services import enrolment, links

LINK_REFRESH_TRIES = 5


@shared_task(bind=True, acks_late=True, max_retries=LINK_REFRESH_TRIES - 1)
def refresh_qualification_links(self, refresh_id: int) -> None:
    refresh = LinkRefresh.objects.filter(pk=refresh_id).first()
    if refresh is None:
        return
    try:
        links.qualification_links_refresh(
            refresh=refresh, last_try=self.request.retries >= self.max_retries
        )
    except links.TryAgainLater as exc:
        raise self.retry(countdown=5 * 2**self.request.retries) from exc


@shared_task(acks_late=True)
def enrol_learner(enrolment_id: int) -> None:
    enrolment.enrolment_run(enrolment_id=enrolment_id)


@shared_task(acks_late=True)
def sweep_enrolments() -> int:
    """Re-queue enrolments whose task was lost (a restart, a killed worker)."""
    return enrolment.enrolments_sweep()
