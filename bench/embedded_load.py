"""Bulk Create on the embedded set-up under load: what `make run` holds up to on this machine.

Run with ``.venv/bin/python bench/embedded_load.py`` (needs neither PostgreSQL nor Redis). Each
case starts, in a temporary folder, the sandbox (latency 0), a SQLite database file, a Celery
worker with two processes on the filesystem broker and ``runserver``; it then posts a Bulk
Create through the web while another member of staff reads pages in a loop, as
``tests/test_embedded_load.py`` does. It prints one JSON object per case: learners, seconds,
pages requested, 5xx and unanswered pages, "database is locked" count, 429s and duplicates in
Smart Assessor.
"""

import collections
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.control import SandboxControl  # noqa: E402
from sandbox.process import start_sandbox  # noqa: E402
from tests.fixtures.embedded import (  # noqa: E402
    EmbeddedDeployment,
    bulk_create_under_load,
    sa_mis_ids,
)

# (learners, Smart Assessor's limit per second, the integration's limit per second)
CASES = [(100, 20, 19), (100, 1000, 500), (300, 1000, 500)]
TIMEOUT_SECONDS = 300


def run_case(folder: Path, learners: int, sa_limit: float, client_rate: float) -> dict:
    sandbox = start_sandbox(folder / "sandbox.sqlite3", folder / "sandbox.log")
    control = SandboxControl(
        sandbox.url,
        username=sandbox.username,
        password=sandbox.password,
        client_key=sandbox.client_key,
    )
    deployment = EmbeddedDeployment(folder)
    try:
        control.faults(LatencyMs=0, RateLimitPerSecond=sa_limit)
        idents = [f"LD{n:06d}" for n in range(learners)]
        deployment.migrate_and_seed(sandbox=control, idents=idents, rate=client_rate)
        deployment.start_worker(concurrency=2)
        deployment.start_web()
        load = bulk_create_under_load(deployment, idents=idents, timeout=TIMEOUT_SECONDS)
        rate_limited = control.stats()["RateLimited"]
        in_sa = sa_mis_ids(control)
    finally:
        deployment.stop()
        control.close()
        sandbox.stop()
    logs = "\n".join(deployment.logs().values())
    statuses = collections.Counter(status for _, status in load.answers)
    mine = [i for i in in_sa["learners"] if i in set(idents)]
    duplicates = sum(
        len(ids) - len(set(ids))
        for ids in (
            mine,
            [i for i in in_sa["employers"] if i],
            [i for i in in_sa["assessors"] if i],
        )
    )
    return {
        "learners": learners,
        "sa_limit_per_second": sa_limit,
        "client_rate_per_second": client_rate,
        "seconds": round(load.seconds, 1),
        "enrolled": load.states["enrolled"],
        "states": dict(load.states),
        "pages_requested": len(load.answers),
        "5xx": sum(n for s, n in statuses.items() if isinstance(s, int) and s >= 500),
        "no_answer": sum(n for s, n in statuses.items() if not isinstance(s, int)),
        "locked": logs.count("database is locked"),
        "rate_limited": rate_limited,
        "duplicates": duplicates,
        "missing_in_sa": len(set(idents) - set(mine)),
    }


def main() -> None:
    for learners, sa_limit, client_rate in CASES:
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(run_case(Path(folder), learners, sa_limit, client_rate)), flush=True)


if __name__ == "__main__":
    main()
