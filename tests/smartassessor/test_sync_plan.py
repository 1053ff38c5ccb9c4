"""Plan, check, apply (F25, issue 11): a run stores its plan before writing; a held run writes
nothing and approving it applies exactly its plan; a dry run writes nothing else; a delta run
reads only the feeds (F31); the timeline's creep is written but is not history (F21)."""

from decimal import Decimal

import pytest

from learners.models import Learner, LearnerQualification, Officer, Review
from smartassessor.client import LearnerChanges
from smartassessor.models import (
    CourseEnrolment,
    Enrolment,
    ReviewLink,
    SyncChange,
    SyncLock,
    SyncRetry,
    SyncRun,
    SyncWatermark,
)
from smartassessor.selectors.sync_runs import learner_sync_changes
from smartassessor.services import sync
from smartassessor.services.sync import locks

from .sync_helpers import client, enrolled_learner, map_event_types, sa_id, set_settings

pytestmark = pytest.mark.django_db

# Every table a run could write to, apart from its own run, plan and errors.
TOUCHED = (
    Learner,
    LearnerQualification,
    Review,
    ReviewLink,
    Officer,
    CourseEnrolment,
    Enrolment,
    SyncRetry,
    SyncWatermark,
)


def snapshot() -> dict[str, list[tuple]]:
    return {model.__name__: sorted(model.objects.order_by("pk").values_list()) for model in TOUCHED}


def _learners(sa_sandbox, count: int = 3) -> list[Learner]:
    map_event_types(PR="Progress Review", AV="Assessment Visit", OTJ=None, WR=None)
    learners = [enrolled_learner() for _ in range(count)]
    # The sandbox withdraws a few learners at random: with three learners one withdrawal would
    # hold a run, so the backwards check is on only where a test is about it.
    set_settings(
        learner_demographics_mode="pull",
        update_risk_from_smart_coach=True,
        backwards_hold_percent=100,
    )
    sa_sandbox.advance(30)
    first = sync.sync_run_daily()
    assert first.state == SyncRun.State.SUCCEEDED, first.error
    return learners


def _ahead_in_the_mis(sa_sandbox, learners: list[Learner], days: int = 1) -> None:
    """The MIS holds progress far ahead of SA's; a day on, SA's figures move them backwards
    (and the backwards check is on, at its default share)."""
    set_settings(backwards_hold_percent=10)
    LearnerQualification.objects.filter(learner__in=learners).update(progress_percent=Decimal(95))
    sa_sandbox.advance(days)


def _applied_values(run: SyncRun) -> set[tuple]:
    return set(
        SyncChange.objects.filter(run=run)
        .applied()
        .values_list("learner_id", "record", "attr", "new_value")
    )


def test_a_run_moving_too_many_qualifications_backwards_is_held_with_nothing_written(
    sa_sandbox, admin_user
):
    learners = _learners(sa_sandbox)
    _ahead_in_the_mis(sa_sandbox, learners, days=14)  # sessions and risk change in SA too
    before = snapshot()

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.HELD, run.error
    assert run.qualifications_backwards == 3
    assert any("would move backwards" in note for note in run.notes)
    assert snapshot() == before
    plan = SyncChange.objects.filter(run=run)
    assert not plan.applied().exists() and run.plan_applied_at is None
    assert plan.filter(attr="progress_percent").count() == 3
    planned = set(
        plan.filter(in_history=True).values_list("learner_id", "record", "attr", "new_value")
    )

    sync.sync_run_approve(run=run, actor=admin_user)
    applied = sync.sync_run_apply_held(run_id=run.pk)

    assert applied.state == SyncRun.State.SUCCEEDED, applied.error
    assert _applied_values(run) == planned
    assert not plan.planned().exists()
    assert not plan.filter(in_history=False).exists()  # the timeline's rows were dropped
    for row in plan.filter(attr="progress_percent"):
        lq = LearnerQualification.objects.get(pk=row.record_id)
        assert lq.progress_percent == Decimal(row.value)
    assert snapshot()["SyncWatermark"] != before["SyncWatermark"]


def test_a_run_changing_too_many_details_holds_its_progress_and_reviews_too(sa_sandbox):
    learners = _learners(sa_sandbox)
    for number, learner in enumerate(learners):
        client().learner_update(
            learner_id=sa_id(learner), changes=LearnerChanges(mobile=f"07700 90010{number}")
        )
    sa_sandbox.advance(90)  # a review falls due and is held too
    before = snapshot()

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.HELD, run.error
    assert snapshot() == before
    planned = SyncChange.objects.filter(run=run).planned()
    assert planned.filter(field="Mobile").count() == 3
    assert planned.filter(attr="progress_percent").exists()
    assert planned.filter(target=SyncChange.Target.REVIEW).exists()


