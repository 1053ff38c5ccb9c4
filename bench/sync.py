"""What the synchronisation costs at scale, measured against a local sandbox (issue 11, point 2).

Run with ``.venv/bin/python bench/sync.py [--db sqlite|postgres|both] [--learners N[,N...]]
[--modes feeds,lists] [--cases abcdef] [--delta-every SECONDS]``. For each database (``both``:
SQLite, then PostgreSQL), each number of learners and each read mode, in a process of its own so
that their memory figures stay apart, it starts its own sandbox (a free port, a temporary data
file) and its own database: SQLite in a temporary file, PostgreSQL in a bench database created on
postgres://postgres@127.0.0.1:5432 and dropped at the end.

The read modes: ``feeds`` plays a Smart Assessor with change feeds (the integration's read mode
"auto"); ``lists`` one without them (the sandbox started ``--no-feeds``, the integration's read
mode "lists": every run reads the full lists). Then it:

- bulk-seeds N learners (default 10,000) enrolled on 3 courses each in the sandbox, and the
  matching MIS learners, plans and enrolments in bulk; the integration in Pull mode, risk from
  Smart Coach on, 20 ms latency on every Smart Assessor answer;
- on PostgreSQL, before each measured run, runs ``VACUUM ANALYZE`` (what autovacuum does in the
  day between two daily runs), so that it does not compete with the run measured;
- moves simulated time on a month and times (a) the first full daily run (every feed read from
  the start: progress, reviews, Smart Coach and learners);
- (b) moves Smart Assessor's clock on 1 day (every active learner's timeline and most progress
  figures change, as in real life) and times the next daily run;
- (c) moves it on 7 days and times the next daily run;
- (d) changes the details (mobile) of 1 % of the learners in Smart Assessor and times the next
  daily run;
- (e) times a delta run (``sync_run_delta``) with nothing changed, ``"trigger": "delta"``;
- then refreshes the 1 % of (d) one by one (Refresh with Smart Assessor) for comparison;
- (f) freshness: with delta runs going in a thread every ``--delta-every`` seconds (default 5),
  changes one learner's mobile in Smart Assessor
  and measures ``freshness_s``, the seconds until the MIS database holds it (``null`` if it did
  not within ``FRESHNESS_TIMEOUT_S`` plus four intervals).

For each run it measures, in this process:

- ``wall_s``: the wall time of the run;
- ``api_calls``: the sandbox's request count (``/_sandbox/stats``) for the run;
- ``queries``: the database queries it made (Django's ``connection.execute_wrapper``, and on
  PostgreSQL each ``COPY``, which is not an execute: counted by wrapping ``copy_expert``);
- ``rows_written``: the rows its INSERT, UPDATE, DELETE and COPY statements affected (each
  statement's ``cursor.rowcount``, read through the same wrappers once its rows were fetched),
  the run's own bookkeeping (run record, lock, watermarks) included;
- ``history_rows``: the ``SyncChange`` rows the run created;
- ``read_only_s``: after the run, the same four feeds re-read from the watermarks the run started
  from (in ``lists`` mode the four full lists, with the client's scans), with the client only
  (no ORM: the queries made meanwhile are counted and printed), and
  ``ratio`` = ``wall_s / read_only_s``;
- ``peak_mb``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end of the run: the peak
  resident memory of this process so far (seeding and earlier runs included), not of the run alone.

Every JSON object says ``"feeds": true|false`` (the mode). The bench prints a human-readable line
or two per run, then the peak memory of each database, mode and number of learners (so that
"flat from 10,000 to 30,000 learners" can be read off), then one JSON object per measured run on
its own line. Aims of issue 11 on this machine: (b) <= 10 s and ratio <= 3 on both databases,
(a) <= 30 s, (e) <= 0.5 s, peak memory <= 300 MB and flat from 10,000 to 30,000 learners.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
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
CASES = "abcdef"
MODES = ("feeds", "lists")
FRESHNESS_TIMEOUT_S = 60
POLL_S = 0.1


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
    """Counts the queries and the rows their INSERT, UPDATE, DELETE and COPY statements affected.

    A statement's rowcount is read at the next statement (or at the end), because an INSERT ...
    RETURNING (Django's bulk_create) only knows it once its rows have been fetched."""
    from django.db import connection
    from django.db.backends.utils import CursorWrapper

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

    def copy_expert(cursor, sql, file, *args):
        # COPY (PostgreSQL's inserts) is not an execute: counted here, its rows from its status.
        settle()
        counter["queries"] += 1
        result = cursor.cursor.copy_expert(sql, file, *args)
        counter["rows"] += max(cursor.cursor.rowcount, 0)
        return result

    CursorWrapper.copy_expert = copy_expert
    try:
        with connection.execute_wrapper(count):
            yield counter
    finally:
        del CursorWrapper.copy_expert
    settle()


def readers(client, feeds: bool) -> dict:
    """The four reads of a run, by feed name: ``open(since, page_size)`` for each, a change feed
    from ``since`` where Smart Assessor has feeds, the full list where it has not."""
    from smartassessor.services import sync

    opened = {
        sync.FEED_COURSES: (client.learner_course_feed, client.learner_course_scan),
        sync.FEED_SESSIONS: (client.session_feed, client.session_scan),
        sync.FEED_SMART_COACH: (client.smart_coach_feed, client.smart_coach_scan),
        sync.FEED_LEARNERS: (client.learner_feed, client.learner_scan),
    }
    if feeds:
        return {name: feed for name, (feed, _) in opened.items()}
    return {
        name: lambda since, page_size, scan=scan: scan(page_size=page_size)
        for name, (_, scan) in opened.items()
    }


def mis_from_sandbox(client, feeds: bool) -> None:
    """The MIS side of the seeded learners, written in bulk, as an enrolment would leave it."""
    from learners.models import Learner, Qualification
    from smartassessor import mapping
    from smartassessor.models import Enrolment, QualificationLink
    from smartassessor.services import sync

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
    read = readers(client, feeds)
    for remote in read[sync.FEED_LEARNERS](since=None, page_size=500):
        batch.append(remote)
        if len(batch) == BATCH:
            _learners(batch, learners, enrolments, Learner, Enrolment, mapping)
            batch = []
    _learners(batch, learners, enrolments, Learner, Enrolment, mapping)

    batch = []
    for course in read[sync.FEED_COURSES](since=None, page_size=500):
        batch.append(course)
        if len(batch) == BATCH:
            _plans(batch, learners, enrolments, qualifications)
            batch = []
    _plans(batch, learners, enrolments, qualifications)


def _plans(batch, learners, enrolments, qualifications) -> None:
    """A batch of SA course enrolments as plan entries and course enrolments: a batch at a
    time, so that the bench's own memory stays small and the peak it prints is the runs'."""
    from learners.models import LearnerQualification
    from smartassessor.models import CourseEnrolment

    plan = [
        LearnerQualification(
            learner_id=learners[course.learner_smart_assessor_id],
            qualification=qualifications[course.course_smart_assessor_id],
            start_date=course.start_date,
            planned_end_date=course.planned_end_date,
        )
        for course in batch
    ]
    LearnerQualification.objects.bulk_create(plan)
    CourseEnrolment.objects.bulk_create(
        CourseEnrolment(
            enrolment_id=enrolments[lq.learner_id],
            learner_qualification=lq,
            state=CourseEnrolment.State.ENROLLED,
            sa_learner_course_id=course.smart_assessor_id,
        )
        for lq, course in zip(plan, batch, strict=True)
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


def reads_only(client, feeds: bool, since: dict) -> float:
    """Seconds to read the four feeds from the given positions (or the four full lists), with
    the client only."""
    from smartassessor.services import sync

    started = time.perf_counter()
    for name, read in readers(client, feeds).items():
        for _ in read(since=since[name], page_size=sync.PAGE_SIZE):
            pass
    return time.perf_counter() - started


def delta_run():
    from smartassessor.services import sync

    return sync.sync_run_delta()


def freshness(context: dict, enrolment, every: float) -> dict:
    """With delta runs going in a thread every ``every`` seconds, the seconds from a change of
    one learner's mobile in Smart Assessor until the MIS database holds it."""
    from django.db import connection

    from learners.models import Learner
    from smartassessor.client import LearnerChanges

    client, run_delta = context["client"], context["delta"]
    stop = threading.Event()
    runs = []

    def delta_every_interval() -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                runs.append(run_delta())
                stop.wait(max(0.0, every - (time.monotonic() - started)))
        finally:
            connection.close()

    mobile = f"07999 {int(time.time()) % 1_000_000:06d}"
    runner = threading.Thread(target=delta_every_interval, name="delta-runs")
    runner.start()
    try:
        stop.wait(every / 2)  # the change lands somewhere between two runs
        client.learner_update(
            learner_id=enrolment.sa_learner_id, changes=LearnerChanges(mobile=mobile)
        )
        changed = time.perf_counter()
        deadline = changed + FRESHNESS_TIMEOUT_S + 4 * every
        seen = None
        while time.perf_counter() < deadline:
            if Learner.objects.filter(pk=enrolment.learner_id, mobile=mobile).exists():
                seen = time.perf_counter() - changed
                break
            time.sleep(POLL_S)
    finally:
        stop.set()
        runner.join()
    states = sorted({run.state for run in runs if run is not None})
    shown = f"{seen:.1f} s" if seen is not None else "not within the time allowed"
    print(
        f"(f) freshness with a delta run every {every:g} s: a mobile changed in Smart Assessor "
        f"was in the MIS after {shown}; {len(runs)} runs meanwhile ({', '.join(states)})"
    )
    return {
        "run": "f",
        "db": context["db"],
        "feeds": context["feeds"],
        "trigger": "delta",
        "learners": context["learners"],
        "delta_every_s": every,
        "freshness_s": round(seen, 2) if seen is not None else None,
        "runs": len(runs),
        "states": states,
    }


def settle_database(db: str) -> None:
    """Before each measured run, on PostgreSQL, what its autovacuum would have done in the day
    between two daily runs (vacuum and statistics after the last run's writes), so that it
    does not run during the measured one."""
    if db == "postgres":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def measure(case: str, label: str, context: dict, start_run) -> dict:
    """One run (``start_run()``), measured, then the same reads made from where it started."""
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
        run = start_run()
    wall = time.perf_counter() - started
    if run is None:
        sys.exit(f"({case}) {label}: did not start, another run held the lock")
    calls = sandbox.stats()["Requests"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    history = SyncChange.objects.filter(run=run).count()

    sandbox.reset_stats()
    with counted_queries() as read_counter:
        read_only = reads_only(client, context["feeds"], since)
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
        f"    the same {'feeds' if context['feeds'] else 'full lists'} only read: "
        f"{read_only:.2f} s ({read_calls:,} API calls, "
        f"{read_counter['queries']} DB queries): ratio {wall / read_only:.1f}; "
        f"peak memory so far {peak_mb:.0f} MB"
    )
    return {
        "run": case,
        "db": context["db"],
        "feeds": context["feeds"],
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


def run_benchmark(options: argparse.Namespace, database_url: str, folder: Path) -> list:
    sandbox_process = start_sandbox(
        folder / "sandbox.sqlite3", folder / "sandbox.log", feeds=options.modes[0] == "feeds"
    )
    try:
        return _benchmark(options, database_url, sandbox_process)
    finally:
        sandbox_process.stop()


def _benchmark(options: argparse.Namespace, database_url: str, sandbox_process) -> list:
    (db,), (learners,), (mode,) = options.db, options.learners, options.modes
    feeds = mode == "feeds"
    cases = options.cases
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
    settings.read_mode = "auto" if feeds else "lists"
    settings.save()
    client = client_from_settings()
    mis_from_sandbox(client, feeds)
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
        f"[{db}, {mode}] Seeded {learners:,} learners x {COURSES_PER_LEARNER} courses in the "
        f"sandbox and the MIS in {time.perf_counter() - started:.1f} s; latency {LATENCY_MS} ms "
        "from now on."
    )
    sandbox.faults(LatencyMs=LATENCY_MS)
    context = {
        "sandbox": sandbox,
        "client": client,
        "db": db,
        "feeds": feeds,
        "learners": learners,
        "delta": delta_run,
    }
    results = []
    changed = []

    def quietly(work, *args):
        # Changes made in Smart Assessor between runs are not part of what is measured.
        sandbox.faults(LatencyMs=0)
        outcome = work(*args)
        sandbox.faults(LatencyMs=LATENCY_MS)
        return outcome

    for case in cases.replace("f", ""):
        settle_database(db)
        start_run = sync.sync_run_daily
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
            start_run = context["delta"]
            label = "delta run with nothing changed"
        results.append(measure(case, label, context, start_run))

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
    if "f" in cases:
        enrolment = Enrolment.objects.order_by("pk").first()
        results.append(freshness(context, enrolment, options.delta_every))
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


def listed(choices=None, kind=str):
    """An option's comma-separated values, each of ``kind`` (and one of ``choices``)."""

    def comma_separated(text: str) -> list:
        values = [kind(value.strip()) for value in text.split(",") if value]
        wrong = [value for value in values if choices and value not in choices]
        if not values or wrong:
            among = f" of {', '.join(choices)}" if choices else ""
            raise argparse.ArgumentTypeError(f"expected a comma-separated list{among}")
        return values

    return comma_separated


def child_command(options: argparse.Namespace, db: str, learners: int, mode: str) -> list:
    return [
        sys.executable,
        __file__,
        f"--db={db}",
        f"--learners={learners}",
        f"--modes={mode}",
        f"--cases={options.cases}",
        f"--delta-every={options.delta_every}",
    ]


def print_memory(results: list) -> None:
    """The peak memory of each process (the last run's figure: the peak so far is monotonic)."""
    peaks: dict = {}
    for result in results:
        if "peak_mb" in result:
            peaks[result["db"], result["feeds"], result["learners"]] = result["peak_mb"]
    for db, feeds in dict.fromkeys((db, feeds) for db, feeds, _ in peaks):
        sizes = ", ".join(
            f"{learners:,} learners {peak} MB"
            for (d, f, learners), peak in sorted(peaks.items())
            if (d, f) == (db, feeds)
        )
        print(f"Peak memory [{db}, {'feeds' if feeds else 'lists'}]: {sizes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--learners",
        type=listed(kind=int),
        default=[10_000],
        help="how many learners, or a list of sizes (10000,30000), each measured apart",
    )
    parser.add_argument(
        "--modes",
        type=listed(MODES),
        default=list(MODES),
        help="feeds (change feeds), lists (a Smart Assessor without them), or both (default)",
    )
    parser.add_argument(
        "--cases", default=CASES, help="which runs to measure, in order (default abcdef)"
    )
    parser.add_argument(
        "--delta-every",
        type=float,
        default=5.0,
        help="seconds between the delta runs of case (f) (default 5)",
    )
    options = parser.parse_args()
    options.cases = "".join(case for case in CASES if case in options.cases)
    options.db = ["sqlite", "postgres"] if options.db == "both" else [options.db]

    runs = [
        (db, learners, mode)
        for db in options.db
        for learners in options.learners
        for mode in options.modes
    ]
    if len(runs) > 1:
        # One process each: Django is set up once per process (and database), and each peak
        # memory is then its own.
        results = []
        for db, learners, mode in runs:
            child = subprocess.Popen(
                child_command(options, db, learners, mode), stdout=subprocess.PIPE, text=True
            )
            for line in child.stdout:
                if line.startswith('{"run"'):
                    results.append(json.loads(line))
                elif not line.startswith("Peak memory"):
                    print(line, end="", flush=True)
            if child.wait() != 0:
                sys.exit(f"The {db} {mode} bench failed (exit code {child.returncode}).")
    else:
        with tempfile.TemporaryDirectory(prefix="picsweb-bench-sync-") as folder:
            folder_path = Path(folder)
            with database(options.db[0], folder_path) as database_url:
                results = run_benchmark(options, database_url, folder_path)
    print_memory(results)
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
