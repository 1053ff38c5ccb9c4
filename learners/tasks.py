"""Celery tasks of the MIS domain."""

from celery import shared_task

from . import employers


@shared_task
def refresh_current_employers() -> int:
    """Store every learner's current employer as placements start and end with the days."""
    return employers.current_employers_refresh()
