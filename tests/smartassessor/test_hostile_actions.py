"""A hostile Smart Assessor behind every action: each ends with a clear error a person can
read (shown or stored), in bounded time, and nothing it sent reaches the database."""

import time

import pytest

from smartassessor import connection
from smartassessor.models import (
    Enrolment,
    IntegrationSettings,
    LinkRefresh,
    OfficerLink,
    OrganisationLink,
    QualificationLink,
    SyncRun,
)
from smartassessor.services import enrolment_requests as enrolment_service
from smartassessor.services import links, sync
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    PlacementFactory,
    QualificationFactory,
)
from tests.fixtures import hostile

from .client import wire

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(db):
    """The integration switched on and pointed at a hostile Smart Assessor."""
    server = hostile.HostileSmartAssessor().start()
    settings = IntegrationSettings.load()
    settings.enabled = True
    settings.base_url = server.url
    settings.username = server.username
    settings.password = server.password
    settings.client_key = server.client_key
    settings.requests_per_second = 1000
    settings.connect_timeout = 1
    settings.read_timeout = 2
    settings.save()
    yield server
    server.stop()


class Timer:
    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc_info):
        self.elapsed = time.monotonic() - self.started


def _repeating_courses(query):
    """Page 1 whatever page is asked for: a server that ignores ``Page``."""
    size = int(query["PageSize"][0])
    courses = [wire.course(SmartAssessorId=n, QANCode=f"ST{n:04d}") for n in range(1, size + 1)]
    return hostile.json_answer(wire.page(courses, page_size=size, total=10 * size))


COURSE_ANSWERS = {
    "empty-page-of-16": (hostile.json_answer(wire.page([], total=16)), "TotalCount is 16"),
    "ignores-page": (_repeating_courses, "asked for page 2, Smart Assessor sent page 1"),
    "id-2^40": (
        hostile.json_answer(wire.page([wire.course(SmartAssessorId=2**40)])),
        "SmartAssessorId: expected a value from 1 to 2147483647",
    ),
    "nested": (hostile.nested(100_000), "nests 100000 levels deep"),
    "gzip-bomb": (hostile.gzip_bomb(megabytes=1024), "larger than the 16777216 bytes"),
    "long-message": (
        hostile.json_answer(wire.errors("forbidden", "no " * 50_000), status=403),
        "no no no",
    ),
}


# --- Test connection ---------------------------------------------------------------------


@pytest.mark.parametrize("case", COURSE_ANSWERS)
def test_test_connection_ends_with_a_clear_message(server, case):
    answer, expected = COURSE_ANSWERS[case]
    server.set("/courses", answer)

    with Timer() as timer, pytest.raises(connection.ConnectionCheckFailed) as caught:
        connection.connection_check()

    message = caught.value.message
    assert "Smart Assessor" in message and expected in message
    assert len(message) < 1000
    assert timer.elapsed < 10


# --- Refresh Qualification Links ---------------------------------------------------------


@pytest.mark.parametrize("case", COURSE_ANSWERS)
def test_refresh_qualification_links_fails_and_keeps_every_link(server, case):
    answer, expected = COURSE_ANSWERS[case]
    server.set("/courses", answer)
    for number, reference in enumerate(("ST0070", "ST0072"), start=1):
        QualificationLink.objects.create(
            qualification=QualificationFactory(reference=reference),
            course_id=100 + number,
            course_title=reference,
        )
    before = set(QualificationLink.objects.values_list("qualification_id", "course_id"))

    with Timer() as timer:
        refresh = links.qualification_links_refresh(refresh=LinkRefresh.objects.create())

    assert refresh.state == LinkRefresh.State.FAILED
    assert expected in refresh.error and len(refresh.error) < 1000
    assert (refresh.linked, refresh.unlinked) == (0, 0)
    assert set(QualificationLink.objects.values_list("qualification_id", "course_id")) == before
    assert timer.elapsed < 10


# --- An enrolment ------------------------------------------------------------------------


