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


DELTA_TASK_NAME = "Smart Assessor delta synchronisation"
DELTA_TASK = "smartassessor.tasks.sync_delta"
DELTA_DEFAULT_MINUTES = 15
DELTA_MAX_MINUTES = 1440
# An interval the admin gave in another unit still reads as minutes when it is whole minutes.
_MINUTES_PER_PERIOD = {"minutes": 1, "hours": 60, "days": 1440}


def _delta_task() -> Any:  # a PeriodicTask or None
    from django_celery_beat.models import PeriodicTask

    return PeriodicTask.objects.select_related("interval").filter(name=DELTA_TASK_NAME).first()


def delta_sync_minutes_get() -> int | None:
    """Minutes between delta runs, 0 when the task is switched off, or None when it is missing
    or its schedule is not an interval of whole minutes up to a day (someone gave it another
    schedule in the admin)."""
    task = _delta_task()
    if task is None:
        return None
    if not task.enabled:
        return 0
    interval = task.interval
    if interval is None or task.crontab_id or task.solar_id or task.clocked_id:
        return None
    if interval.period == "seconds":
        minutes = interval.every // 60 if interval.every % 60 == 0 else None
    else:
        factor = _MINUTES_PER_PERIOD.get(interval.period)
        minutes = interval.every * factor if factor else None
    if minutes is None or not 1 <= minutes <= DELTA_MAX_MINUTES:
        return None
    return int(minutes)


def delta_sync_minutes_set(*, minutes: int) -> None:
    """Run the delta task every ``minutes`` minutes, or switch it off with 0 (it then keeps its
    schedule, so the admin still sees what it was)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if not 0 <= minutes <= DELTA_MAX_MINUTES:
        raise ValueError(f"delta runs are every 0 to {DELTA_MAX_MINUTES} minutes, not {minutes}")
    task = _delta_task() or PeriodicTask(name=DELTA_TASK_NAME)
    if minutes or task.pk is None:
        task.interval, _ = IntervalSchedule.objects.get_or_create(
            every=minutes or DELTA_DEFAULT_MINUTES, period=IntervalSchedule.MINUTES
        )
        task.crontab = task.solar = task.clocked = None
    # Only ever this one task, with no arguments, whatever the row was made to say.
    task.task, task.args, task.kwargs, task.one_off = DELTA_TASK, "[]", "{}", False
    task.enabled = minutes > 0
    task.save()