def test_discarding_a_held_plan_writes_none_of_it_and_moves_the_watermark(sa_sandbox, admin_user):
    learners = _learners(sa_sandbox)
    _ahead_in_the_mis(sa_sandbox, learners)
    held = sync.sync_run_daily()
    assert held.state == SyncRun.State.HELD
    marks = dict(SyncWatermark.objects.values_list("feed", "modified_at"))

    sync.sync_run_discard(run=held, actor=admin_user)

    assert SyncRun.objects.get(pk=held.pk).state == SyncRun.State.DISCARDED
    assert not SyncChange.objects.filter(run=held).applied().exists()
    assert set(LearnerQualification.objects.values_list("progress_percent", flat=True)) == {
        Decimal(95)
    }
    moved = dict(SyncWatermark.objects.values_list("feed", "modified_at"))
    assert moved[sync.FEED_COURSES] > marks[sync.FEED_COURSES]


def test_a_dry_run_shows_the_plan_and_writes_nothing_else(sa_sandbox, admin_user):
    _learners(sa_sandbox)
    sa_sandbox.advance(14)
    before = snapshot()

    dry = sync.sync_run_dry(actor=admin_user)

    assert dry.state == SyncRun.State.SUCCEEDED, dry.error
    assert dry.trigger == SyncRun.Trigger.DRY_RUN and dry.requested_by == admin_user
    assert snapshot() == before
    assert not SyncLock.objects.filter(run=dry).exists()
    planned = set(
        SyncChange.objects.filter(run=dry, in_history=True).values_list(
            "learner_id", "record", "attr", "new_value"
        )
    )
    assert planned and not SyncChange.objects.filter(run=dry).applied().exists()
    assert "nothing was written" in dry.notes[-1]
    for learner in Learner.objects.all():  # a plan is not history
        assert not learner_sync_changes(learner=learner).filter(run=dry).exists()

    daily = sync.sync_run_daily()

    assert daily.state == SyncRun.State.SUCCEEDED, daily.error
    assert _applied_values(daily) == planned


def test_a_queued_dry_run_is_worked_once(sa_sandbox, admin_user, monkeypatch):
    _learners(sa_sandbox, count=1)
    sent = []
    monkeypatch.setattr("smartassessor.tasks.sync_dry_run.delay", sent.append)
    from django.db import transaction

    with transaction.atomic():
        run = sync.dry_run_request(actor=admin_user)
    assert run.state == SyncRun.State.QUEUED

    done = sync.dry_run_work(run_id=run.pk)

    assert done is not None and done.state == SyncRun.State.SUCCEEDED, done.error
    assert sync.dry_run_work(run_id=run.pk) is None


def test_the_timelines_creep_is_written_but_is_not_history(sa_sandbox):
    learners = _learners(sa_sandbox, count=2)
    timelines = dict(LearnerQualification.objects.values_list("pk", "timeline_percent"))
    sa_sandbox.advance(1)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.SUCCEEDED, run.error
    now = dict(LearnerQualification.objects.values_list("pk", "timeline_percent"))
    assert all(now[pk] > timelines[pk] for pk in timelines)
    assert not SyncChange.objects.filter(attr="timeline_percent").exists()
    assert not SyncChange.objects.filter(run=run).planned().exists()
    assert len(learners) == 2


def test_a_delta_run_reads_the_feeds_and_applies_like_a_daily_run(sa_sandbox):
    learners = _learners(sa_sandbox, count=2)
    sa_sandbox.advance(14)

    run = sync.sync_run_delta()

    assert run is not None and run.trigger == SyncRun.Trigger.DELTA
    assert run.state == SyncRun.State.SUCCEEDED, run.error
    assert run.qualifications_updated == 2 and run.learners_seen == 2
    assert SyncChange.objects.filter(run=run, attr="progress_percent").applied().count() == 2
    assert len(learners) == 2
    # Nothing changed since: the next delta run reads the feeds' ends and writes nothing.
    quiet = sync.sync_run_delta()
    assert quiet is not None and quiet.state == SyncRun.State.SUCCEEDED
    assert not SyncChange.objects.filter(run=quiet).exists()


def test_a_delta_run_that_finds_another_run_going_does_not_start_and_is_counted(sa_sandbox):
    _learners(sa_sandbox, count=1)
    going = SyncRun.objects.create(trigger=SyncRun.Trigger.DAILY, state=SyncRun.State.RUNNING)
    assert locks.acquire(going) is None
    runs_before = SyncRun.objects.count()

    assert sync.sync_run_delta() is None
    assert sync.sync_run_delta() is None

    assert SyncRun.objects.count() == runs_before
    assert SyncRun.objects.get(pk=going.pk).deltas_skipped == 2
    locks.release(going)


