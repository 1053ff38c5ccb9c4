"""The client-side token buckets: in-process and shared through Redis."""

import threading
import time
import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from smartassessor.client import LocalRateLimiter, RedisRateLimiter, Transient, default_capacity
from tests.environment import REDIS_URL

from . import wire


class FakeTime:
    """A monotonic clock that only moves when someone sleeps."""

    def __init__(self):
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(("rate", "calls"), [(5.0, 25), (0.5, 4), (20.0, 100)])
def test_n_calls_take_at_least_n_minus_capacity_over_rate(rate, calls):
    fake = FakeTime()
    limiter = LocalRateLimiter(rate=rate, clock=fake.clock, sleep=fake.sleep)
    start = fake.now

    for _ in range(calls):
        limiter.acquire()

    elapsed = fake.now - start
    minimum = (calls - limiter.capacity) / rate
    assert elapsed >= minimum - 1e-9
    assert elapsed < minimum + 1 / rate


def test_a_burst_never_exceeds_the_capacity():
    fake = FakeTime()
    limiter = LocalRateLimiter(rate=10, clock=fake.clock, sleep=fake.sleep)

    waits = [limiter.acquire() for _ in range(8)]

    assert limiter.capacity == 5
    assert waits[:5] == [0.0] * 5
    assert waits[5:] == pytest.approx([0.1, 0.1, 0.1])


def test_an_idle_bucket_refills_only_up_to_its_capacity():
    fake = FakeTime()
    limiter = LocalRateLimiter(rate=2, capacity=2, clock=fake.clock, sleep=fake.sleep)
    limiter.acquire()
    fake.now += 3600

    waits = [limiter.acquire() for _ in range(3)]

    assert waits == pytest.approx([0, 0, 0.5])


def test_capacity_is_small_but_at_least_one_token():
    assert default_capacity(0.2) == 1
    assert default_capacity(10) == 5
    assert default_capacity(20) <= 20  # never more than the server's own bucket at that rate


def test_threads_share_the_in_process_bucket():
    limiter = LocalRateLimiter(rate=50, capacity=1)
    started = time.monotonic()

    def take(times):
        for _ in range(times):
            limiter.acquire()

    threads = [threading.Thread(target=take, args=(5,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert time.monotonic() - started >= (20 - 1) / 50 - 0.01


def test_every_request_takes_a_token_including_the_token_request(http, make_client):
    class CountingLimiter:
        taken = 0

        def acquire(self):
            self.taken += 1
            return 0.0

    limiter = CountingLimiter()
    http.post(wire.API + "/token", json=wire.token())
    http.get(wire.API + "/event-types", json={"Items": []})
    client = make_client(rate_limiter=limiter)

    client.event_type_list()
    client.event_type_list()

    assert limiter.taken == len(http.calls) == 3


@pytest.fixture
def redis_key():
    key = f"test:smartassessor:ratelimit:{uuid.uuid4().hex}"
    yield key
    redis.Redis.from_url(REDIS_URL).delete(key)


@pytest.mark.redis
def test_two_redis_limiters_share_one_bucket(redis_key):
    waits = {"a": [], "b": []}
    # Separate connections, as two processes would have.
    first = RedisRateLimiter(
        client=redis.Redis.from_url(REDIS_URL),
        key=redis_key,
        rate=2,
        capacity=2,
        sleep=waits["a"].append,
    )
    second = RedisRateLimiter(
        client=redis.Redis.from_url(REDIS_URL),
        key=redis_key,
        rate=2,
        capacity=2,
        sleep=waits["b"].append,
    )

    first.acquire()
    first.acquire()
    second.acquire()
    first.acquire()

    # The bucket was emptied by `first`, so `second` waits for the next token (0.5 s at 2/s)
    # and `first` queues behind it.
    assert waits["a"] == [pytest.approx(1.0, abs=0.05)]
    assert waits["b"] == [pytest.approx(0.5, abs=0.05)]


@pytest.mark.redis
def test_redis_buckets_of_different_accounts_are_independent(redis_key):
    client = redis.Redis.from_url(REDIS_URL)
    busy = RedisRateLimiter(client=client, key=redis_key, rate=1, capacity=1, sleep=lambda s: None)
    other = RedisRateLimiter(
        client=client, key=redis_key + ":other", rate=1, capacity=1, sleep=lambda s: None
    )
    try:
        busy.acquire()
        assert busy.acquire() > 0.9
        assert other.acquire() == 0
    finally:
        client.delete(redis_key + ":other")


@pytest.mark.redis
def test_a_redis_bucket_expires_once_refilled(redis_key):
    client = redis.Redis.from_url(REDIS_URL)
    limiter = RedisRateLimiter(client=client, key=redis_key, rate=10, capacity=5)

    limiter.acquire()

    assert 0 < client.pttl(redis_key) <= 1100


def test_an_unreachable_redis_is_a_transient_error_before_anything_is_sent():
    limiter = RedisRateLimiter(
        client=redis.Redis(host="127.0.0.1", port=9, retry=Retry(NoBackoff(), 0)),
        key="unused",
        rate=1,
    )

    with pytest.raises(Transient) as caught:
        limiter.acquire()

    assert not caught.value.ambiguous
    assert "rate limiter in Redis is unreachable" in str(caught.value)
