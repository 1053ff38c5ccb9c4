"""The integration's pages ask the database the same number of questions whatever the size of
the data: a page that asked once more for each row (N+1) would grow slow as a provider grows.

Each page is built at a small and a large size and its queries counted at both.
"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from learners.models import Learner, ReviewType
from smartassessor.models import (
    CourseEnrolment,
    Enrolment,
    LinkRefresh,
    OfficerLink,
    OrganisationLink,
    QualificationLink,
    ReviewLink,
    ReviewTypeMapping,
    SyncChange,
    SyncError,
    SyncRun,
)
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    PlacementFactory,
    QualificationFactory,
    ReviewFactory,
)

from .client import wire

pytestmark = pytest.mark.django_db


def _queries(client, method: str, url: str, **kwargs) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, **kwargs)
    assert response.status_code == 200, response
    return len(captured)


def _assert_same(counts: dict[int, int]) -> None:
    small, large = sorted(counts)
    assert counts[large] == counts[small], (
        f"{counts[small]} queries for {small} rows but {counts[large]} for {large}: "
        "the page asks again for each row"
    )


def _sync_run(learner, *, changes: int, trigger=SyncRun.Trigger.LEARNER) -> SyncRun:
    now = timezone.now()
    run = SyncRun.objects.create(
        trigger=trigger,
        state=SyncRun.State.PARTIAL,
        learner=learner,
        started_at=now,
        finished_at=now,
        qualifications_updated=changes,
        error_count=1,
        plan_applied_at=now,
    )
    SyncError.objects.create(run=run, learner=learner, subject=str(learner), message="Refused")
    SyncChange.objects.bulk_create(
        SyncChange(
            run=run,
            learner=learner,
            target=SyncChange.Target.QUALIFICATION,
            record=f"Qualification {n}",
            field="Timeline %",
            attr="timeline_percent",
            old_value=str(n),
            new_value=str(n + 1),
        )
        for n in range(changes)
    )
    return run


def _enrolled_learner(size: int):
    """A learner enrolled in SA with ``size`` qualifications, reviews and refreshes."""
    learner = LearnerFactory()
    OfficerLink.objects.create(officer=learner.main_officer, assessor_id=9000 + learner.pk)
    placement = PlacementFactory(learner=learner)
    OrganisationLink.objects.create(
        organisation=placement.organisation, employer_id=9000 + learner.pk
    )
    enrolment = Enrolment.objects.create(
        learner=learner,
        state=Enrolment.State.ENROLLED,
        sa_learner_id=f"sa-{learner.ident}",
        enrolled_at=timezone.now(),
    )
    review_type = ReviewType.objects.get_or_create(name="Progress Review")[0]
    ReviewTypeMapping.objects.get_or_create(event_type_code="PR", review_type=review_type)
    for n in range(size):
        qualification = QualificationFactory()
        QualificationLink.objects.create(
            qualification=qualification, course_id=learner.pk * 100 + n, course_title="Course"
        )
        entry = LearnerQualificationFactory(learner=learner, qualification=qualification)
        CourseEnrolment.objects.create(
            enrolment=enrolment,
            learner_qualification=entry,
            state=CourseEnrolment.State.ENROLLED,
            sa_learner_course_id=f"{learner.ident}-{n}",
        )
        review = ReviewFactory(learner=learner, review_type=review_type)
        ReviewLink.objects.create(review=review, session_id=f"{learner.ident}-session-{n}")
        _sync_run(learner, changes=size)
    return learner


def test_the_delivery_plan_with_the_integration_on_asks_as_much_for_2_as_for_20(
    sa_settings, staff_client
):
    counts = {}
    for size in (2, 20):
        learner = _enrolled_learner(size)
        url = reverse("learners:delivery_plan", args=[learner.ident])
        page = staff_client.get(url).content.decode()
        assert learner.smartassessor_enrolments.get().sa_learner_id in page  # the block shows
        counts[size] = _queries(staff_client, "get", url)
    _assert_same(counts)


def test_the_summary_asks_as_much_for_2_runs_as_for_30(sa_http, admin_client_ia):
    sa_http.get(wire.API + "/event-types", json=wire.page([]))
    learner = LearnerFactory()
    counts = {}
    for size in (2, 30):
        for _ in range(size // 2):
            _sync_run(learner, changes=1)
            _sync_run(None, changes=1, trigger=SyncRun.Trigger.DAILY)
            LinkRefresh.objects.create(
                state=LinkRefresh.State.SUCCEEDED, finished_at=timezone.now(), linked=1
            )
        counts[SyncRun.objects.count()] = _queries(
            admin_client_ia, "get", reverse("smartassessor:summary")
        )
    _assert_same(counts)


def test_the_sync_runs_list_asks_as_much_for_2_runs_as_for_30(sa_settings, admin_client_ia):
    learner = LearnerFactory()
    counts = {}
    for size in (2, 30):
        while SyncRun.objects.count() < size:
            _sync_run(learner, changes=1)
        counts[size] = _queries(admin_client_ia, "get", reverse("smartassessor:sync_runs"))
    _assert_same(counts)


def test_a_learners_sync_history_asks_as_much_for_5_changes_as_for_100(sa_settings, staff_client):
    counts = {}
    for size in (5, 100):
        learner = LearnerFactory()
        # A change from each of several runs, so the runs named on the page differ by row.
        for _ in range(size // 5):
            _sync_run(learner, changes=5)
        url = reverse("smartassessor:sync_history", args=[learner.ident])
        counts[size] = _queries(staff_client, "get", url)
    _assert_same(counts)


def test_the_bulk_preview_asks_as_much_for_3_learners_as_for_40(sa_settings, staff_client):
    counts = {}
    for size in (3, 40):
        idents = []
        for n in range(size):
            learner = LearnerFactory()
            OfficerLink.objects.create(officer=learner.main_officer, assessor_id=50_000 + n + size)
            PlacementFactory(learner=learner, start_date=dt.date(2026, 9, 1))
            qualification = QualificationFactory()
            QualificationLink.objects.create(
                qualification=qualification, course_id=60_000 + n + 100 * size
            )
            LearnerQualificationFactory(learner=learner, qualification=qualification)
            idents.append(learner.ident)
        url = reverse("smartassessor:bulk_preview")
        page = staff_client.post(url, {"learners": idents}).content.decode()
        assert f"{size} of {size} can be created now" in page
        counts[size] = _queries(staff_client, "post", url, data={"learners": idents})
    _assert_same(counts)


def test_the_counting_catches_a_page_that_asks_again_for_each_row(db):
    """The check itself: a loop that reads each learner's officer is told apart."""
    first, *_ = LearnerFactory.create_batch(3)
    with CaptureQueriesContext(connection) as few:
        [learner.main_officer for learner in Learner.objects.filter(pk=first.pk)]
    with CaptureQueriesContext(connection) as many:
        [learner.main_officer for learner in Learner.objects.all()]
    with pytest.raises(AssertionError, match="asks again for each row"):
        _assert_same({1: len(few), 3: len(many)})
