"""Client-side token buckets, so that Smart Assessor's own bucket (§6) never has to say 429.

Both buckets work by reservation: ``acquire`` takes a token at once, letting the count go
negative, and sleeps until that token would have been refilled. Waiting callers are served in
the order they arrived, and each needs one round trip to the bucket whatever the queue length.

Capacity defaults to half the rate (at least one token): the server's bucket holds as many
tokens as its rate, so ours drains first and the difference absorbs requests that leave
evenly spaced but arrive bunched up.
"""

import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

from .errors import Transient


def default_capacity(rate: float) -> float:
    return max(1.0, rate / 2)


class RateLimiter(Protocol):
    def acquire(self) -> float:
        """Take one token, sleeping until it is available; returns the seconds waited."""


class LocalRateLimiter:
    """A thread-safe token bucket for one process."""

    def __init__(
        self,
        *,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else default_capacity(rate)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._updated = clock()

    def acquire(self) -> float:
        with self._lock:
            now = self._clock()
            refill = (now - self._updated) * self.rate
            self._tokens = min(self.capacity, self._tokens + refill) - 1
            self._updated = now
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait:
            self._sleep(wait)
        return wait


# KEYS[1]: the bucket; ARGV: rate (tokens per second), capacity. Returns the wait in
# microseconds. Redis's own clock is used, so the processes' clocks need not agree.
_ACQUIRE_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
if tokens == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - tonumber(state[2])) * rate)
end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens),
           'updated', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
if tokens >= 0 then
  return 0
end
return math.ceil(-tokens / rate * 1000000)
"""


class RedisRateLimiter:
    """A token bucket in Redis shared by every process that uses the same key.

    The refill and the take happen in one Lua script, so concurrent callers cannot both spend
    the last token.
    """

    def __init__(
        self,
        *,
        client: redis.Redis,
        key: str,
        rate: float,
        capacity: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.key = key
        self.rate = rate
        self.capacity = capacity if capacity is not None else default_capacity(rate)
        self._script = client.register_script(_ACQUIRE_SCRIPT)
        self._sleep = sleep

    def acquire(self) -> float:
        try:
            wait_us = self._script(keys=[self.key], args=[repr(self.rate), repr(self.capacity)])
        except redis.RedisError as exc:
            # Nothing was sent to Smart Assessor, so trying again later is safe.
            raise Transient(
                f"the shared rate limiter in Redis is unreachable ({exc})", ambiguous=False
            ) from exc
        wait = int(wait_us) / 1_000_000
        if wait:
            self._sleep(wait)
        return wait
