"""The roles are made by the project (``picsweb.roles``) after every migrate, not by migrations."""

import ast
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from picsweb import roles

REPOSITORY = Path(__file__).resolve().parents[1]


def rights_of(name: str) -> set[str]:
    return {
        f"{app_label}.{codename}"
        for app_label, codename in Group.objects.get(name=name).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


@pytest.mark.django_db
def test_each_role_holds_every_right_of_the_table():
    for name, codes in roles.RIGHTS.items():
        assert set(codes) <= rights_of(name), name


@pytest.mark.django_db
def test_migrate_gives_back_a_right_taken_from_a_role():
    support = Group.objects.get(name=roles.SUPPORT)
    support.permissions.remove(Permission.objects.get(codename="set_learner_smartassessor_id"))
    Group.objects.get(name=roles.STAFF).delete()

    call_command("migrate", verbosity=0)

    assert roles.SET_LEARNER_SA_ID in rights_of(roles.SUPPORT)
    assert set(roles.RIGHTS[roles.STAFF]) <= rights_of(roles.STAFF)


@pytest.mark.django_db
def test_migrate_keeps_a_right_an_admin_granted_by_hand():
    staff = Group.objects.get(name=roles.STAFF)
    staff.permissions.add(Permission.objects.get(codename="delete_learner"))

    call_command("migrate", verbosity=0)

    assert "learners.delete_learner" in rights_of(roles.STAFF)


@pytest.mark.django_db(transaction=True)
def test_a_flushed_database_still_has_the_roles():
    call_command("flush", interactive=False, verbosity=0)

    assert set(Group.objects.values_list("name", flat=True)) == set(roles.RIGHTS)
    assert roles.MANAGE_INTEGRATION in rights_of(roles.INTEGRATION_ADMIN)


def _imports_a_migration(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]  # importlib.import_module("app.migrations.0002_...")
        if any(".migrations." in f".{name}." and "." in name for name in names):
            return True
    return False


def test_neither_the_product_nor_the_test_set_up_imports_a_migration():
    paths = [
        path
        for package in ("learners", "smartassessor", "picsweb")
        for path in (REPOSITORY / package).rglob("*.py")
        if "migrations" not in path.parts
    ]
    paths += [REPOSITORY / "tests" / "factories.py", REPOSITORY / "tests" / "conftest.py"]
    paths += (REPOSITORY / "tests" / "fixtures").glob("*.py")

    offenders = [str(path.relative_to(REPOSITORY)) for path in paths if _imports_a_migration(path)]

    assert offenders == []
