"""What the reconciliation report (F24) costs at scale, measured against a local sandbox.

Run with ``.venv/bin/python bench/reconcile.py [--db sqlite|postgres] [--learners N[,N...]]``.
Each number of learners is measured in a process of its own (so that the memory figures stay
apart), with its own sandbox (a free port, a temporary data file) and its own database (SQLite
in a temporary file, or a PostgreSQL database made for the run and dropped at the end, as
``bench/sync.py`` does). It:

- bulk-seeds N learners (default 10,000) in the sandbox, one course each, and the matching MIS
  learners in bulk, every one linked as an enrolment leaves it, except that 2 % of the MIS
  learners are unlinked under another ident (so their SA learners are unlinked, with the ULN
  as the likely match), 1 % are linked to an SA id SA never had (linked nowhere: their SA
  learners name them), and 2 % are linked in swapped pairs; 20 ms latency on every answer;
- builds the report in the foreground (``reconciliation_build_now``) and measures ``wall_s``,
  ``api_calls`` (the sandbox's request count), ``queries`` (Django's execute wrapper), the
  findings stored, and ``peak_mb`` (the process's peak resident memory so far, seeding
  included);
- builds it a second time, which replaces the first report (its findings deleted in the same
  transaction), and measures that too.

It prints a line per build, then one JSON object per measured build on its own line. Aim:
10,000 learners well under a minute.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync import counted_queries, database, listed, setup_django  # noqa: E402
from sandbox.process import start_sandbox  # noqa: E402

LATENCY_MS = 20
BATCH = 2000


def mis_from_sandbox(client) -> None:
    """The MIS side of the seeded learners, in bulk, with the disagreements described above."""
    import datetime as dt

    from django.utils import timezone

    from learners.models import Learner
    from smartassessor.models import Enrolment

    learners, enrolments = [], []
    now = timezone.now()
    swapped = []
    for number, remote in enumerate(client.learner_scan(page_size=500)):
        unlinked = number % 50 == 7  # 2 %
        learner = Learner(
            ident=f"OTHER{number:06d}" if unlinked else remote.mis_learner_id,
            first_name=remote.given_names,
            surname=remote.family_name,
            date_of_birth=remote.date_of_birth,
            uln=remote.uln or "",
            email=remote.email or "",
            start_date=remote.start_date,
            planned_end_date=remote.start_date + dt.timedelta(days=730),
        )
        learners.append(learner)
        if unlinked:
            continue
        sa_id = remote.smart_assessor_id
        if number % 100 == 11:  # 1 %: linked nowhere
            sa_id = str(uuid.uuid4())
        elif number % 100 in (23, 24):  # 1 %: in swapped pairs
            swapped.append(sa_id)
            if len(swapped) == 2:
                enrolments[-1].sa_learner_id, sa_id = sa_id, swapped[0]
                swapped = []
        enrolments.append(
            Enrolment(
                learner=learner,
                state=Enrolment.State.ENROLLED,
                sa_learner_id=sa_id,
                enrolled_at=now,
            )
        )
    Learner.objects.bulk_create(learners, batch_size=BATCH)
    Enrolment.objects.bulk_create(enrolments, batch_size=BATCH)


def measure(label: str, context: dict) -> dict:
    from smartassessor.selectors import reconciliation as selectors
    from smartassessor.services import reconciliation

    sandbox = context["sandbox"]
    sandbox.reset_stats()
    started = time.perf_counter()
    with counted_queries() as counter:
        report = reconciliation.reconciliation_build_now()
    wall = time.perf_counter() - started
    calls = sandbox.stats()["Requests"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if report.state != report.State.SUCCEEDED:
        sys.exit(f"{label}: {report.get_state_display()}: {report.error}")
    counts = {
        count.category: count.count for count in selectors.reconciliation_counts(report=report)
    }
    findings = sum(counts.values())
    print(
        f"[{context['db']}, {context['learners']:,} learners] {label}: {wall:.2f} s, "
        f"{calls:,} API calls, {counter['queries']:,} DB queries, {findings:,} findings; "
        f"peak memory so far {peak_mb:.0f} MB"
    )
    print("    " + ", ".join(f"{name} {count:,}" for name, count in counts.items() if count))
    return {
        "case": label,
        "db": context["db"],
        "learners": context["learners"],
        "state": report.state,
        "wall_s": round(wall, 2),
        "api_calls": calls,
        "queries": counter["queries"],
        "rows_written": counter["rows"],
        "findings": findings,
        "counts": counts,
        "peak_mb": round(peak_mb),
    }


def run_benchmark(db: str, learners: int) -> list:
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as name:
        folder = Path(name)
        server = start_sandbox(folder / "sandbox.sqlite3", folder / "sandbox.log", feeds=False)
        try:
            with database(db, folder) as database_url:
                return _benchmark(db, learners, database_url, server)
        finally:
            server.stop()


def _benchmark(db: str, learners: int, database_url: str, server) -> list:
    setup_django(database_url)
    from sandbox.control import SandboxControl
    from smartassessor.connection import client_from_settings
    from smartassessor.models import IntegrationSettings

    sandbox = SandboxControl(server.url, timeout=600)
    sandbox.faults(RateLimitPerSecond=None)
    started = time.perf_counter()
    sandbox.seed(learners, courses_per_learner=1, prefix="BENCH")
    settings = IntegrationSettings.load()
    settings.enabled = True
    settings.base_url = server.url
    settings.username = server.username
    settings.password = server.password
    settings.client_key = server.client_key
    settings.requests_per_second = 100_000
    settings.save()
    mis_from_sandbox(client_from_settings())
    print(
        f"[{db}] Seeded {learners:,} learners in the sandbox and the MIS in "
        f"{time.perf_counter() - started:.1f} s; latency {LATENCY_MS} ms from now on."
    )
    sandbox.faults(LatencyMs=LATENCY_MS)
    context = {"sandbox": sandbox, "db": db, "learners": learners}
    return [measure("first build", context), measure("second build, replacing it", context)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--learners",
        type=listed(kind=int),
        default=[10_000],
        help="how many learners, or a list of sizes (10000,30000), each measured apart",
    )
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if len(options.learners) == 1 and options.json_only:
        for result in run_benchmark(options.db, options.learners[0]):
            print("RESULT " + json.dumps(result))
        return
    results = []
    for learners in options.learners:
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                f"--db={options.db}",
                f"--learners={learners}",
                "--json-only",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stderr.write(child.stderr)
        for line in child.stdout.splitlines():
            if line.startswith("RESULT "):
                results.append(json.loads(line.removeprefix("RESULT ")))
            else:
                print(line)
        if child.returncode:
            sys.exit(child.returncode)
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
