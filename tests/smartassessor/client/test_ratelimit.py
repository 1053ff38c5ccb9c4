"""The client-side token buckets: in-process, shared in a file, and shared through Redis."""

import fcntl
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from smartassessor.client import (
    LocalRateLimiter,
    RedisRateLimiter,
    Transient,
    account_fingerprint,
    default_capacity,
)
from smartassessor.client.ratelimit import FileRateLimiter
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


# --- Shared in a file (the embedded set-up) -----------------------------------------------

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("limiter_worker.py")

# One process taking tokens from the file bucket from a common start time; prints the
# monotonic time at which each acquire returned (the moment it may send its request).
FILE_TAKER = """
import json, sys, time
from smartassessor.client.ratelimit import FileRateLimiter
path, rate, calls, start = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
limiter = FileRateLimiter(path=path, key="account", rate=rate)
while time.monotonic() < start:
    time.sleep(0.001)
taken = []
for _ in range(calls):
    limiter.acquire()
    taken.append(time.monotonic())
print(json.dumps(taken))
"""


def file_limiter(path, fake, **kwargs):
    return FileRateLimiter(path=path, clock=fake.clock, sleep=fake.sleep, **kwargs)


def test_two_file_limiters_on_one_file_share_one_bucket(tmp_path):
    fake = FakeTime()
    waits = {"a": [], "b": []}
    first = FileRateLimiter(
        path=tmp_path / "rate.lock", key="k", rate=2, capacity=2,
        clock=fake.clock, sleep=waits["a"].append,
    )  # fmt: skip
    second = FileRateLimiter(
        path=tmp_path / "rate.lock", key="k", rate=2, capacity=2,
        clock=fake.clock, sleep=waits["b"].append,
    )  # fmt: skip

    first.acquire()
    first.acquire()
    second.acquire()
    first.acquire()

    # As with Redis: `second` waits for the next token, `first` queues behind it.
    assert waits == {"a": [pytest.approx(1.0)], "b": [pytest.approx(0.5)]}


@pytest.mark.parametrize(("rate", "calls"), [(5.0, 25), (0.5, 4), (20.0, 100)])
def test_the_file_bucket_lets_n_calls_through_at_the_rate(tmp_path, rate, calls):
    fake = FakeTime()
    limiter = file_limiter(tmp_path / "rate.lock", fake, key="k", rate=rate)
    start = fake.now

    for _ in range(calls):
        limiter.acquire()

    minimum = (calls - limiter.capacity) / rate
    assert minimum - 1e-6 <= fake.now - start < minimum + 1 / rate


def test_file_buckets_of_different_accounts_are_independent(tmp_path):
    fake = FakeTime()
    busy = file_limiter(tmp_path / "rate.lock", fake, key="busy", rate=1, capacity=1)
    other = file_limiter(tmp_path / "rate.lock", fake, key="other", rate=1, capacity=1)

    busy.acquire()

    assert busy.acquire() == pytest.approx(1.0)
    assert other.acquire() == 0


def test_a_missing_folder_is_made_and_a_refilled_bucket_leaves_the_file(tmp_path):
    fake = FakeTime()
    path = tmp_path / "var" / "rate.lock"
    limiter = file_limiter(path, fake, key="k", rate=10, capacity=5)

    limiter.acquire()
    assert list(json.loads(path.read_text())) == ["k"]
    fake.now += 1  # refilled: a full bucket is the same as none
    file_limiter(path, fake, key="other", rate=10).acquire()

    assert list(json.loads(path.read_text())) == ["other"]


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00\xff garbage", b"[1, 2]", b'{"k": "x"}', b'{"k": [1]}', b'{"k": [NaN, 1, 2]}'],
)
def test_a_corrupt_state_file_counts_as_a_full_bucket(tmp_path, content):
    path = tmp_path / "rate.lock"
    path.write_bytes(content)
    limiter = file_limiter(path, FakeTime(), key="k", rate=10, capacity=2)

    assert [limiter.acquire() for _ in range(3)] == pytest.approx([0, 0, 0.1])


