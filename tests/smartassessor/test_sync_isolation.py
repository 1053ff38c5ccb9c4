"""A learner whose Smart Assessor data is malformed is logged and skipped (F22), with a mocked
Smart Assessor that sends what the sandbox never would."""

import pytest
from django.utils import timezone

from learners.models import QualificationStatus
from smartassessor.models import (
    CourseEnrolment,
    Enrolment,
    SyncError,
    SyncRetry,
    SyncRun,
    SyncWatermark,
)
from smartassessor.services import sync
from tests.factories import LearnerFactory, LearnerQualificationFactory

from .client import wire

pytestmark = pytest.mark.django_db

GOOD_ID = "00000000-0000-4000-8000-000000000001"
BAD_ID = "00000000-0000-4000-8000-000000000002"
LAST_ID = "00000000-0000-4000-8000-000000000003"


def _enrolled(sa_learner_id: str):
    learner = LearnerFactory()
    lq = LearnerQualificationFactory(learner=learner)
    enrolment = Enrolment.objects.create(
        learner=learner,
        state=Enrolment.State.ENROLLED,
        sa_learner_id=sa_learner_id,
        enrolled_at=timezone.now(),
    )
    CourseEnrolment.objects.create(
        enrolment=enrolment,
        learner_qualification=lq,
        state=CourseEnrolment.State.ENROLLED,
        sa_learner_course_id=f"c{sa_learner_id[1:]}",
    )
    return learner


def _course(sa_learner_id: str, number: int, **overrides):
    return wire.learner_course(
        **{
            "SmartAssessorId": f"c{sa_learner_id[1:]}",
            "LearnerSmartAssessorId": sa_learner_id,
            "ModifiedAt": f"2026-11-28T10:00:0{number}.000000Z",
        }
        | overrides
    )


def _empty_feeds(http):
    for path in ("/sessions",):
        http.get(wire.API + path, json=wire.page([], page_size=sync.PAGE_SIZE))


def test_a_malformed_record_in_the_middle_is_skipped_and_the_run_ends_partial(sa_http):
    good, bad, last = _enrolled(GOOD_ID), _enrolled(BAD_ID), _enrolled(LAST_ID)
    sa_http.get(
        wire.API + "/learner-courses",
        json=wire.page(
            [
                _course(GOOD_ID, 1),
                _course(BAD_ID, 2, Status="Paused"),
                _course(LAST_ID, 3, ProgressPercent=40),
            ],
            page_size=sync.PAGE_SIZE,
        ),
    )
    _empty_feeds(sa_http)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.PARTIAL
    assert run.qualifications_updated == 2 and run.error_count == 1
    error = SyncError.objects.get(run=run)
    assert error.learner == bad and "'Paused'" in error.message
    assert good.qualifications.get().status == QualificationStatus.IN_PROGRESS
    assert str(last.qualifications.get().progress_percent) == "40.00"
    assert bad.qualifications.get().status == QualificationStatus.NOT_STARTED
    assert SyncRetry.objects.get().enrolment.learner == bad
    # The partial run moves the watermark past all three; the bad learner is re-read alone.
    mark = SyncWatermark.objects.get(feed=sync.FEED_COURSES)
    assert mark.sa_id == f"c{LAST_ID[1:]}"


def test_a_failed_learner_is_re_read_one_by_one_until_it_succeeds(sa_http):
    bad = _enrolled(BAD_ID)
    SyncRetry.objects.create(enrolment=bad.smartassessor_enrolments.get(), last_error="earlier")
    sa_http.get(wire.API + f"/learners/{BAD_ID}", json=wire.learner(SmartAssessorId=BAD_ID))
    sa_http.get(
        wire.API + f"/learners/{BAD_ID}/courses",
        json=wire.page([_course(BAD_ID, 2)], page_size=sync.PAGE_SIZE),
    )
    sa_http.get(
        wire.API + f"/learners/{BAD_ID}/sessions", json=wire.page([], page_size=sync.PAGE_SIZE)
    )
    sa_http.get(wire.API + "/learner-courses", json=wire.page([], page_size=sync.PAGE_SIZE))
    _empty_feeds(sa_http)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.SUCCEEDED
    assert bad.qualifications.get().status == QualificationStatus.IN_PROGRESS
    assert not SyncRetry.objects.exists()


