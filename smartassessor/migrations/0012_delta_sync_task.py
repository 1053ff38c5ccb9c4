"""The delta synchronisation's periodic task (F31): every 15 minutes until an admin changes it."""

from django.db import migrations

TASK_NAME = "Smart Assessor delta synchronisation"


def create_task(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    schedule, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task="smartassessor.tasks.sync_delta",
        interval=schedule,
        description="Reads only what changed in Smart Assessor since the last run (F31). Its "
        "interval is also shown and edited in the Smart Assessor settings.",
    )


def remove_task(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("smartassessor", "0011_sync_plan"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_task, remove_task)]
