"""The three roles of the product as Django groups, with the rights of the spec's table."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

DOMAIN_MODELS = [
    "learner",
    "learnerqualification",
    "placement",
    "learnerofficerrole",
    "officer",
    "organisation",
    "review",
]
REFERENCE_MODELS = ["qualification", "officerrole", "reviewtype"]

STAFF = [
    *(f"learners.view_{model}" for model in DOMAIN_MODELS + REFERENCE_MODELS),
    *(f"learners.add_{model}" for model in DOMAIN_MODELS),
    *(f"learners.change_{model}" for model in DOMAIN_MODELS),
    "learners.delete_learnerofficerrole",
    "learners.delete_placement",
    "smartassessor.enrol_learner",
]
ROLES = {
    "Staff": STAFF,
    "Support": [*STAFF, "smartassessor.set_learner_smartassessor_id"],
    "Integration admin": [
        *STAFF,
        *(
            f"learners.{action}_{model}"
            for model in REFERENCE_MODELS
            for action in ("add", "change", "delete")
        ),
        "smartassessor.manage_integration",
        "smartassessor.view_integrationsettings",
        "smartassessor.change_integrationsettings",
        *(
            f"django_celery_beat.{action}_{model}"
            for model in ("periodictask", "crontabschedule")
            for action in ("view", "change")
        ),
    ],
}


def create_roles(apps, schema_editor):
    for app_label in ("learners", "smartassessor", "django_celery_beat"):
        app_config = apps.get_app_config(app_label)
        # Permissions are normally made after all migrations; make them now to grant them.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for code in codes:
            app_label, codename = code.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("smartassessor", "0001_initial"),
        ("learners", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
