"""What the synchronisation costs at scale, measured against a local sandbox.

Run with ``.venv/bin/python bench/sync.py``. It starts its own sandbox (a free port, a
temporary data file) and uses its own temporary SQLite database, then:

- bulk-seeds 10,000 learners enrolled on 3 courses each in the sandbox, and the matching MIS
  learners, plans and enrolments in bulk;
- sets 20 ms latency on every Smart Assessor answer, the integration in Pull mode;
- moves simulated time on a month, then (a) times the first full daily run (every feed read
  from the start: progress, reviews, Smart Coach and learners);
- (b) changes 1 % of the learners in Smart Assessor and times the next daily run;
- refreshes those same learners one by one (Refresh with Smart Assessor) for comparison.

For each it prints the wall time, the API calls (from the sandbox's counts) and the database
queries, and at the end the peak memory of this process. Aims: (b) under 15 s, with API calls
proportional to the changes, not to the learners; peak memory under 500 MB.
"""

import datetime as dt
import os
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.process import start_sandbox  # noqa: E402

# The sandbox's documented demo account (demo only).
LEARNERS = 10_000
COURSES_PER_LEARNER = 3
CHANGED = LEARNERS // 100
LATENCY_MS = 20
BATCH = 2000


def setup_django(folder: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
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
    from django.db import connection

    counter = {"queries": 0}

    def count(execute, sql, params, many, context):
        counter["queries"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield counter


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


def measure(label: str, sandbox, work):
    from django.db import reset_queries

    reset_queries()
    sandbox.reset_stats()
    started = time.perf_counter()
    with counted_queries() as counter:
        result = work()
    wall = time.perf_counter() - started
    calls = sandbox.stats()["Requests"]
    print(f"{label}: {wall:.2f} s, {calls} API calls, {counter['queries']} DB queries")
    return result, wall, calls


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="picsweb-bench-sync-") as folder:
        folder_path = Path(folder)
        sandbox_process = start_sandbox(
            folder_path / "sandbox.sqlite3", folder_path / "sandbox.log"
        )
        try:
            run_benchmark(folder_path, sandbox_process)
        finally:
            sandbox_process.stop()


def run_benchmark(folder: Path, sandbox_process) -> None:
    base_url = sandbox_process.url
    setup_django(folder)
    from learners.models import ReviewType
    from sandbox.control import SandboxControl
    from smartassessor.connection import client_from_settings
    from smartassessor.models import Enrolment, IntegrationSettings, ReviewTypeMapping, SyncRun
    from smartassessor.services import sync

    sandbox = SandboxControl(base_url)
    sandbox.faults(RateLimitPerSecond=None)
    started = time.perf_counter()
    sandbox.seed(LEARNERS, courses_per_learner=COURSES_PER_LEARNER, prefix="BENCH")
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
        f"Seeded {LEARNERS:,} learners x {COURSES_PER_LEARNER} courses in the sandbox and the "
        f"MIS in {time.perf_counter() - started:.1f} s; latency {LATENCY_MS} ms from now on."
    )
    sandbox.faults(LatencyMs=LATENCY_MS)

    first, _, _ = measure("(a) first full run", sandbox, sync.sync_run_daily)
    print(
        f"    {first.get_state_display()}: {first.learners_seen:,} learners seen, "
        f"{first.qualifications_updated:,} qualifications updated, "
        f"{first.reviews_created:,} reviews created, {first.risk_updated:,} risk bands set, "
        f"{first.error_count} errors"
    )

    changed = list(
        Enrolment.objects.order_by("?").values_list("sa_learner_id", flat=True)[:CHANGED]
    )
    sandbox.faults(LatencyMs=0)
    change_in_sa(client, changed, 1)
    sandbox.faults(LatencyMs=LATENCY_MS)
    daily, daily_wall, daily_calls = measure(
        f"(b) daily run after {CHANGED} learners ({CHANGED / LEARNERS:.0%}) changed",
        sandbox,
        sync.sync_run_daily,
    )
    print(
        f"    {daily.get_state_display()}: {daily.learners_seen:,} learners seen, "
        f"{daily.details_pulled} details pulled"
    )
    assert daily.state == SyncRun.State.SUCCEEDED and daily.details_pulled == CHANGED

    sandbox.faults(LatencyMs=0)
    change_in_sa(client, changed, 2)
    sandbox.faults(LatencyMs=LATENCY_MS)
    learners = [
        e.learner
        for e in Enrolment.objects.filter(sa_learner_id__in=changed).select_related("learner")
    ]
    _, one_by_one_wall, one_by_one_calls = measure(
        f"    the same {CHANGED} learners refreshed one by one",
        sandbox,
        lambda: [sync.learner_refresh_now(learner=learner) for learner in learners],
    )
    print(
        f"(b) / one by one: {daily_wall / one_by_one_wall:.2f} of the time, "
        f"{daily_calls / one_by_one_calls:.2f} of the API calls"
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Peak memory of this process: {peak_mb:.0f} MB")
    print(
        f"Aims: (b) under 15 s: {'met' if daily_wall < 15 else 'MISSED'}; "
        f"peak memory under 500 MB: {'met' if peak_mb < 500 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
