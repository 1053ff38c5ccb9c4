"""Under load, the embedded set-up (SQLite file, filesystem broker, file cache) holds up.

The real processes of `make run`: ``runserver`` and a Celery worker with two processes, on one
SQLite file. Staff Bulk Create 100 learners in Smart Assessor through the web while pages are
requested in a loop; every page answers, no process reports "database is locked", all 100 end
Enrolled and Smart Assessor holds each learner, employer and assessor once.
"""

import collections
import sqlite3
import threading
import time
from contextlib import closing

import pytest
import requests

from smartassessor.client import LocalRateLimiter, SmartAssessorClient
from tests.fixtures.embedded import EmbeddedDeployment

LEARNERS = 100
# The sandbox answers at once (latency 0) and allows 20 requests a second, the limit of
# Smart Assessor itself; the integration's limit is a little below it. Two worker processes
# with a bucket each would make up to 38 a second and be answered 429; sharing one, none.
SA_LIMIT = 20
CLIENT_RATE = 19
ENROLLED_WITHIN_SECONDS = 60


@pytest.fixture
def deployment(tmp_path, sandbox):
    sandbox.faults(LatencyMs=0, RateLimitPerSecond=SA_LIMIT)
    deployment = EmbeddedDeployment(tmp_path)
    yield deployment
    deployment.stop()
    # Shown by pytest only when the test failed.
    for name, text in deployment.logs().items():
        print(f"--- {name}.log ---\n{text[-20000:]}")


def enrolment_states(database) -> tuple[collections.Counter, list[str]]:
    """How many enrolments are in each state, and the ident of each enrolment's learner."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=20)) as db:
        rows = db.execute(
            "SELECT e.state, l.ident FROM smartassessor_enrolment e "
            "JOIN learners_learner l ON l.id = e.learner_id"
        ).fetchall()
    return collections.Counter(state for state, _ in rows), [ident for _, ident in rows]


def request_pages(deployment, pages, stop, answers):
    """A member of staff reading pages while the bulk runs; every status code is kept."""
    session = deployment.login()
    while not stop.is_set():
        for page in pages():
            try:
                answer = session.get(deployment.url + page, allow_redirects=False, timeout=30)
                answers.append((page, answer.status_code))
            except requests.RequestException as exc:
                answers.append((page, repr(exc)))


def test_a_bulk_create_of_100_learners_with_two_workers_while_pages_are_read(deployment, sandbox):
    idents = [f"LD{n:06d}" for n in range(LEARNERS)]
    deployment.migrate_and_seed(sandbox=sandbox, idents=idents, rate=CLIENT_RATE)
    deployment.start_worker(concurrency=2)
    deployment.start_web()
    staff = deployment.login()
    results_page = []
    pages = lambda: [  # noqa: E731
        "/",
        "/learners/?q=LD00",
        "/learners/",
        f"/learners/{idents[7]}/delivery-plan/",
        *results_page,
    ]
    stop, answers = threading.Event(), []
    reader = threading.Thread(target=request_pages, args=(deployment, pages, stop, answers))
    reader.start()
    started = time.monotonic()
    try:
        bulk = staff.post(
            deployment.url + "/smartassessor/bulk/enrol/",
            data={"learners": idents, "csrfmiddlewaretoken": staff.cookies["csrftoken"]},
            allow_redirects=False,
            timeout=60,
        )
        assert bulk.status_code == 302, bulk.text[:2000]
        results_page.append(bulk.headers["Location"])
        deadline = started + ENROLLED_WITHIN_SECONDS
        while time.monotonic() < deadline:
            states, _ = enrolment_states(deployment.database)
            if states["enrolled"] == LEARNERS:
                break
            time.sleep(0.5)
        results = staff.get(deployment.url + results_page[0], timeout=30)
    finally:
        stop.set()
        reader.join(60)

    states, enrolled_idents = enrolment_states(deployment.database)
    assert states == {"enrolled": LEARNERS}, f"after {time.monotonic() - started:.0f} s"
    assert sorted(enrolled_idents) == idents  # one enrolment each
    assert results.status_code == 200
    assert results.text.count("Enrolled") >= LEARNERS

    statuses = collections.Counter(status for _, status in answers)
    assert len(answers) > 20 and len({page for page, _ in answers}) == 5, statuses
    assert set(statuses) <= {200, 302}, [a for a in answers if a[1] not in (200, 302)][:10]
    for name, text in deployment.logs().items():
        assert "database is locked" not in text, name
        assert "Traceback" not in text, name

    # Smart Assessor never had to say 429: the two worker processes kept to one bucket.
    stats = sandbox.stats()
    assert stats["RateLimited"] == 0, stats
    # The broker kept its files in the deployment's folder, not in the working directory.
    assert list((deployment.folder / "broker" / "control").glob("*.exchange"))
    sa = SmartAssessorClient(
        base_url=sandbox.url,
        username=sandbox.username,
        password=sandbox.password,
        client_key=sandbox.client_key,
        rate_limiter=LocalRateLimiter(rate=SA_LIMIT / 2),  # alone now
    )
    in_sa = [learner.mis_learner_id for learner in sa.learner_list(page_size=500)]
    employers = [e.mis_employer_id for e in sa.employer_list(page_size=500) if e.mis_employer_id]
    assessors = [a.mis_assessor_id for a in sa.assessor_list(page_size=500) if a.mis_assessor_id]
    sa.close()
    assert sorted(ident for ident in in_sa if ident and ident.startswith("LD")) == idents
    assert len(employers) == len(set(employers)) and len(set(employers)) >= 6
    assert len(assessors) == len(set(assessors)) and len(set(assessors)) >= 4
