"""The daily run against the sandbox (F13, F15, F16, F19, F20, F22): advance simulated time,
run, and compare what the MIS holds with what Smart Assessor says."""

import datetime as dt

import pytest

from learners.models import Attendance, QualificationStatus, RiskBand
from smartassessor.models import (
    CourseEnrolment,
    OfficerLink,
    ReviewLink,
    SyncChange,
    SyncLock,
    SyncRun,
    SyncWatermark,
)
from smartassessor.services import sync
from smartassessor.services.sync import locks

from .sync_helpers import (
    BUSINESS_ADMIN,
    CUSTOMER_SERVICE,
    client,
    enrolled_learner,
    linked_qualification,
    map_event_types,
    sa_id,
    set_settings,
)

pytestmark = pytest.mark.django_db(transaction=False)


def test_a_daily_run_brings_progress_reviews_and_risk(sa_sandbox):
    learners = [enrolled_learner(), enrolled_learner()]
    map_event_types(IND="Induction", PR="Progress Review", AV=None)
    set_settings(update_risk_from_smart_coach=True)
    sa_sandbox.advance(100)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert run.learners_in_scope == 2 and run.learners_seen == 2
    for learner in learners:
        (remote,) = client().learner_course_list(learner_id=sa_id(learner))
        lq = learner.qualifications.get()
        assert lq.status == QualificationStatus.IN_PROGRESS
        assert float(lq.timeline_percent) == pytest.approx(remote.timeline_percent, abs=0.01)
        assert float(lq.progress_percent) == pytest.approx(remote.progress_percent, abs=0.01)
        induction = learner.reviews.get(review_type__name="Induction")
        assert induction.reviewer == learner.main_officer
        assert induction.attendance != Attendance.UNKNOWN
        assert ReviewLink.objects.filter(review=induction).exists()
        learner.refresh_from_db()
        assert learner.risk_band != RiskBand.NOT_SET
        assert SyncChange.objects.filter(learner=learner, field="Progress %").exists()
    assert run.qualifications_updated == 2
    assert run.reviews_created == sum(learner.reviews.count() for learner in learners)
    assert run.risk_updated == 2
    assert set(SyncWatermark.objects.values_list("feed", flat=True)) >= {
        sync.FEED_COURSES,
        sync.FEED_SESSIONS,
        sync.FEED_SMART_COACH,
    }


def test_unmapped_event_types_are_skipped_and_counted(sa_sandbox):
    learner = enrolled_learner()
    map_event_types(IND="Induction")
    sa_sandbox.advance(100)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.SUCCEEDED
    assert run.unmapped_event_types > 0
    assert "PR" in run.unmapped_codes
    assert run.unmapped_sessions["PR"] > 0
    assert sum(run.unmapped_sessions.values()) == run.unmapped_event_types
    assert set(learner.reviews.values_list("review_type__name", flat=True)) == {"Induction"}


def test_the_next_run_reads_only_what_changed(sa_sandbox):
    enrolled_learner()
    enrolled_learner()
    map_event_types(IND="Induction", PR="Progress Review")
    sa_sandbox.advance(30)
    sync.sync_run_daily()

    sa_sandbox.reset_stats()
    quiet = sync.sync_run_daily()
    quiet_requests = sa_sandbox.stats()["Requests"]

    assert quiet.state == SyncRun.State.SUCCEEDED
    assert quiet.learners_seen == 0 and quiet.qualifications_updated == 0
    assert not quiet.changes.exists()
    # One empty page per feed (and a token at most): nothing is read learner by learner.
    assert quiet_requests <= 4

    sa_sandbox.advance(60)
    busy = sync.sync_run_daily()
    assert busy.qualifications_updated == 2
    assert busy.reviews_updated + busy.reviews_created > 0


def test_an_outage_fails_the_run_and_the_next_one_catches_up(sa_sandbox):
    learner = enrolled_learner()
    map_event_types(IND="Induction", PR="Progress Review")
    sa_sandbox.advance(10)
    assert sync.sync_run_daily().state == SyncRun.State.SUCCEEDED
    before = SyncWatermark.objects.get(feed=sync.FEED_SESSIONS).modified_at
    reviews_before = learner.reviews.count()
    sa_sandbox.advance(90)
    sa_sandbox.faults(Rules=[{"Method": "GET", "Path": "^/api/v1/sessions$", "Status": 503}])

    failed = sync.sync_run_daily()

    assert failed.state == SyncRun.State.FAILED
    assert "unavailable" in failed.error and "catches up" in failed.error
    assert SyncWatermark.objects.get(feed=sync.FEED_SESSIONS).modified_at == before
    assert learner.reviews.count() == reviews_before

    sa_sandbox.faults(Rules=[])
    caught_up = sync.sync_run_daily()

    assert caught_up.state == SyncRun.State.SUCCEEDED
    assert learner.reviews.count() > reviews_before
    assert SyncWatermark.objects.get(feed=sync.FEED_SESSIONS).modified_at > before


def test_a_second_run_does_not_start_while_one_holds_the_lock(sa_sandbox):
    enrolled_learner()
    first = SyncRun.objects.create(trigger=SyncRun.Trigger.DAILY, state=SyncRun.State.RUNNING)
    assert locks.acquire(first) is None

    second = sync.sync_run_daily()

    assert second.state == SyncRun.State.SKIPPED
    assert f"run {first.pk}" in second.error and "still running" in second.error
    assert not second.changes.exists()

    locks.release(first)
    assert sync.sync_run_daily().state == SyncRun.State.SUCCEEDED


