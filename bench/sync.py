"""What the synchronisation costs at scale, measured against a local sandbox (issue 11, point 2).

Run with ``.venv/bin/python bench/sync.py [--db sqlite|postgres|both] [--learners N]
[--cases abcde]``. For each database (``both``: SQLite, then PostgreSQL, each in a process of its
own so their memory figures stay apart) it starts its own sandbox (a free port, a temporary data
file) and its own database: SQLite in a temporary file, PostgreSQL in a bench database created on
postgres://postgres@127.0.0.1:5432 and dropped at the end. Then it:

- bulk-seeds N learners (default 10,000) enrolled on 3 courses each in the sandbox, and the
  matching MIS learners, plans and enrolments in bulk; the integration in Pull mode, risk from
  Smart Coach on, 20 ms latency on every Smart Assessor answer;
- moves simulated time on a month and times (a) the first full daily run (every feed read from
  the start: progress, reviews, Smart Coach and learners);
- (b) moves Smart Assessor's clock on 1 day (every active learner's timeline and most progress
  figures change, as in real life) and times the next daily run;
- (c) moves it on 7 days and times the next daily run;
- (d) changes the details (mobile) of 1 % of the learners in Smart Assessor and times the next
  daily run;
- (e) times a daily run with nothing changed (there is no delta run yet: its JSON says
  ``"trigger": "daily"``);
- then refreshes the 1 % of (d) one by one (Refresh with Smart Assessor) for comparison.

For each run it measures, in this process:

- ``wall_s``: the wall time of ``sync_run_daily``;
- ``api_calls``: the sandbox's request count (``/_sandbox/stats``) for the run;
- ``queries``: the database queries it made (Django's ``connection.execute_wrapper``);
- ``rows_written``: the rows its INSERT, UPDATE and DELETE statements affected (each statement's
  ``cursor.rowcount``, read through the same execute wrapper once its rows were fetched), the
  run's own bookkeeping (run record, lock, watermarks) included;
- ``history_rows``: the ``SyncChange`` rows the run created;
- ``read_only_s``: after the run, the same four feeds re-read from the watermarks the run started
  from, with the client only (no ORM: the queries made meanwhile are counted and printed), and
  ``ratio`` = ``wall_s / read_only_s``;
- ``peak_mb``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end of the run: the peak
  resident memory of this process so far (seeding and earlier runs included), not of the run alone.

It prints a human-readable line or two per run, then one JSON object per run on its own line.
Aims of issue 11 on this machine: (b) <= 10 s and ratio <= 3 on both databases, (a) <= 30 s,
(e) <= 0.5 s, peak memory <= 300 MB.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.process import start_sandbox  # noqa: E402

COURSES_PER_LEARNER = 3
LATENCY_MS = 20
BATCH = 2000
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
CASES = "abcde"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CACHE_URL"] = "locmemcache://"
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picsweb.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextmanager
def counted_queries():
    """Counts the queries and the rows their INSERT, UPDATE and DELETE statements affected.

    A statement's rowcount is read at the next statement (or at the end), because an INSERT ...
    RETURNING (Django's bulk_create) only knows it once its rows have been fetched."""
    from django.db import connection

    counter = {"queries": 0, "rows": 0}
    pending = []

    def settle() -> None:
        while pending:
            rowcount = pending.pop().rowcount
            if rowcount and rowcount > 0:
                counter["rows"] += rowcount

    def count(execute, sql, params, many, context):
        settle()
        counter["queries"] += 1
        result = execute(sql, params, many, context)
        if sql.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            pending.append(context["cursor"].cursor)
        return result

    with connection.execute_wrapper(count):
        yield counter
    settle()


def mis_from_sandbox(client) -> None:
    """The MIS side of the seeded learners, written in bulk, as an enrolment would leave it."""
    from learners.models import Learner, LearnerQualification, Qualification
    from smartassessor import mapping
    from smartassessor.models import CourseEnrolment, Enrolment, QualificationLink

    qualifications = {}
    for course in client.course_list(page_size=500):
        if course.is_active:
            qualification = Qualification.objects.create(
                reference=course.qan_code.replace(" ", "").upper(),
                title=course.qualification_title,
            )
            QualificationLink.objects.create(
                qualification=qualification,
                course_id=course.smart_assessor_id,
                course_title=course.qualification_title,
            )
            qualifications[course.smart_assessor_id] = qualification

    learners, enrolments = {}, {}
    batch = []
    for remote in client.learner_feed(page_size=500):
        batch.append(remote)
        if len(batch) == BATCH:
            _learners(batch, learners, enrolments, Learner, Enrolment, mapping)
            batch = []
    _learners(batch, learners, enrolments, Learner, Enrolment, mapping)

    plan, courses = [], []
    for course in client.learner_course_feed(page_size=500):
        learner = learners[course.learner_smart_assessor_id]
        plan.append(
            LearnerQualification(
                learner_id=learner,
                qualification=qualifications[course.course_smart_assessor_id],
                start_date=course.start_date,
                planned_end_date=course.planned_end_date,
            )
        )
        courses.append(course.smart_assessor_id)
    LearnerQualification.objects.bulk_create(plan, batch_size=BATCH)
    CourseEnrolment.objects.bulk_create(
        [
            CourseEnrolment(
                enrolment_id=enrolments[lq.learner_id],
                learner_qualification=lq,
                state=CourseEnrolment.State.ENROLLED,
                sa_learner_course_id=sa_course_id,
            )
            for lq, sa_course_id in zip(plan, courses, strict=True)
        ],
        batch_size=BATCH,
    )


def _learners(batch, learners, enrolments, Learner, Enrolment, mapping) -> None:
    import datetime as dt

    from django.utils import timezone

    rows = [
        Learner(
            ident=remote.mis_learner_id,
            first_name=remote.given_names,
            surname=remote.family_name,
            date_of_birth=remote.date_of_birth,
            sex=mapping.SEX_FROM_SA.get(remote.sex, "not_known"),
            uln=remote.uln or "",
            email=remote.email or "",
            mobile=remote.mobile or "",
            phone=remote.telephone or "",
            address_line1=remote.address_line1 or "",
            postcode=remote.address_post_code or "",
            start_date=remote.start_date,
            planned_end_date=remote.start_date + dt.timedelta(days=730),
        )
        for remote in batch
    ]
    Learner.objects.bulk_create(rows, batch_size=BATCH)
    now = timezone.now()
    enrolment_rows = [
        Enrolment(
            learner=row,
            state=Enrolment.State.ENROLLED,
            sa_learner_id=remote.smart_assessor_id,
            enrolled_at=now,
        )
        for row, remote in zip(rows, batch, strict=True)
    ]
    Enrolment.objects.bulk_create(enrolment_rows, batch_size=BATCH)
    for row, enrolment, remote in zip(rows, enrolment_rows, batch, strict=True):
        learners[remote.smart_assessor_id] = row.pk
        enrolments[row.pk] = enrolment.pk


def change_in_sa(client, sa_ids: list[str], round_number: int) -> None:
    from smartassessor.client import LearnerChanges

    for number, sa_id in enumerate(sa_ids):
        client.learner_update(
            learner_id=sa_id, changes=LearnerChanges(mobile=f"07{round_number}00 {number:06d}")
        )


def feeds_read(client, since: dict) -> float:
    """Seconds to read the four feeds from the given positions, with the client only."""
    from smartassessor.services import sync

    feeds = {
        sync.FEED_COURSES: client.learner_course_feed,
        sync.FEED_SESSIONS: client.session_feed,
        sync.FEED_SMART_COACH: client.smart_coach_feed,
        sync.FEED_LEARNERS: client.learner_feed,
    }
    started = time.perf_counter()
    for name, open_feed in feeds.items():
        for _ in open_feed(since=since[name], page_size=sync.PAGE_SIZE):
            pass
    return time.perf_counter() - started


def measure(case: str, label: str, context: dict) -> dict:
    """One daily run, measured, then the same feeds re-read from where it started."""
    from smartassessor.models import SyncChange
    from smartassessor.services import sync

    sandbox, client = context["sandbox"], context["client"]
    since = {
        name: sync.locks.watermark(name)
        for name in (
            sync.FEED_COURSES,
            sync.FEED_SESSIONS,
            sync.FEED_SMART_COACH,
            sync.FEED_LEARNERS,
        )
    }
    sandbox.reset_stats()
    started = time.perf_counter()
    with counted_queries() as counter:
        run = sync.sync_run_daily()
    wall = time.perf_counter() - started
    calls = sandbox.stats()["Requests"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    history = SyncChange.objects.filter(run=run).count()

    sandbox.reset_stats()
    with counted_queries() as read_counter:
        read_only = feeds_read(client, since)
    read_calls = sandbox.stats()["Requests"]
    print(
        f"({case}) {label}: {wall:.2f} s, {calls:,} API calls, {counter['queries']:,} DB "
        f"queries, {counter['rows']:,} rows written, {history:,} history rows; "
        f"{run.get_state_display()}"
    )
    print(
        f"    {run.learners_seen:,} learners seen, {run.qualifications_updated:,} "
        f"qualifications updated, {run.reviews_created:,} reviews created, "
        f"{run.risk_updated:,} risk bands set, {run.details_pulled:,} details pulled, "
        f"{run.error_count} errors"
    )
    print(
        f"    the same feeds only read: {read_only:.2f} s ({read_calls:,} API calls, "
        f"{read_counter['queries']} DB queries): ratio {wall / read_only:.1f}; "
        f"peak memory so far {peak_mb:.0f} MB"
    )
    return {
        "run": case,
        "db": context["db"],
        "feeds": True,
        "trigger": run.trigger,
        "learners": context["learners"],
        "state": run.state,
        "wall_s": round(wall, 2),
        "read_only_s": round(read_only, 2),
        "ratio": round(wall / read_only, 1),
        "api_calls": calls,
        "queries": counter["queries"],
        "rows_written": counter["rows"],
        "history_rows": history,
        "peak_mb": round(peak_mb),
    }


def run_benchmark(db: str, learners: int, cases: str, database_url: str, folder: Path) -> list:
    sandbox_process = start_sandbox(folder / "sandbox.sqlite3", folder / "sandbox.log")
    try:
        return _benchmark(db, learners, cases, database_url, sandbox_process)
    finally:
        sandbox_process.stop()


def _benchmark(db: str, learners: int, cases: str, database_url: str, sandbox_process) -> list:
    base_url = sandbox_process.url
    setup_django(database_url)
    from learners.models import ReviewType
    from sandbox.control import SandboxControl
    from smartassessor.connection import client_from_settings
    from smartassessor.models import Enrolment, IntegrationSettings, ReviewTypeMapping
    from smartassessor.services import sync

    sandbox = SandboxControl(base_url, timeout=600)
    sandbox.faults(RateLimitPerSecond=None)
    started = time.perf_counter()
    sandbox.seed(learners, courses_per_learner=COURSES_PER_LEARNER, prefix="BENCH")
    settings = IntegrationSettings.load()
    settings.enabled = True
    settings.base_url = base_url
    settings.username = sandbox_process.username
    settings.password = sandbox_process.password
    settings.client_key = sandbox_process.client_key
    settings.requests_per_second = 100_000
    settings.learner_demographics_mode = "pull"
    settings.update_risk_from_smart_coach = True
    settings.save()
    client = client_from_settings()
    mis_from_sandbox(client)
    review_type = ReviewType.objects.create(name="Progress Review")
    for event_type in client.event_type_list():
        ReviewTypeMapping.objects.create(
            event_type_code=event_type.code,
            event_type_name=event_type.name,
            review_type=review_type,
        )
    # A month of progress, reviews and Smart Coach scores for the first run to bring in.
    sandbox.advance(30)
    print(
        f"[{db}] Seeded {learners:,} learners x {COURSES_PER_LEARNER} courses in the sandbox and "
        f"the MIS in {time.perf_counter() - started:.1f} s; latency {LATENCY_MS} ms from now on."
    )
    sandbox.faults(LatencyMs=LATENCY_MS)
    context = {"sandbox": sandbox, "client": client, "db": db, "learners": learners}
    results = []
    changed = []

    def quietly(work, *args):
        # Changes made in Smart Assessor between runs are not part of what is measured.
        sandbox.faults(LatencyMs=0)
        outcome = work(*args)
        sandbox.faults(LatencyMs=LATENCY_MS)
        return outcome

    for case in cases:
        if case == "a":
            label = "first full run"
        elif case == "b":
            quietly(sandbox.advance, 1)
            label = "daily run after advance 1 day"
        elif case == "c":
            quietly(sandbox.advance, 7)
            label = "daily run after advance 7 days"
        elif case == "d":
            changed = list(
                Enrolment.objects.order_by("?").values_list("sa_learner_id", flat=True)[
                    : max(1, learners // 100)
                ]
            )
            quietly(change_in_sa, client, changed, 1)
            label = f"daily run after the details of {len(changed):,} learners (1 %) changed"
        else:
            label = "daily run with nothing changed (no delta run yet)"
        results.append(measure(case, label, context))

    if changed:
        quietly(change_in_sa, client, changed, 2)
        refreshed = [
            e.learner
            for e in Enrolment.objects.filter(sa_learner_id__in=changed).select_related("learner")
        ]
        sandbox.reset_stats()
        started = time.perf_counter()
        with counted_queries() as counter:
            for learner in refreshed:
                sync.learner_refresh_now(learner=learner)
        wall = time.perf_counter() - started
        print(
            f"    the same {len(changed):,} learners refreshed one by one: {wall:.2f} s, "
            f"{sandbox.stats()['Requests']:,} API calls, {counter['queries']:,} DB queries"
        )
    return results


@contextmanager
def database(db: str, folder: Path):
    """A database URL for the bench: a temporary SQLite file, or a PostgreSQL database made
    for this run and dropped afterwards."""
    if db == "sqlite":
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    import psycopg2

    name = f"picsweb_bench_sync_{os.getpid()}"
    admin = psycopg2.connect(f"{POSTGRES_SERVER}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        from django.db import connections

        connections.close_all()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument(
        "--cases", default=CASES, help="which runs to measure, in order (default abcde)"
    )
    args = parser.parse_args()
    cases = "".join(case for case in CASES if case in args.cases)

    if args.db == "both":
        # One process per database: Django is set up once per process, and each database's
        # peak memory is then its own.
        lines = []
        for db in ("sqlite", "postgres"):
            child = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--db",
                    db,
                    "--learners",
                    str(args.learners),
                    "--cases",
                    cases,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for line in child.stdout:
                if line.startswith('{"run"'):
                    lines.append(line.rstrip("\n"))
                else:
                    print(line, end="", flush=True)
            if child.wait() != 0:
                sys.exit(f"The {db} bench failed (exit code {child.returncode}).")
        print("\n".join(lines))
        return

    with tempfile.TemporaryDirectory(prefix="picsweb-bench-sync-") as folder:
        folder_path = Path(folder)
        with database(args.db, folder_path) as database_url:
            results = run_benchmark(args.db, args.learners, cases, database_url, folder_path)
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
