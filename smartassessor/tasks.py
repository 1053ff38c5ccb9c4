"""Celery tasks: each loads a row by id and calls one service."""

from celery import shared_task

from .models import LinkRefresh
from .services import enrolment, links


@shared_task(acks_late=True)
def refresh_qualification_links(refresh_id: int) -> None:
    refresh = LinkRefresh.objects.filter(pk=refresh_id).first()
    if refresh is not None:
        links.qualification_links_refresh(refresh=refresh)


@shared_task(acks_late=True)
def enrol_learner(enrolment_id: int) -> None:
    enrolment.enrolment_run(enrolment_id=enrolment_id)


@shared_task(acks_late=True)
def sweep_enrolments() -> int:
    """Re-queue enrolments whose task was lost (a restart, a killed worker)."""
    return enrolment.enrolments_sweep()
