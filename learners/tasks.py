"""Celery tasks of the MIS domain."""

from celery import shared_task

from . import employers


@shared_task
def refresh_current_employers() -> int:
    """Store every learner's current employer as placements start and end with the days,
    leaving a learner another transaction holds to the next run."""
    return employers.current_employers_refresh(skip_locked=True)