def test_a_lock_left_by_a_dead_worker_expires(sa_sandbox):
    dead = SyncRun.objects.create(trigger=SyncRun.Trigger.DAILY, state=SyncRun.State.RUNNING)
    locks.acquire(dead)
    SyncLock.objects.filter(name=sync.LOCK_NAME).update(
        expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )

    assert sync.sync_run_daily().state == SyncRun.State.SUCCEEDED


def test_the_scope_is_in_learning_on_a_break_or_ended_within_31_days(sa_sandbox):
    from django.utils import timezone

    from learners.models import LearnerStatus

    today = timezone.localdate()
    active = enrolled_learner()
    recent = enrolled_learner()
    old = enrolled_learner()
    recent.status = old.status = LearnerStatus.COMPLETED
    recent.actual_end_date = today - dt.timedelta(days=10)
    old.actual_end_date = today - dt.timedelta(days=31)
    recent.save()
    old.save()
    sa_sandbox.advance(30)

    run = sync.sync_run_daily()

    assert run.learners_in_scope == 2
    assert active.qualifications.get().timeline_percent > 0
    assert recent.qualifications.get().timeline_percent > 0
    assert old.qualifications.get().timeline_percent == 0


def test_a_qualification_added_later_is_enrolled_at_the_next_run(sa_sandbox):
    learner = enrolled_learner()
    start = learner.start_date
    added = learner.qualifications.create(
        qualification=linked_qualification(*CUSTOMER_SERVICE),
        start_date=start,
        planned_end_date=start + dt.timedelta(days=400),
    )

    run = sync.sync_run_daily()

    course = CourseEnrolment.objects.get(learner_qualification=added)
    assert course.state == CourseEnrolment.State.ENROLLED
    remote = {
        c.smart_assessor_id: c for c in client().learner_course_list(learner_id=sa_id(learner))
    }
    assert remote[course.sa_learner_course_id].course_smart_assessor_id == CUSTOMER_SERVICE[2]
    assert run.qualifications_enrolled == 1
    assert SyncChange.objects.filter(
        learner=learner, new_value="Enrolled in Smart Assessor"
    ).exists()
    assert sync.sync_run_daily().qualifications_enrolled == 0


def test_smart_coach_without_a_licence_is_skipped_quietly(sa_sandbox):
    learner = enrolled_learner()
    set_settings(update_risk_from_smart_coach=True)
    sa_sandbox.advance(60)
    sa_sandbox.faults(SmartCoachLicensed=False)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.SUCCEEDED
    assert any("not licensed" in note for note in run.notes)
    learner.refresh_from_db()
    assert learner.risk_band == RiskBand.NOT_SET
    assert learner.qualifications.get().timeline_percent > 0


def test_officer_details_follow_the_officer_mode(sa_sandbox):
    learner = enrolled_learner()
    officer = learner.main_officer
    link = OfficerLink.objects.get(officer=officer)
    set_settings(officer_demographics_mode="pull", safety_hold_percent=100)
    remote = client().assessor_get(assessor_id=link.assessor_id)
    from smartassessor.client import AssessorInput

    client().assessor_update(
        assessor_id=link.assessor_id,
        assessor=AssessorInput(
            mis_assessor_id=remote.mis_assessor_id,
            first_name=remote.first_name,
            last_name=remote.last_name,
            email=remote.email,
            telephone="0114 496 0000",
            mobile=remote.mobile,
        ),
    )

    run = sync.sync_run_daily()

    officer.refresh_from_db()
    assert officer.phone == "0114 496 0000"
    assert run.officers_updated == 1

    set_settings(officer_demographics_mode="push")
    officer.mobile = "07700 900123"
    officer.save()
    sync.sync_run_daily()

    assert client().assessor_get(assessor_id=link.assessor_id).mobile == "07700 900123"


def test_bulk_seeded_learners_are_linked_by_hand_and_their_courses_adopted(sa_sandbox):
    """A learner linked by hand (F12) has SA courses the MIS never recorded: the run adopts
    the ones on the plan."""
    from smartassessor.models import Enrolment

    learner = enrolled_learner()
    enrolment = Enrolment.objects.get(learner=learner)
    enrolment.courses.all().delete()
    sa_sandbox.advance(30)

    sync.sync_run_daily()

    course = CourseEnrolment.objects.get(enrolment=enrolment)
    assert course.learner_qualification.qualification.reference == BUSINESS_ADMIN[0]
    assert course.learner_qualification.timeline_percent > 0


def test_a_run_that_creates_reviews_and_updates_others_writes_both(sa_sandbox):
    from smartassessor import mapping
    from smartassessor.services.sync.values import converted

    learners = [enrolled_learner(), enrolled_learner()]
    map_event_types(IND="Induction", PR="Progress Review", AV="Assessment Visit")
    # A visit is held between the runs only on the simulated clock: the real one stands still.
    sa_sandbox.advance(20, real_clock_sessions=False)
    sync.sync_run_daily()
    # A visit planned before is held now, and new sessions are planned.
    sa_sandbox.advance(60, real_clock_sessions=False)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert run.reviews_created > 0 and run.reviews_updated > 0
    fields = [f for f in mapping.REVIEW_FIELDS if f.mis_attr not in ("review_type", "reviewer")]
    for learner in learners:
        for session in client().learner_session_list(learner_id=sa_id(learner)):
            review = ReviewLink.objects.get(session_id=session.smart_assessor_id).review
            for field in fields:
                assert getattr(review, field.mis_attr) == converted(field, session), field
