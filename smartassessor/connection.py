"""The bridge between the Django-free client and this deployment: settings record and cache.

``client_from_settings`` is the only place a ``SmartAssessorClient`` is built from the
``IntegrationSettings`` record. Its access token lives in Django's cache, so every process of
the deployment shares one, and they share its rate limiter too: a token bucket in Redis when the
cache is Redis, otherwise in a file under ``var/`` (the embedded set-up, one machine). One client
is kept per process and reused while the settings stay the same, so its HTTP connections are
reused too; a second one, a *glance*, makes the look-ups a person waits on while a page opens.
"""

import dataclasses
import hashlib
import math
import os
import threading
import time
from functools import cache
from typing import Any

import redis
from django.conf import settings as django_settings
from django.core.cache import BaseCache, caches
from django.views.decorators.debug import sensitive_variables

from picsweb.errors import ApplicationError

from .client import (
    AuthenticationFailed,
    RateLimited,
    RateLimiter,
    RedisRateLimiter,
    RetryPolicy,
    SmartAssessorClient,
    SmartAssessorError,
    StoredToken,
    Transient,
    account_fingerprint,
)
from .client.ratelimit import FileRateLimiter
from .errors import SmartAssessorUnavailable
from .models import IntegrationSettings

REDIS_CACHE_BACKEND = "django.core.cache.backends.redis.RedisCache"
CREDENTIALS_UNREADABLE_MESSAGE = (
    "The stored Smart Assessor credentials cannot be decrypted with this deployment's "
    "FIELD_ENCRYPTION_KEY: enter them again."
)


class IntegrationNotConfigured(ApplicationError):
    pass


class CredentialsUnreadable(ApplicationError):
    pass


class ConnectionCheckFailed(ApplicationError):
    pass


class ConnectionNotAnswering(ConnectionCheckFailed, SmartAssessorUnavailable):
    """Smart Assessor could not be reached or timed out: the pages say it is not answering."""


class CacheTokenStore:
    """Access tokens in a Django cache, shared by the processes that share the cache."""

    def __init__(self, cache: BaseCache):
        self._cache = cache

    def get(self, key: str) -> StoredToken | None:
        value = self._cache.get(key)
        if not isinstance(value, dict):
            return None
        return StoredToken(access_token=value["access_token"], usable_until=value["usable_until"])

    def set(self, key: str, token: StoredToken) -> None:
        lifetime = max(1, math.ceil(token.usable_until - time.time()))
        value = {"access_token": token.access_token, "usable_until": token.usable_until}
        self._cache.set(key, value, timeout=lifetime)

    def discard(self, key: str, access_token: str) -> None:
        current = self.get(key)
        if current is not None and current.access_token == access_token:
            self._cache.delete(key)


@cache
def _redis_for(location: str, pid: int) -> redis.Redis:
    return redis.Redis.from_url(location)


def _redis_location() -> str | None:
    """The Redis server of the default cache, or None when the cache is not Redis."""
    config = django_settings.CACHES["default"]
    if config["BACKEND"] != REDIS_CACHE_BACKEND:
        return None
    location = config["LOCATION"]
    # Several servers: the first is the one Django writes to.
    if isinstance(location, str):
        location = location.split(",")
    return location[0].strip()


def _rate_limiter(record: IntegrationSettings) -> RateLimiter:
    """One bucket per account for every process: in Redis, or else in a file on this machine."""
    rate = record.requests_per_second
    location = _redis_location()
    fingerprint = account_fingerprint(
        base_url=record.base_url, username=record.username, client_key=record.client_key
    )
    if location is None:
        return FileRateLimiter(
            path=django_settings.SMARTASSESSOR_RATE_LIMIT_FILE, key=fingerprint, rate=rate
        )
    return RedisRateLimiter(
        client=_redis_for(location, os.getpid()),
        key="smartassessor:ratelimit:" + fingerprint,
        rate=rate,
    )


@sensitive_variables()
def _configuration(record: IntegrationSettings) -> tuple:
    return (
        record.base_url,
        record.username,
        hashlib.sha256(f"{record.password}\n{record.client_key}".encode()).hexdigest(),
        record.connect_timeout,
        record.read_timeout,
        record.requests_per_second,
        os.getpid(),  # a forked worker must not share its parent's sockets
    )


