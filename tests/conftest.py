import pytest

from picsweb import roles

from .factories import UserFactory

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.worker"]


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
