"""What the running server keeps besides its data: its settings, tokens, the rate limit, request
counts and the requests in flight under an Idempotency-Key."""

import math
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ApiError, Problem, invalid
from .validation import reject_unknown

if TYPE_CHECKING:
    from .api import Request, Response
    from .store import Store

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,64}$")
# Only outcomes that settle the request are remembered: a 401, 403, 429 or 5xx says nothing
# about the request itself, so a retry with the same key must be able to act.
NOT_REMEMBERED = frozenset({401, 403, 429})


class Settings:
    """Which Smart Assessor the sandbox plays (``/_sandbox/settings``): chosen at start, changeable
    while it runs; a reset returns to the choice made at start.

    ``feeds`` off plays an older Smart Assessor service that offers only the paged lists: the feed
    parameters ``ModifiedSince`` and ``AfterId`` are then unknown query parameters everywhere, so
    a client's fallback to full reads can be tested against the same data.
    """

    def __init__(self, *, feeds: bool = True) -> None:
        self._lock = threading.Lock()
        self._feeds_at_start = feeds
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.feeds = self._feeds_at_start

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {"Feeds": self.feeds}

    def update(self, body: dict[str, Any]) -> None:
        """Apply any subset of the settings; nothing changes unless every given value is valid."""
        reject_unknown(sorted(set(body) - set(self.as_json())), "setting")
        if "Feeds" in body and not isinstance(body["Feeds"], bool):
            raise invalid([Problem("validation", "Feeds must be true or false.", "Feeds")])
        with self._lock:
            self.feeds = body.get("Feeds", self.feeds)


@dataclass(frozen=True)
class _Token:
    client_key: str
    expires_at: float


class Tokens:
    """Bearer tokens, kept in memory: a restart forgets them, as the contract allows (§2)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}

    def issue(self, client_key: str, lifetime_seconds: int) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            # Long-expired tokens are forgotten (a later use says unauthorized, not expired).
            for old in [
                key for key, kept in self._tokens.items() if kept.expires_at < now - 86_400
            ]:
                del self._tokens[old]
            self._tokens[token] = _Token(client_key, now + lifetime_seconds)
        return token

    def client_key_for(self, authorization: str | None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise ApiError.of(
                401,
                "unauthorized",
                "Send Authorization: Bearer <AccessToken> with a token from POST /token.",
            )
        if found.expires_at <= self._clock():
            raise ApiError.of(401, "token_expired", "The access token has expired: get a new one.")
        return found.client_key

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


class RateLimiter:
    """A token bucket holding ``rate`` tokens, refilled at ``rate`` per second (§6).

    The sandbox serves one client key, so one bucket counts every ``/api/v1`` request.
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.configure(rate)

    def configure(self, rate: float | None) -> None:
        with self._lock:
            self._rate = rate
            self._capacity = max(1.0, rate or 0)
            self._tokens = self._capacity
            self._updated = self._clock()

    def take(self) -> int | None:
        """None when the request may go ahead, else the whole seconds to wait."""
        with self._lock:
            if self._rate is None:
                return None
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            return max(1, math.ceil((1 - self._tokens) / self._rate))


class Stats:
    """Counts of ``/api/v1`` requests since the last reset, for tests and benchmarks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._rate_limited = 0
            self._by_status: Counter[str] = Counter()
            self._by_route: Counter[str] = Counter()

    def count(self, route: str, status: int | None) -> None:
        """``status`` is None for a response that was dropped instead of sent."""
        with self._lock:
            self._requests += 1
            self._by_route[route] += 1
            if status is not None:
                self._by_status[str(status)] += 1
            if status == 429:
                self._rate_limited += 1

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "Requests": self._requests,
                "RateLimited": self._rate_limited,
                "ByStatus": dict(sorted(self._by_status.items())),
                "ByRoute": dict(sorted(self._by_route.items())),
            }


class IdempotencyGate:
    """Safe POST retries (§5): the first outcome under a key is remembered for 24 hours (in
    the store, so it outlives a restart) and replayed; a request arriving while another with
    the same key is being processed waits for it."""

    def __init__(self, store: "Store") -> None:
        self._store = store
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, str], threading.Event] = {}

    def run(
        self,
        client_key: str,
        key: str,
        request: "Request",
        act: Callable[[], "Response"],
        answer: Callable[[ApiError | tuple[int, str]], "Response"],
    ) -> "Response":
        """Act once per key, or answer with what is remembered, through ``answer`` (an error,
        or a remembered status and body)."""
        if not IDEMPOTENCY_KEY.match(key):
            return answer(
                ApiError.of(
                    400,
                    "validation",
                    "Idempotency-Key must be 1 to 64 visible ASCII characters.",
                    "Idempotency-Key",
                )
            )
        fingerprint = request.fingerprint()
        slot = (client_key, key)
        while True:
            with self._lock:
                remembered = self._store.remembered(client_key, key)
                in_flight = None if remembered else self._in_flight.get(slot)
                if remembered is None and in_flight is None:
                    self._in_flight[slot] = threading.Event()
                    break
            if remembered is not None:
                if remembered.fingerprint != fingerprint:
                    return answer(
                        ApiError.of(
                            422,
                            "idempotency_key_reused",
                            "This Idempotency-Key was used for a different request: use a new "
                            "key for a changed request.",
                            "Idempotency-Key",
                        )
                    )
                return answer((remembered.status, remembered.body))
            in_flight.wait()
        try:
            response = act()
            if response.status < 500 and response.status not in NOT_REMEMBERED:
                self._store.remember(client_key, key, fingerprint, response.status, response.text)
            return response
        finally:
            with self._lock:
                self._in_flight.pop(slot).set()
