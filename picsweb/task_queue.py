"""Sending a Celery task once the database transaction commits."""

from typing import Any, ParamSpec, Protocol, cast

from celery import Task

P = ParamSpec("P")


class _SentOnCommit(Protocol):
    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None: ...


def queue_on_commit(task: Task[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
    """``task.delay(*args, **kwargs)`` once the current transaction commits (at once outside
    one), so a worker never looks for a row that is not committed yet.

    Celery's ``Task.delay_on_commit`` does this; celery-types does not declare it yet, so this is
    the one place that says it is there, with the task's own arguments checked."""
    cast(_SentOnCommit, task).delay_on_commit(*args, **kwargs)
