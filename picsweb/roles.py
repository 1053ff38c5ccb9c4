"""The product's roles: Django groups with the rights of the spec's table (spec/integration.md).

This module is the one place that defines them and the one writer of their groups:
``roles_ensure`` creates each group if it is missing and grants it every right below. It runs
after every ``migrate`` (and ``flush``) from a ``post_migrate`` handler (``picsweb.apps``), so a
new database, an upgraded one and a flushed test database all hold the same roles. It only ever
grants: a right an Integration admin added to a group by hand is kept, and a right taken out of
this table must be removed from existing groups by hand (or by a data migration).
"""

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS

STAFF = "Staff"
SUPPORT = "Support"
INTEGRATION_ADMIN = "Integration admin"

ENROL = "smartassessor.enrol_learner"
SET_LEARNER_SA_ID = "smartassessor.set_learner_smartassessor_id"
MANAGE_INTEGRATION = "smartassessor.manage_integration"
# The reconciliation report (F24): Support links learners from it, Integration admins the
# employers and assessors, so both read and build it.
RECONCILE = "smartassessor.reconcile"

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
# The integration's records, which Integration admins read in the Django admin.
INTEGRATION_RECORDS = [
    "qualificationlink",
    "officerlink",
    "organisationlink",
    "auditentry",
    "linkrefresh",
    "enrolment",
    "courseenrolment",
    "push",
    "reviewlink",
    "syncrun",
    "syncerror",
    "syncchange",
    "syncretry",
    "syncwatermark",
    "synclock",
    "reconciliation",
    "reconciliationfinding",
]
# The ILR import's records (F32), which Integration admins read in the Django admin.
IMPORT_RECORDS = ["ilrimport", "ilrimportrow", "ilrimportedlearner", "importauditentry"]

_STAFF_RIGHTS = [
    *(f"learners.view_{model}" for model in DOMAIN_MODELS + REFERENCE_MODELS),
    *(f"learners.add_{model}" for model in DOMAIN_MODELS),
    *(f"learners.change_{model}" for model in DOMAIN_MODELS),
    "learners.delete_learnerofficerrole",
    "learners.delete_placement",
    ENROL,
]
RIGHTS: dict[str, list[str]] = {
    STAFF: _STAFF_RIGHTS,
    SUPPORT: [*_STAFF_RIGHTS, SET_LEARNER_SA_ID, RECONCILE],
    INTEGRATION_ADMIN: [
        *_STAFF_RIGHTS,
        *(
            f"learners.{action}_{model}"
            for model in REFERENCE_MODELS
            for action in ("add", "change", "delete")
        ),
        MANAGE_INTEGRATION,
        RECONCILE,
        "smartassessor.view_integrationsettings",
        "smartassessor.change_integrationsettings",
        *(f"smartassessor.view_{model}" for model in INTEGRATION_RECORDS),
        *(f"imports.view_{model}" for model in IMPORT_RECORDS),
        "smartassessor.view_reviewtypemapping",
        "smartassessor.change_reviewtypemapping",
        *(
            f"django_celery_beat.{action}_{model}"
            for model in ("periodictask", "crontabschedule", "intervalschedule")
            for action in ("view", "change")
        ),
    ],
}
# The apps whose permissions the table grants: theirs must exist before the groups get them.
RIGHTS_APPS = sorted({code.split(".")[0] for codes in RIGHTS.values() for code in codes})


def roles_ensure(*, apps: Apps = global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create each role's group if missing and grant it every right of ``RIGHTS``; idempotent.

    ``apps`` is the app registry to take the models from (a migration state's, from
    ``post_migrate``). Raises ``LookupError`` naming any right that no model defines.
    """
    for label in RIGHTS_APPS:
        # Django makes an app's permissions in its own post_migrate handler, which may run
        # after this one: make them now (it only adds what is missing).
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = {_split(code) for codes in RIGHTS.values() for code in codes}
    found = {
        (permission.content_type.app_label, permission.codename): permission
        for permission in Permission.objects.using(using)
        .filter(
            content_type__app_label__in=RIGHTS_APPS,
            codename__in={codename for _, codename in wanted},
        )
        .select_related("content_type")
    }
    missing = sorted(".".join(code) for code in wanted - set(found))
    if missing:
        raise LookupError(f"The roles grant rights that no model defines: {', '.join(missing)}")
    for name, codes in RIGHTS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*(found[_split(code)] for code in codes))


def _split(code: str) -> tuple[str, str]:
    """``"app_label.codename"`` as its two parts."""
    app_label, codename = code.split(".")
    return app_label, codename
