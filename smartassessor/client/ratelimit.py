"""Client-side token buckets, so that Smart Assessor's own bucket (§6) never has to say 429.

Every bucket works by reservation: ``acquire`` takes a token at once, letting the count go
negative, and sleeps until that token would have been refilled. Waiting callers are served in
the order they arrived, and each needs one round trip to the bucket whatever the queue length.

Capacity defaults to half the rate (at least one token): the server's bucket holds as many
tokens as its rate, so ours drains first and the difference absorbs requests that leave
evenly spaced but arrive bunched up.
"""

import fcntl
import json
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
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


class FileRateLimiter:
    """A token bucket in a file, shared by every process on this machine that uses the file.

    For the embedded set-up without Redis: web, worker processes and beat take their tokens
    from one bucket. The read-modify-write of the state happens under an exclusive
    ``flock``; the caller sleeps only after the lock is released. One file holds the buckets
    of several keys (accounts); a bucket refilled to its capacity is dropped, as a missing
    bucket is a full one. A missing or unreadable state is taken as full buckets.

    The clock must be one that every process reads alike: ``time.monotonic`` is the
    machine's clock since boot on Linux and macOS. A state from before a reboot (a time
    ahead of the clock) is discarded.
    """

    def __init__(
        self,
        *,
        path: Path | str,
        key: str,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.path = Path(path)
        self.key = key
        self.rate = rate
        self.capacity = capacity if capacity is not None else default_capacity(rate)
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> float:
        try:
            wait = self._take()
        except OSError as exc:
            # Nothing was sent to Smart Assessor, so trying again later is safe.
            raise Transient(
                f"the shared rate limiter's file {self.path} cannot be used ({exc})",
                ambiguous=False,
            ) from exc
        if wait:
            self._sleep(wait)
        return wait

    def _take(self) -> float:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Opened anew on every call: a flock belongs to the open file, so a descriptor
        # inherited through fork would share the lock instead of waiting for it.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = self._clock()
            buckets = self._read(fd, now)
            tokens, updated, _ = buckets.get(self.key, (self.capacity, now, now))
            tokens = min(self.capacity, tokens + (now - updated) * self.rate) - 1
            buckets[self.key] = (tokens, now, now + (self.capacity - tokens) / self.rate)
            self._write(fd, buckets)
        finally:
            os.close(fd)  # releases the lock
        return -tokens / self.rate if tokens < 0 else 0.0

    @staticmethod
    def _read(fd: int, now: float) -> dict[str, tuple[float, float, float]]:
        """Each bucket not yet full again as (tokens, updated, full at); junk counts as full."""
        raw = b""
        while chunk := os.read(fd, 65536):
            raw += chunk
        try:
            state = json.loads(raw)
        except ValueError:
            return {}
        if not isinstance(state, dict):
            return {}
        buckets = {}
        for key, value in state.items():
            try:
                tokens, updated, full_at = (float(item) for item in value)
            except (TypeError, ValueError):
                continue
            if not all(map(math.isfinite, (tokens, updated, full_at))) or updated > now:
                continue
            if full_at > now:
                buckets[key] = (tokens, updated, full_at)
        return buckets

    @staticmethod
    def _write(fd: int, buckets: dict[str, tuple[float, float, float]]) -> None:
        data = json.dumps({key: list(value) for key, value in buckets.items()}).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
