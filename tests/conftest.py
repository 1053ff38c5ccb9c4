import pytest

from picsweb import roles

from .environment import RUN_ID
from .factories import UserFactory

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.worker"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings_xdist_suffix(request) -> None:
    """Databases named per run (and per xdist worker), so two runs on one machine never collide."""
    from django.conf import settings

    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    for db_settings in settings.DATABASES.values():
        if db_settings["ENGINE"] == "django.db.backends.sqlite3":
            continue  # in memory, private to the process
        test = db_settings.setdefault("TEST", {})
        test["NAME"] = f"{test.get('NAME') or 'test_' + db_settings['NAME']}_{RUN_ID}_{worker}"


@pytest.fixture
def staff_user(db):
    return UserFactory(username="staff", groups=[roles.STAFF])


@pytest.fixture
def support_user(db):
    return UserFactory(username="support", groups=[roles.SUPPORT])


@pytest.fixture
def admin_user(db):
    """An Integration admin (not a superuser)."""
    return UserFactory(username="integration-admin", groups=[roles.INTEGRATION_ADMIN])


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def support_client(client, support_user):
    client.force_login(support_user)
    return client


@pytest.fixture
def admin_client_ia(client, admin_user):
    client.force_login(admin_user)
    return client
