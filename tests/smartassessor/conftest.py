import pytest
import responses

from smartassessor.models import IntegrationSettings

from .client import wire


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
