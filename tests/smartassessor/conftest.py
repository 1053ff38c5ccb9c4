import pytest
import responses
from django.core.cache import cache

from smartassessor import connection
from smartassessor.models import IntegrationSettings

from .client import wire


@pytest.fixture(autouse=True)
def fresh_smartassessor_client():
    """Each test starts without a cached client or access token."""
    connection._clients.clear()
    cache.clear()
    yield
    connection._clients.clear()


@pytest.fixture
def sa_settings(db):
    """The integration switched on and pointed at the mocked Smart Assessor."""
    settings = IntegrationSettings.load()
    settings.enabled = True
    settings.base_url = wire.BASE_URL
    settings.username = "api@provider.example"
    settings.password = "unit-test-password"
    settings.client_key = "unit-test-client-key"
    settings.requests_per_second = 1000
    settings.save()
    return settings


@pytest.fixture
def sa_http(sa_settings):
    """Mocked Smart Assessor HTTP; the token endpoint always answers."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(wire.API + "/token", json=wire.token())
        yield mock


@pytest.fixture
def sa_sandbox(db, sandbox):
    """The integration switched on and pointed at the running sandbox (reset to its seed)."""
    settings = IntegrationSettings.load()
    settings.enabled = True
    settings.base_url = sandbox.url
    settings.username = sandbox.username
    settings.password = sandbox.password
    settings.client_key = sandbox.client_key
    settings.requests_per_second = 15
    settings.save()
    return sandbox