def test_a_record_that_breaks_the_contract_is_skipped_and_the_run_ends_partial(sa_http):
    good, bad, last = _enrolled(GOOD_ID), _enrolled(BAD_ID), _enrolled(LAST_ID)
    sa_http.get(
        wire.API + "/learner-courses",
        json=wire.page(
            [
                _course(GOOD_ID, 1),
                _course(BAD_ID, 2, ProgressPercent="lots"),
                _course(LAST_ID, 3, ProgressPercent=40),
            ],
            page_size=sync.PAGE_SIZE,
        ),
    )
    _empty_feeds(sa_http)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.PARTIAL
    assert run.qualifications_updated == 2 and run.error_count == 1
    error = SyncError.objects.get(run=run)
    assert error.learner == bad
    assert f"Learner course c{BAD_ID[1:]}" in error.message
    assert "ProgressPercent: expected a number, got 'lots'" in error.message
    assert good.qualifications.get().status == QualificationStatus.IN_PROGRESS
    assert str(last.qualifications.get().progress_percent) == "40.00"
    assert bad.qualifications.get().status == QualificationStatus.NOT_STARTED
    assert SyncRetry.objects.get().enrolment.learner == bad
    mark = SyncWatermark.objects.get(feed=sync.FEED_COURSES)
    assert mark.sa_id == f"c{LAST_ID[1:]}"


def test_a_broken_record_naming_no_learner_is_an_error_of_the_run(sa_http):
    good = _enrolled(GOOD_ID)
    sa_http.get(
        wire.API + "/learner-courses",
        json=wire.page(
            [_course(GOOD_ID, 1), _course(BAD_ID, 2, LearnerSmartAssessorId=None)],
            page_size=sync.PAGE_SIZE,
        ),
    )
    _empty_feeds(sa_http)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.PARTIAL and run.error_count == 1
    error = SyncError.objects.get(run=run)
    assert error.learner is None
    assert error.subject == f"Learner course c{BAD_ID[1:]}"
    assert "LearnerSmartAssessorId is null" in error.message
    assert good.qualifications.get().status == QualificationStatus.IN_PROGRESS
    assert not SyncRetry.objects.exists()
    assert SyncWatermark.objects.get(feed=sync.FEED_COURSES).sa_id == f"c{BAD_ID[1:]}"


def test_a_broken_record_of_a_learner_outside_the_scope_is_not_an_error(sa_http):
    good = _enrolled(GOOD_ID)
    sa_http.get(
        wire.API + "/learner-courses",
        json=wire.page(
            [_course(GOOD_ID, 1), _course(BAD_ID, 2, Status=7)], page_size=sync.PAGE_SIZE
        ),
    )
    _empty_feeds(sa_http)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.SUCCEEDED and run.error_count == 0
    assert good.qualifications.get().status == QualificationStatus.IN_PROGRESS


def test_a_learner_whose_records_are_still_broken_waits_for_the_next_run(sa_http):
    bad, good = _enrolled(BAD_ID), _enrolled(GOOD_ID)
    SyncRetry.objects.create(enrolment=bad.smartassessor_enrolments.get(), last_error="earlier")
    sa_http.get(wire.API + f"/learners/{BAD_ID}", json=wire.learner(SmartAssessorId=BAD_ID))
    sa_http.get(
        wire.API + f"/learners/{BAD_ID}/courses",
        json=wire.page([_course(BAD_ID, 2, ProgressPercent="lots")], page_size=sync.PAGE_SIZE),
    )
    sa_http.get(
        wire.API + "/learner-courses",
        json=wire.page([_course(GOOD_ID, 1)], page_size=sync.PAGE_SIZE),
    )
    _empty_feeds(sa_http)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.PARTIAL and run.error_count == 1
    assert "ProgressPercent: expected a number" in SyncError.objects.get(learner=bad).message
    assert SyncRetry.objects.get().attempts == 2
    assert good.qualifications.get().status == QualificationStatus.IN_PROGRESS
