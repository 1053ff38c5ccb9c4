import warnings

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


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, and at the end of the run no session left open on it by a thread or
    subprocess (which would stop it being dropped): each is closed and named in a warning."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, state, left(query, 200) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        stray = cursor.fetchall()
        for pid, *_ in stray:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    if stray:
        warnings.warn(f"Sessions left open on the test database: {stray}", stacklevel=1)
