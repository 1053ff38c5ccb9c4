"""The sync history's rows about a qualification's course, written before they were labelled
"Course enrolment", relabelled: they read "Smart Assessor Enrolled in Smart Assessor"."""

from django.db import migrations


def relabel(apps, schema_editor):
    SyncChange = apps.get_model("smartassessor", "SyncChange")
    SyncChange.objects.filter(target="qualification", field="Smart Assessor").update(
        field="Course enrolment"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("smartassessor", "0018_admin_labels"),
    ]

    operations = [migrations.RunPython(relabel, migrations.RunPython.noop, elidable=True)]