@pytest.fixture
def learner(server):
    learner = LearnerFactory(first_name="Amelia", surname="Jones")
    placement = PlacementFactory(learner=learner)
    OrganisationLink.objects.create(organisation=placement.organisation, employer_id=12)
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=31)
    qualification = QualificationFactory(reference="ST0070")
    QualificationLink.objects.create(qualification=qualification, course_id=7, course_title="BA")
    LearnerQualificationFactory(learner=learner, qualification=qualification)
    return learner


def _enrol(learner) -> Enrolment:
    enrolment, _ = enrolment_service.enrolment_request(learner=learner, actor=None)
    with Timer() as timer:
        finished = enrolment_service.enrolment_run(enrolment_id=enrolment.pk)
    assert timer.elapsed < 10
    return finished


def test_an_enrolment_answered_with_a_200_character_id_fails_and_stores_no_id(server, learner):
    server.set("/learners", hostile.json_answer(wire.learner(SmartAssessorId="a" * 200)))

    enrolment = _enrol(learner)

    assert enrolment.state == Enrolment.State.FAILED
    assert "Smart Assessor answered unexpectedly" in enrolment.last_error
    assert "SmartAssessorId: expected a GUID" in enrolment.last_error
    assert enrolment.sa_learner_id == ""


def test_an_enrolment_refused_with_huge_messages_stores_them_cut(server, learner):
    errors = [{"Code": "validation", "Field": "Email", "Message": "bad " * 10_000}] * 30
    server.set("/learners", hostile.json_answer({"Errors": errors}, status=400))

    enrolment = _enrol(learner)

    assert enrolment.state == Enrolment.State.FAILED
    assert "bad bad" in enrolment.last_error
    assert len(enrolment.last_error) < 6000
    assert all(len(m) <= 500 for ms in enrolment.field_errors.values() for m in ms)
    assert sum(len(ms) for ms in enrolment.field_errors.values()) <= 10


def test_an_enrolment_answered_with_deep_nesting_fails_clearly(server, learner):
    server.set("/learners", hostile.nested(100_000))

    enrolment = _enrol(learner)

    assert enrolment.state == Enrolment.State.FAILED
    assert "nests 100000 levels deep" in enrolment.last_error


# --- A learner refresh ---------------------------------------------------------------------


def _repeating_learner_courses(query):
    size = int(query["PageSize"][0])
    courses = [
        wire.learner_course(SmartAssessorId=f"00000000-0000-4000-8000-{n:012d}")
        for n in range(1, size + 1)
    ]
    return hostile.json_answer(wire.page(courses, page_size=size, total=10 * size))


LEARNER_ANSWERS = {
    "learner-nested": (f"/learners/{wire.LEARNER_ID}", hostile.nested(100_000), "nests 100000"),
    "courses-ignore-page": (
        f"/learners/{wire.LEARNER_ID}/courses",
        _repeating_learner_courses,
        "asked for page 2, Smart Assessor sent page 1",
    ),
    "sessions-empty-page-of-16": (
        f"/learners/{wire.LEARNER_ID}/sessions",
        hostile.json_answer(wire.page([], total=16)),
        "TotalCount is 16",
    ),
    "progress-150": (
        f"/learners/{wire.LEARNER_ID}/courses",
        hostile.json_answer(wire.page([wire.learner_course(ProgressPercent=150)])),
        "ProgressPercent: expected a value from 0 to 100, got 150",
    ),
}


@pytest.mark.parametrize("case", LEARNER_ANSWERS)
def test_a_learner_refresh_fails_with_a_clear_stored_error(server, learner, case):
    Enrolment.objects.create(
        learner=learner, state=Enrolment.State.ENROLLED, sa_learner_id=wire.LEARNER_ID
    )
    server.set(f"/learners/{wire.LEARNER_ID}", hostile.json_answer(wire.learner()))
    for path in ("courses", "sessions"):
        server.set(f"/learners/{wire.LEARNER_ID}/{path}", hostile.json_answer(wire.page([])))
    path, answer, expected = LEARNER_ANSWERS[case]
    server.set(path, answer)

    with Timer() as timer:
        run = sync.learner_refresh_now(learner=learner)

    assert run.state == SyncRun.State.FAILED
    assert expected in run.error and len(run.error) < 1000
    assert SyncRun.objects.get(pk=run.pk).error == run.error
    assert learner.qualifications.get().progress_percent == 0
    assert timer.elapsed < 10
