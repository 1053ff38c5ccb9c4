"""Bulk Create in Smart Assessor: throughput against the rate limit, and duplicates.

Run with ``.venv/bin/python bench/enrol.py`` (needs Redis at 127.0.0.1:6379: the two workers
share the rate limiter through it). It starts a sandbox with 30 ms latency and a limit of 20
requests per second, a temporary SQLite database, two Celery worker processes on Redis, and
queues 200 demo-like learners (6 employers, 4 assessors, 1–3 qualifications each) as the bulk
page does. It prints learners per second, the bound the rate limit sets (limit ÷ calls per
learner), their ratio, and the duplicates found in Smart Assessor afterwards.
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LEARNERS = 200
LATENCY_MS = 30
SA_LIMIT = 20  # requests per second the sandbox allows
CLIENT_RATE = 19  # what our shared limiter allows, a little under SA's limit
WORKERS = 2
REDIS_DB = "redis://127.0.0.1:6379/13"
TIMEOUT_SECONDS = 300


def configure_environment(folder: Path) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": REDIS_DB,
        "CELERY_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
        "CACHE_URL": REDIS_DB,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picsweb.settings")
    return env


def create_learners() -> list:
    from learners.demo import load_learners

    return load_learners(idents=[f"BE{n:06d}" for n in range(LEARNERS)], label="Bench")


def start_workers(env: dict[str, str], folder: Path) -> list[subprocess.Popen]:
    workers = []
    for n in range(WORKERS):
        log = (folder / f"worker{n}.log").open("wb")
        workers.append(
            subprocess.Popen(
                [
                    sys.executable, "-m", "celery", "-A", "picsweb", "worker",
                    "--concurrency", "1", "--queues", env["CELERY_QUEUE"],
                    "--hostname", f"bench{n}@%h", "--loglevel", "WARNING",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                ],
                cwd=ROOT,
                env=os.environ | env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
    return workers


def main() -> None:
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        env = configure_environment(folder)

        import django

        django.setup()
        import redis
        from django.core.management import call_command

        from sandbox.control import SandboxControl
        from sandbox.process import start_sandbox
        from smartassessor.connection import client_from_settings
        from smartassessor.models import Enrolment, IntegrationSettings, LinkRefresh
        from smartassessor.services import enrolment_requests, links

        redis.Redis.from_url(REDIS_DB).flushdb()
        sandbox = start_sandbox(folder / "sandbox.sqlite3", folder / "sandbox.log")
        workers = []
        try:
            control = SandboxControl(sandbox.url)
            call_command("migrate", verbosity=0)
            settings = IntegrationSettings.load()
            settings.enabled = True
            settings.base_url = sandbox.url
            settings.username = sandbox.username
            settings.password = sandbox.password
            settings.client_key = sandbox.client_key
            settings.requests_per_second = CLIENT_RATE
            settings.save()
            learners = create_learners()
            links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
            control.faults(latency_ms=LATENCY_MS, rate_limit_per_second=SA_LIMIT)
            workers = start_workers(env, folder)
            time.sleep(3)  # the workers connect to the broker
            control.reset_stats()

            started = time.perf_counter()
            enrolment_requests.enrolments_request(learners=learners, actor=None)
            deadline = time.monotonic() + TIMEOUT_SECONDS
            active = Enrolment.objects.filter(state__in=Enrolment.ACTIVE_STATES)
            while active.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            elapsed = time.perf_counter() - started

            stats = control.stats()
            states = {
                state: Enrolment.objects.filter(state=state).count()
                for state in Enrolment.State.values
            }
            sa = client_from_settings()
            idents = [learner.mis_learner_id for learner in sa.learner_list(page_size=500)]
            bench_idents = [ident for ident in idents if ident and ident.startswith("BE")]
            employers = [e.mis_employer_id for e in sa.employer_list(page_size=500)]
            assessors = [a.mis_assessor_id for a in sa.assessor_list(page_size=500)]
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(15)
            sandbox.stop()

    calls = stats["Requests"]
    calls_per_learner = calls / LEARNERS
    rate = LEARNERS / elapsed
    bound = SA_LIMIT / calls_per_learner
    duplicates = (
        (len(bench_idents) - len(set(bench_idents)))
        + (len(employers) - len(set(employers)))
        + (len(assessors) - len(set(assessors)))
    )
    print(f"Learners enrolled: {states['enrolled']} of {LEARNERS} ({states})")
    print(f"Wall time: {elapsed:.1f} s with {WORKERS} workers, {LATENCY_MS} ms latency")
    print(f"API calls: {calls} ({calls_per_learner:.2f} per learner), 429s: {stats['RateLimited']}")
    print(f"Throughput: {rate:.2f} learners/s")
    print(f"Bound set by the rate limit: {SA_LIMIT}/s ÷ {calls_per_learner:.2f} = {bound:.2f}/s")
    print(f"Ratio: {rate / bound:.2f} (aim ≥ 0.8)")
    print(f"Duplicates in Smart Assessor: {duplicates}")


if __name__ == "__main__":
    main()