def test_delta_runs_wait_while_a_held_plan_waits_for_its_decision(sa_sandbox, admin_user):
    learners = _learners(sa_sandbox)
    _ahead_in_the_mis(sa_sandbox, learners)
    held = sync.sync_run_daily()
    assert held.state == SyncRun.State.HELD

    assert sync.sync_run_delta() is None

    assert SyncRun.objects.get(pk=held.pk).deltas_skipped == 1
    assert set(LearnerQualification.objects.values_list("progress_percent", flat=True)) == {
        Decimal(95)
    }


def test_a_new_daily_run_supersedes_a_held_plan_it_reads_again(sa_sandbox, admin_user):
    learners = _learners(sa_sandbox)
    _ahead_in_the_mis(sa_sandbox, learners)
    held = sync.sync_run_daily()
    assert held.state == SyncRun.State.HELD
    set_settings(backwards_hold_percent=100)

    later = sync.sync_run_daily()

    assert later.state == SyncRun.State.SUCCEEDED, later.error
    superseded = SyncRun.objects.get(pk=held.pk)
    assert superseded.state == SyncRun.State.DISCARDED
    assert f"Superseded by run {later.pk}" in superseded.error
    with pytest.raises(Exception, match="Only a held run"):
        sync.sync_run_approve(run=superseded, actor=admin_user)


# --- A Smart Assessor without feeds: full lists, the same plan --------------------------------


def _plan_of(run: SyncRun) -> set[tuple]:
    return set(
        SyncChange.objects.filter(run=run, in_history=True).values_list(
            "learner_id", "record", "attr", "old_value", "new_value"
        )
    )


def test_full_lists_plan_exactly_what_the_feeds_plan(sa_sandbox):
    learners = _learners(sa_sandbox)
    sa_sandbox.advance(90)  # progress, timelines, reviews due and risk
    client().learner_update(learner_id=sa_id(learners[0]), changes=LearnerChanges(mobile="07700"))
    # The checks are not what this test is about: a withdrawal in SA would hold the run.
    set_settings(read_mode="feeds", safety_hold_percent=100, backwards_hold_percent=100)
    by_feeds = sync.sync_run_dry()
    sa_sandbox.feeds(False)
    set_settings(read_mode="auto")  # asks SA, which refuses the feed parameters

    by_lists = sync.sync_run_dry()

    assert (by_feeds.read_mode, by_lists.read_mode) == ("feeds", "lists")
    assert by_lists.state == SyncRun.State.SUCCEEDED, by_lists.error
    plan = _plan_of(by_feeds)
    assert {attr for *_, attr, _, _ in plan} >= {"progress_percent", "mobile", "review"}
    assert _plan_of(by_lists) == plan
    applied = sync.sync_run_daily()
    assert applied.state == SyncRun.State.SUCCEEDED and applied.read_mode == "lists"
    assert _applied_values(applied) == {(who, what, attr, new) for who, what, attr, _, new in plan}
    # Read again, the lists find nothing left to change.
    again = sync.sync_run_daily()
    assert again.state == SyncRun.State.SUCCEEDED
    assert not SyncChange.objects.filter(run=again).exists()


def test_with_full_lists_an_outage_fails_the_run_and_the_next_one_catches_up(sa_sandbox):
    _learners(sa_sandbox, count=2)
    sa_sandbox.feeds(False)
    set_settings(read_mode="lists")
    sa_sandbox.advance(14)
    before = snapshot()
    sa_sandbox.faults(Rules=[{"Method": "GET", "Path": "^/api/v1/sessions$", "Status": 503}])

    failed = sync.sync_run_daily()

    assert failed.state == SyncRun.State.FAILED and "next run catches up" in failed.error
    assert snapshot() == before
    sa_sandbox.faults(Rules=[])
    caught_up = sync.sync_run_daily()
    assert caught_up.state == SyncRun.State.SUCCEEDED, caught_up.error
    assert caught_up.qualifications_updated == 2


def test_with_full_lists_two_runs_never_overlap(sa_sandbox):
    _learners(sa_sandbox, count=1)
    set_settings(read_mode="lists")
    going = SyncRun.objects.create(trigger=SyncRun.Trigger.DAILY, state=SyncRun.State.RUNNING)
    assert locks.acquire(going) is None

    refused = sync.sync_run_daily()

    assert refused.state == SyncRun.State.SKIPPED and f"run {going.pk}" in refused.error
    locks.release(going)
