"""How much the Smart Assessor client costs, measured against a local sandbox.

Run with ``.venv/bin/python bench/client.py``. It starts its own sandbox (a free port, a
temporary data file), then prints:

- the median time of one call through the client (rate limiter, token, retries, typed
  parsing) next to a bare ``requests`` call on the same endpoint over a pooled session, and
  the difference: the client's own overhead per call;
- the time to page through 10,000 bulk-seeded learners with the list iterator (PageSize 500)
  and with the change-feed iterator (keyset, PageSize 500).
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.process import start_sandbox  # noqa: E402
from sandbox.server import DEMO_CLIENT_KEY, DEMO_PASSWORD, DEMO_USERNAME  # noqa: E402
from smartassessor.client import LocalRateLimiter, SmartAssessorClient  # noqa: E402

CALLS = 1000
WARM_UP = 50
LEARNERS = 10_000
PAGE_SIZE = 500
ROUNDS = 3
UNLIMITED = 1_000_000  # requests per second: the benchmark measures cost, not limits


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1_000_000


def per_call_overhead(client: SmartAssessorClient, base_url: str) -> None:
    url = base_url + "/api/v1/event-types"
    response = requests.post(
        base_url + "/api/v1/token",
        json={"Username": DEMO_USERNAME, "Password": DEMO_PASSWORD, "ClientKey": DEMO_CLIENT_KEY},
        timeout=10,
    )
    headers = {"Authorization": "Bearer " + response.json()["AccessToken"]}
    bare = requests.Session()
    bare_times, client_times = [], []
    # Interleaved, so that drift in the machine's load affects both alike.
    for index in range(WARM_UP + CALLS):
        started = time.perf_counter()
        bare.get(url, headers=headers, timeout=(5, 30)).json()
        middle = time.perf_counter()
        client.event_type_list()
        ended = time.perf_counter()
        if index >= WARM_UP:
            bare_times.append(middle - started)
            client_times.append(ended - middle)
    bare_us, client_us = median_us(bare_times), median_us(client_times)
    print(f"GET /event-types, median of {CALLS} calls each:")
    print(f"  bare requests.Session:  {bare_us:8.0f} µs")
    print(f"  SmartAssessorClient:    {client_us:8.0f} µs")
    print(f"  client overhead:        {client_us - bare_us:8.0f} µs per call")


def paging(client: SmartAssessorClient, base_url: str) -> None:
    started = time.perf_counter()
    response = requests.post(
        base_url + "/_sandbox/seed",
        json={"Learners": LEARNERS, "CoursesPerLearner": 1, "Prefix": "BENCH"},
        timeout=120,
    )
    response.raise_for_status()
    print(f"\nSeeded {LEARNERS:,} learners in {time.perf_counter() - started:.1f} s")

    def timed(iterable) -> tuple[int, float]:
        started = time.perf_counter()
        count = sum(1 for _ in iterable)
        return count, time.perf_counter() - started

    print(f"Paging through all learners at PageSize {PAGE_SIZE} (median of {ROUNDS} runs):")
    for label, read in (
        ("list iterator (Page)  ", lambda: client.learner_list(page_size=PAGE_SIZE)),
        ("feed iterator (keyset)", lambda: client.learner_feed(page_size=PAGE_SIZE)),
    ):
        runs = [timed(read()) for _ in range(ROUNDS)]
        count = runs[0][0]
        seconds = statistics.median(run[1] for run in runs)
        print(f"  {label}  {count:,} learners in {seconds:.2f} s ({count / seconds:,.0f}/s)")


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        folder_path = Path(folder)
        sandbox_process = start_sandbox(
            folder_path / "sandbox.sqlite3", folder_path / "sandbox.log"
        )
        base_url = sandbox_process.url
        try:
            # null switches the sandbox's rate limit off.
            requests.put(
                base_url + "/_sandbox/faults", json={"RateLimitPerSecond": None}, timeout=10
            ).raise_for_status()
            client = SmartAssessorClient(
                base_url=base_url,
                username=sandbox_process.username,
                password=sandbox_process.password,
                client_key=sandbox_process.client_key,
                rate_limiter=LocalRateLimiter(rate=UNLIMITED),
            )
            print(f"Sandbox at {base_url}\n")
            per_call_overhead(client, base_url)
            paging(client, base_url)
            client.close()
        finally:
            sandbox_process.stop()
    print(f"\nBenchmark took {time.perf_counter() - started:.0f} s in all.")


if __name__ == "__main__":
    main()
