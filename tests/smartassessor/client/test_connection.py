"""Building the client from the settings record and Django's cache."""

import pytest
import redis
import responses
from django.core.cache import cache
from django.db import connection as db_connection
from django.test import override_settings

from smartassessor import connection
from smartassessor.client import RedisRateLimiter
from smartassessor.client.ratelimit import FileRateLimiter
from smartassessor.connection import (
    CREDENTIALS_UNREADABLE_MESSAGE,
    ConnectionCheckFailed,
    CredentialsUnreadable,
    IntegrationNotConfigured,
    client_from_settings,
    connection_check,
)
from smartassessor.models import IntegrationSettings
from tests.environment import REDIS_URL

from . import wire
from .conftest import CLIENT_KEY, PASSWORD


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch):
    """No client or cached token carried over from another test."""
    monkeypatch.setattr(connection, "_clients", {})
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def record(db):
    settings = IntegrationSettings.load()
    settings.base_url = wire.BASE_URL
    settings.username = "api@provider.example"
    settings.password = PASSWORD
    settings.client_key = CLIENT_KEY
    settings.connect_timeout = 3
    settings.read_timeout = 20
    settings.requests_per_second = 1000
    settings.save()
    return IntegrationSettings.load()


def test_the_client_uses_the_stored_account_and_timeouts(record):
    client = client_from_settings()

    assert client.base_url == wire.BASE_URL
    assert client.username == "api@provider.example"
    assert client.timeout == (3, 20)


def test_the_same_settings_reuse_one_client_and_its_connections(record):
    first = client_from_settings()

    assert client_from_settings() is first

    record.read_timeout = 45
    record.save()
    assert client_from_settings() is not first


def test_missing_settings_are_named(db):
    settings = IntegrationSettings.load()
    settings.base_url = wire.BASE_URL
    settings.save()

    with pytest.raises(IntegrationNotConfigured) as caught:
        client_from_settings()

    assert caught.value.message == (
        "Smart Assessor is not configured: set the username, password, client key."
    )


def test_undecryptable_credentials_ask_to_be_entered_again(record):
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {IntegrationSettings._meta.db_table} SET password = %s",
            ["gAAAAABencrypted-with-a-key-this-deployment-does-not-have"],
        )

    with pytest.raises(CredentialsUnreadable) as caught:
        client_from_settings()

    assert caught.value.message == CREDENTIALS_UNREADABLE_MESSAGE


@responses.activate
def test_the_access_token_is_shared_through_the_cache_under_a_key_without_secrets(record):
    responses.post(wire.API + "/token", json=wire.token("shared-token"))
    responses.get(wire.API + "/event-types", json={"Items": []})

    client_from_settings().event_type_list()
    connection._clients.clear()  # as if another process
    client_from_settings().event_type_list()

    token_calls = [c for c in responses.calls if c.request.url.endswith("/token")]
    assert len(token_calls) == 1
    [key] = [key for key in cache._cache if "smartassessor:token:" in key]
    assert PASSWORD not in key and CLIENT_KEY not in key and record.username not in key
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer shared-token"


def test_without_redis_the_rate_limiter_is_shared_in_a_file_at_the_configured_rate(
    record, tmp_path, settings
):
    settings.SMARTASSESSOR_RATE_LIMIT_FILE = tmp_path / "rate.lock"
    limiter = client_from_settings()._limiter

    assert isinstance(limiter, FileRateLimiter)
    assert limiter.rate == 1000
    assert limiter.path == tmp_path / "rate.lock"
    assert CLIENT_KEY not in limiter.key


@pytest.mark.redis
def test_with_a_redis_cache_the_rate_limiter_is_shared_in_redis(record):
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"{REDIS_URL},redis://127.0.0.1:6379/14",
        }
    }
    with override_settings(CACHES=caches):
        limiter = client_from_settings()._limiter

    assert isinstance(limiter, RedisRateLimiter)
    assert limiter.rate == 1000
    assert limiter.key.startswith("smartassessor:ratelimit:")
    assert CLIENT_KEY not in limiter.key
    limiter.acquire()
    assert redis.Redis.from_url(REDIS_URL).exists(limiter.key)


@responses.activate
def test_connection_check_counts_courses(record):
    responses.post(wire.API + "/token", json=wire.token())
    responses.get(
        wire.API + "/courses",
        json=wire.page([wire.course(), wire.course(SmartAssessorId=8, IsActive=False)]),
    )

    result = connection_check()

    assert (result.course_count, result.active_course_count) == (2, 1)
    assert result.round_trip_ms >= 0


@responses.activate
def test_connection_check_gets_a_fresh_token_even_when_one_is_cached(record):
    responses.post(wire.API + "/token", json=wire.token())
    responses.get(wire.API + "/courses", json=wire.page([]))

    connection_check()
    connection_check()

    assert len([c for c in responses.calls if c.request.url.endswith("/token")]) == 2


@responses.activate
def test_connection_check_explains_refused_credentials(record):
    responses.post(
        wire.API + "/token",
        status=401,
        json=wire.errors("invalid_credentials", "Username, password or client key is wrong"),
    )

    with pytest.raises(ConnectionCheckFailed) as caught:
        connection_check()

    assert caught.value.message == (
        "Smart Assessor refused the username, password or client key for api@provider.example: "
        "Username, password or client key is wrong. Check them and enter them again."
    )
