"""Integration admins see every record of the integration in the Django admin."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

READ_ONLY = [
    "qualificationlink",
    "officerlink",
    "organisationlink",
    "auditentry",
    "linkrefresh",
    "enrolment",
    "courseenrolment",
    "reviewlink",
    "syncrun",
    "syncerror",
    "syncchange",
    "syncretry",
    "syncwatermark",
    "synclock",
]
CODENAMES = [f"view_{model}" for model in READ_ONLY] + [
    "view_reviewtypemapping",
    "change_reviewtypemapping",
]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("smartassessor")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Integration admin").first()
    if group is not None:
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="smartassessor", codename__in=CODENAMES
            )
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Integration admin").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="smartassessor", codename__in=CODENAMES
            )
        )


class Migration(migrations.Migration):
    dependencies = [("smartassessor", "0005_daily_sync_task")]

    operations = [migrations.RunPython(grant, revoke)]
