"""Link refreshes and learners' refreshes are claimed for a lease, and count their attempts."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("smartassessor", "0007_enrolment_hardening"),
    ]

    operations = [
        migrations.AddField(
            model_name="linkrefresh",
            name="attempts",
            field=models.PositiveIntegerField(default=0, help_text="Times a worker claimed it."),
        ),
        migrations.AddField(
            model_name="linkrefresh",
            name="lease_until",
            field=models.DateTimeField(
                blank=True,
                help_text="Running: its worker is presumed gone after this. Queued: it is sent again after this if no worker has taken it.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="attempts",
            field=models.PositiveIntegerField(
                default=0, help_text="Times a worker claimed a learner's refresh."
            ),
        ),
        migrations.AddField(
            model_name="syncrun",
            name="lease_until",
            field=models.DateTimeField(
                blank=True,
                help_text="A learner's refresh: running, its worker is presumed gone after this; queued, it is sent again after this if no worker has taken it.",
                null=True,
            ),
        ),
    ]