def test_a_state_from_before_a_reboot_is_discarded(tmp_path):
    """The monotonic clock starts again at boot: a bucket updated "in the future" is stale."""
    path = tmp_path / "rate.lock"
    path.write_text(json.dumps({"k": [-500.0, 10_000.0, 10_100.0]}))
    limiter = file_limiter(path, FakeTime(), key="k", rate=10, capacity=2)

    assert limiter.acquire() == 0


def test_the_file_is_not_locked_while_a_caller_waits(tmp_path):
    path = tmp_path / "rate.lock"
    locked_while_sleeping = []

    def sleep(seconds):
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked_while_sleeping.append(False)
        except BlockingIOError:
            locked_while_sleeping.append(True)
        finally:
            os.close(fd)

    limiter = FileRateLimiter(path=path, key="k", rate=1, capacity=1, sleep=sleep)
    limiter.acquire()
    limiter.acquire()

    assert locked_while_sleeping == [False]


def test_an_unusable_file_is_a_transient_error_before_anything_is_sent(tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    limiter = FileRateLimiter(path=tmp_path / "not-a-folder" / "rate.lock", key="k", rate=1)

    with pytest.raises(Transient) as caught:
        limiter.acquire()

    assert not caught.value.ambiguous
    assert "rate limiter's file" in str(caught.value)


def test_threads_share_the_file_bucket(tmp_path):
    limiter = FileRateLimiter(path=tmp_path / "rate.lock", key="k", rate=50, capacity=1)
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


def busiest_second(times: list[float]) -> int:
    """The most acquisitions in any window of one second (starting at an acquisition)."""
    times = sorted(times)
    most, end = 0, 0
    for start, opened in enumerate(times):
        while end < len(times) and times[end] < opened + 1:
            end += 1
        most = max(most, end - start)
    return most


def test_two_processes_on_the_file_limiter_together_keep_to_the_rate(tmp_path):
    rate, calls_per_process = 20.0, 40
    capacity = default_capacity(rate)
    start = time.monotonic() + 1.5  # both have imported and wait at the line
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                FILE_TAKER,
                str(tmp_path / "rate.lock"),
                str(rate),
                str(calls_per_process),
                str(start),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=60) for process in processes]

    taken = []
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        taken.extend(json.loads(out))
    assert len(taken) == 2 * calls_per_process
    # Each alone would have let 10 + 20 through in its first second: 60 together.
    assert busiest_second(taken) <= rate + capacity
    assert max(taken) - min(taken) >= (2 * calls_per_process - capacity) / rate - 0.05


def test_two_worker_processes_without_redis_share_the_rate_limit(sandbox, tmp_path):
    """The embedded set-up (file cache, no Redis): two processes at 20 a second make 20, not 40.

    Smart Assessor's own bucket holds 20 tokens refilled at 20 a second; it answers 429 as
    soon as the two together go faster.
    """
    rate, calls_per_worker = 20, 40
    sandbox.faults(RateLimitPerSecond=rate)
    sandbox.reset_stats()
    environment = os.environ | {
        "DJANGO_SETTINGS_MODULE": "picsweb.settings",
        "CACHE_URL": f"filecache://{tmp_path / 'cache'}",
        "SMARTASSESSOR_RATE_LIMIT_FILE": str(tmp_path / "rate.lock"),
        "SA_BASE_URL": sandbox.url,
        "SA_USERNAME": sandbox.username,
        "SA_PASSWORD": sandbox.password,
        "SA_CLIENT_KEY": sandbox.client_key,
        "SA_REQUESTS_PER_SECOND": str(rate),
        "SA_CALLS": str(calls_per_worker),
    }
    started = time.monotonic()

    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER)],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]
    elapsed = time.monotonic() - started

    for worker, (out, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
        assert out.strip() == f"{calls_per_worker} calls"
    stats = sandbox.stats()
    assert stats["ByRoute"]["GET /api/v1/event-types"] >= 2 * calls_per_worker
    assert stats["RateLimited"] == 0
    assert "429" not in stats["ByStatus"]
    assert elapsed >= (2 * calls_per_worker - default_capacity(rate)) / rate
    fingerprint = account_fingerprint(
        base_url=sandbox.url, username=sandbox.username, client_key=sandbox.client_key
    )
    assert fingerprint in json.loads((tmp_path / "rate.lock").read_text())
