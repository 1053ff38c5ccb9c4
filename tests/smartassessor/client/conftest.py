import pytest
import responses

from smartassessor.client import LocalRateLimiter, SmartAssessorClient

from . import wire

PASSWORD = "unit-test-password"
CLIENT_KEY = "unit-test-client-key"


class Clock:
    """Wall-clock stand-in for token lifetimes; tests move it on by hand."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps():
    """Every sleep the client asked for, in seconds; nothing really waits."""
    return []


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_client(sleeps, clock):
    def make(**overrides):
        options = {
            "base_url": wire.BASE_URL,
            "username": "api@provider.example",
            "password": PASSWORD,
            "client_key": CLIENT_KEY,
            "rate_limiter": LocalRateLimiter(rate=1e6),
            "sleep": sleeps.append,
            "jitter": lambda ceiling: ceiling,
            "clock": clock,
        } | overrides
        return SmartAssessorClient(**options)

    return make


@pytest.fixture
def sandbox_client(sandbox):
    """A client of the real sandbox, with its account, kept below its default limit of 20
    requests a second; closed at the end of the test."""
    client = SmartAssessorClient(
        base_url=sandbox.url,
        username=sandbox.username,
        password=sandbox.password,
        client_key=sandbox.client_key,
        rate_limiter=LocalRateLimiter(rate=15),
    )
    yield client
    client.close()


@pytest.fixture
def api(http, make_client):
    """A client whose /token call succeeds with ``token-1``."""
    http.post(wire.API + "/token", json=wire.token())
    return make_client()
