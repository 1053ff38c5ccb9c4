# SyncRun.errors was a count beside SyncRun.error (a text): renamed so the names say which is which.
# The column keeps "errors" as its label, so pages, the admin and the command still read "Errors".

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("smartassessor", "0009_settings_bounds"),
    ]

    operations = [
        migrations.RenameField(model_name="syncrun", old_name="errors", new_name="error_count"),
        migrations.AlterField(
            model_name="syncrun",
            name="error_count",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Learners, officers and records the run skipped.",
                verbose_name="errors",
            ),
        ),
    ]
