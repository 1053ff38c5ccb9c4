"""Enrolment hardening (issue 9): waits Smart Assessor asks for are timed from ``busy_since``;
SA course ids are unique among current enrolments only, so a learner enrolled again after
Support cleared the link can adopt the same SA courses as the ended enrolment."""

from django.db import migrations, models


def copy_is_current(apps, schema_editor):
    CourseEnrolment = apps.get_model("smartassessor", "CourseEnrolment")
    CourseEnrolment.objects.filter(enrolment__is_current=False).update(is_current=False)


class Migration(migrations.Migration):
    dependencies = [("smartassessor", "0006_integration_admin_reads_the_records")]

    operations = [
        migrations.AddField(
            model_name="enrolment",
            name="busy_since",
            field=models.DateTimeField(
                blank=True,
                help_text="When Smart Assessor first answered 'busy, try later' (429) in this "
                "run of attempts; the waits it asks for end in Failed after a time limit from "
                "then.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="enrolment",
            name="attempts",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Attempts counted against the cap; waits Smart Assessor asked for "
                "are not.",
            ),
        ),
        migrations.AddField(
            model_name="courseenrolment",
            name="is_current",
            field=models.BooleanField(default=True, editable=False),
        ),
        migrations.RunPython(copy_is_current, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="courseenrolment", name="unique_sa_learner_course_id"
        ),
        migrations.AddConstraint(
            model_name="courseenrolment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_current", True))
                & models.Q(("sa_learner_course_id", ""), _negated=True),
                fields=("sa_learner_course_id",),
                name="unique_current_sa_learner_course_id",
            ),
        ),
    ]
