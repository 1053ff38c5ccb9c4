"""Under load, the embedded set-up (SQLite file, filesystem broker, file cache) holds up.

The real processes of `make run`: ``runserver`` and a Celery worker with two processes, on one
SQLite file. Staff Bulk Create 100 learners in Smart Assessor through the web while pages are
requested in a loop; every page answers, no process reports "database is locked", all 100 end
Enrolled and Smart Assessor holds each learner, employer and assessor once.
"""

import collections

import pytest

from tests.fixtures.embedded import EmbeddedDeployment, bulk_create_under_load, sa_mis_ids

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


def test_a_bulk_create_of_100_learners_with_two_workers_while_pages_are_read(deployment, sandbox):
    idents = [f"LD{n:06d}" for n in range(LEARNERS)]
    deployment.migrate_and_seed(sandbox=sandbox, idents=idents, rate=CLIENT_RATE)
    deployment.start_worker(concurrency=2)
    deployment.start_web()

    load = bulk_create_under_load(deployment, idents=idents, timeout=ENROLLED_WITHIN_SECONDS)

    assert load.states == {"enrolled": LEARNERS}, f"after {load.seconds:.0f} s"
    assert sorted(load.enrolled_idents) == idents  # one enrolment each
    assert load.results_status == 200
    assert load.results_html.count("Enrolled") >= LEARNERS

    answers = load.answers
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
    in_sa = sa_mis_ids(sandbox)
    assert sorted(i for i in in_sa["learners"] if i and i.startswith("LD")) == idents
    employers = [i for i in in_sa["employers"] if i]
    assessors = [i for i in in_sa["assessors"] if i]
    assert len(employers) == len(set(employers)) >= 6
    assert len(assessors) == len(set(assessors)) >= 4
