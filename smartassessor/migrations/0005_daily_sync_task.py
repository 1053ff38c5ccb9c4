"""The daily synchronisation's periodic task (F13): 02:00 UK time until an admin changes it."""

from django.db import migrations

TASK_NAME = "Smart Assessor daily synchronisation"


def create_task(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Europe/London",
    )
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="smartassessor.tasks.sync_daily",
        crontab=schedule,
        description="Reads progression, reviews, details and risk from Smart Assessor (F13). "
        "Its time is also shown and edited in the Smart Assessor settings.",
    )


def remove_task(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("smartassessor", "0004_sync"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_task, remove_task)]
