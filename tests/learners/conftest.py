import pytest

from tests.factories import UserFactory


@pytest.fixture
def nobody_client(client, db):
    """A signed-in user in no group: no rights at all."""
    client.force_login(UserFactory(username="nobody"))
    return client
