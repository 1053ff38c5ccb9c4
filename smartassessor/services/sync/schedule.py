"""The synchronisation's schedules: the periodic tasks are the one source of truth."""

import datetime as dt
from typing import Any

DAILY_TASK_NAME = "Smart Assessor daily synchronisation"
DAILY_TASK = "smartassessor.tasks.sync_daily"
SCHEDULE_TIMEZONE = "Europe/London"


def _daily_task() -> Any:  # a PeriodicTask or None (django-celery-beat has no types)
    from django_celery_beat.models import PeriodicTask

    return PeriodicTask.objects.select_related("crontab").filter(name=DAILY_TASK_NAME).first()


def daily_sync_time_get() -> dt.time | None:
    """The time of day the daily run starts (UK time), or None when its schedule is not a
    single daily time (someone gave it another crontab in the admin) or it is missing."""
    task = _daily_task()
    crontab = task.crontab if task else None
    if crontab is None or any(
        value != "*" for value in (crontab.day_of_week, crontab.day_of_month, crontab.month_of_year)
    ):
        return None
    try:
        return dt.time(int(crontab.hour), int(crontab.minute))
    except ValueError:
        return None


def daily_sync_time_set(*, at: dt.time) -> None:
    """Point the daily periodic task at a schedule for that time of day, UK time."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=str(at.minute),
        hour=str(at.hour),
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=SCHEDULE_TIMEZONE,
    )
    task = _daily_task()
    if task is None:
        PeriodicTask.objects.create(name=DAILY_TASK_NAME, task=DAILY_TASK, crontab=schedule)
    elif (task.crontab_id, task.task, task.args, task.kwargs) != (
        schedule.pk,
        DAILY_TASK,
        "[]",
        "{}",
    ):
        # Only ever this one task, running the synchronisation with no arguments, whatever
        # the row was made to say.
        task.crontab = schedule
        task.task, task.args, task.kwargs = DAILY_TASK, "[]", "{}"
        task.save()