# A glance is one try whose answer comes within a few seconds, however slow Smart Assessor is:
# the page then says Smart Assessor could not be asked rather than keep the person waiting.
GLANCE_CONNECT_TIMEOUT = 1.5
GLANCE_DEADLINE = 3.0

# Keyed by (configuration, glance).
_clients: dict[tuple, SmartAssessorClient] = {}
_clients_lock = threading.Lock()


def _patient_options(record: IntegrationSettings) -> dict[str, Any]:
    return {"connect_timeout": record.connect_timeout, "read_timeout": record.read_timeout}


def _glance_options(record: IntegrationSettings) -> dict[str, Any]:
    return {
        "connect_timeout": min(record.connect_timeout, GLANCE_CONNECT_TIMEOUT),
        "read_timeout": min(record.read_timeout, GLANCE_DEADLINE),
        "deadline": GLANCE_DEADLINE,
        "retry": RetryPolicy(max_attempts=1),
    }


@sensitive_variables()
def client_from_settings(
    record: IntegrationSettings | None = None, *, glance: bool = False
) -> SmartAssessorClient:
    """A client for the configured Smart Assessor account (``record`` defaults to the stored one);
    with ``glance``, one that tries once with short timeouts. Both share the access token and
    the rate limiter.

    Raises ``CredentialsUnreadable`` or ``IntegrationNotConfigured`` with a message for people.
    """
    record = record or IntegrationSettings.load()
    if record.credentials_unreadable:
        raise CredentialsUnreadable(CREDENTIALS_UNREADABLE_MESSAGE)
    missing = [
        label
        for label, value in (
            ("API base URL", record.base_url),
            ("username", record.username),
            ("password", record.password),
            ("client key", record.client_key),
        )
        if not value
    ]
    if missing:
        raise IntegrationNotConfigured(
            "Smart Assessor is not configured: set the " + ", ".join(missing) + "."
        )
    key = (_configuration(record), glance)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            for stale in [other for other in _clients if other[1] == glance]:
                _clients.pop(stale).close()
            options = _glance_options(record) if glance else _patient_options(record)
            client = SmartAssessorClient(
                base_url=record.base_url,
                username=record.username,
                password=record.password,
                client_key=record.client_key,
                rate_limiter=_rate_limiter(record),
                token_store=CacheTokenStore(caches["default"]),
                **options,
            )
            _clients[key] = client
        return client


@dataclasses.dataclass(frozen=True)
class ConnectionCheck:
    base_url: str
    username: str
    course_count: int
    active_course_count: int
    round_trip_ms: float


def connection_check(*, record: IntegrationSettings | None = None) -> ConnectionCheck:
    """Authenticate afresh and read every course; failures become messages for people."""
    record = record or IntegrationSettings.load()
    client = client_from_settings(record)
    try:
        client.authenticate()
        started = time.perf_counter()
        course_count = active_course_count = 0
        for course in client.course_list(page_size=500):
            course_count += 1
            active_course_count += course.is_active
        round_trip_ms = (time.perf_counter() - started) * 1000
    except AuthenticationFailed as exc:
        raise ConnectionCheckFailed(
            f"Smart Assessor refused the username, password or client key for "
            f"{client.username}: {_sa_message(exc)}. Check them and enter them again."
        ) from exc
    except Transient as exc:
        raise ConnectionNotAnswering(
            f"Could not reach Smart Assessor at {client.base_url}: {_sa_message(exc)}."
        ) from exc
    except RateLimited as exc:
        raise ConnectionCheckFailed(
            f"Smart Assessor is rate limiting this account: try again in {exc.retry_after:.0f} s."
        ) from exc
    except SmartAssessorError as exc:
        raise ConnectionCheckFailed(str(exc)) from exc
    return ConnectionCheck(
        base_url=client.base_url,
        username=client.username,
        course_count=course_count,
        active_course_count=active_course_count,
        round_trip_ms=round_trip_ms,
    )


def _sa_message(exc: SmartAssessorError) -> str:
    return "; ".join(exc.messages) or exc.detail or exc.summary
