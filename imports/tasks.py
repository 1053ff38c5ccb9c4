"""Celery tasks of the imports: each loads a row by id and calls one service."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def preview_build(import_id: int) -> None:
    services.preview_build(import_id=import_id)


@shared_task(acks_late=True)
def commit_run(import_id: int, user_id: int | None) -> None:
    services.commit_run(import_id=import_id, user_id=user_id)


@shared_task(acks_late=True)
def sweep_imports() -> int:
    """Fail the imports whose worker stopped, saying what to do."""
    return services.imports_sweep()
