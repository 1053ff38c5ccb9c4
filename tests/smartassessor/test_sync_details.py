"""Learner details by mode (F17), a bad record in the middle of a run (F22) and the safety
hold (F25), against the sandbox."""

import pytest
from django.utils import timezone

from learners.models import Learner, Sex
from smartassessor.client import LearnerChanges
from smartassessor.models import SyncChange, SyncError, SyncRetry, SyncRun, SyncWatermark
from smartassessor.selectors import sync_runs
from smartassessor.services import sync

from .sync_helpers import client, enrolled_learner, sa_id, set_settings

pytestmark = pytest.mark.django_db


def _edit_in_mis(learner, **values) -> None:
    """An edit as a form makes it (the update time moves), without the form's validation."""
    Learner.objects.filter(pk=learner.pk).update(updated_at=timezone.now(), **values)


def test_push_sends_mis_values_and_a_refused_learner_does_not_stop_the_run(sa_sandbox):
    first, bad, last = enrolled_learner(), enrolled_learner(), enrolled_learner()
    set_settings(learner_demographics_mode="push", safety_hold_percent=100)
    sync.sync_run_daily()
    _edit_in_mis(first, mobile="07700 900001")
    _edit_in_mis(bad, email="not an email")
    _edit_in_mis(last, mobile="07700 900003")

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.PARTIAL
    assert run.details_pushed == 2 and run.error_count == 1
    error = SyncError.objects.get(run=run)
    assert error.learner == bad and "Email" in error.message
    assert client().learner_get(learner_id=sa_id(first)).mobile == "07700 900001"
    assert client().learner_get(learner_id=sa_id(last)).mobile == "07700 900003"
    assert SyncRetry.objects.filter(enrolment__learner=bad).exists()
    # The run's plan is applied, but for the refused change: left out, and shown so.
    changes = SyncChange.objects.filter(run=run).select_related("run")
    assert run.plan_applied_at is not None
    assert {c.learner_id for c in changes.applied()} == {first.pk, last.pk}
    assert [(c.learner_id, c.field, c.applied) for c in changes.planned()] == [
        (bad.pk, "Email", False)
    ]
    assert not sync_runs.learner_sync_changes(learner=bad).exists()

    _edit_in_mis(bad, email="fixed@learner.example")
    again = sync.sync_run_daily()

    assert again.state == SyncRun.State.SUCCEEDED
    assert client().learner_get(learner_id=sa_id(bad)).email == "fixed@learner.example"
    assert not SyncRetry.objects.exists()


def test_push_sends_the_uln_but_pull_never_takes_it(sa_sandbox):
    learner = enrolled_learner(uln="")
    set_settings(learner_demographics_mode="push", safety_hold_percent=100)
    _edit_in_mis(learner, uln="2000000001")
    sync.sync_run_daily()
    assert client().learner_get(learner_id=sa_id(learner)).uln == "2000000001"

    set_settings(learner_demographics_mode="pull")
    _edit_in_mis(learner, uln="")
    client().learner_update(learner_id=sa_id(learner), changes=LearnerChanges(mobile="07700 1"))
    sync.sync_run_daily()

    learner.refresh_from_db()
    assert learner.uln == "" and learner.mobile == "07700 1"


def test_pull_takes_sa_values_and_gender_only_when_switched_on(sa_sandbox):
    learner = enrolled_learner(sex=Sex.FEMALE)
    set_settings(learner_demographics_mode="pull", safety_hold_percent=100)
    client().learner_update(
        learner_id=sa_id(learner), changes=LearnerChanges(given_names="Ama", sex="Other")
    )

    run = sync.sync_run_daily()

    learner.refresh_from_db()
    assert learner.first_name == "Ama" and learner.sex == Sex.FEMALE
    assert run.details_pulled == 1
    change = SyncChange.objects.get(learner=learner, field="First name")
    assert change.new_value == "Ama" and change.applied

    set_settings(update_learner_gender=True)
    client().learner_update(learner_id=sa_id(learner), changes=LearnerChanges(sex="Male"))
    sync.sync_run_daily()

    learner.refresh_from_db()
    assert learner.sex == Sex.MALE


def test_none_mode_leaves_details_alone(sa_sandbox):
    learner = enrolled_learner()
    client().learner_update(learner_id=sa_id(learner), changes=LearnerChanges(given_names="Zed"))

    run = sync.sync_run_daily()

    learner.refresh_from_db()
    assert learner.first_name != "Zed" and run.details_pulled == 0


def _two_changed_in_sa(sa_sandbox):
    learners = [enrolled_learner(), enrolled_learner()]
    set_settings(learner_demographics_mode="pull", safety_hold_percent=20)
    sync.sync_run_daily()
    mark = SyncWatermark.objects.get(feed=sync.FEED_LEARNERS).modified_at
    for number, learner in enumerate(learners):
        client().learner_update(
            learner_id=sa_id(learner), changes=LearnerChanges(mobile=f"07700 90000{number}")
        )
    return learners, mark


def test_a_run_changing_too_many_learners_is_held_before_writing(sa_sandbox):
    learners, mark = _two_changed_in_sa(sa_sandbox)

    run = sync.sync_run_daily()

    assert run.state == SyncRun.State.HELD
    assert "approve or discard" in run.notes[-1]
    for learner in learners:
        old_mobile = learner.mobile
        learner.refresh_from_db()
        assert learner.mobile == old_mobile
    planned = SyncChange.objects.filter(run=run, field="Mobile").planned()
    assert planned.count() == 2
    assert SyncWatermark.objects.get(feed=sync.FEED_LEARNERS).modified_at == mark


def test_approving_a_held_run_applies_its_changes(sa_sandbox, admin_user):
    learners, mark = _two_changed_in_sa(sa_sandbox)
    run = sync.sync_run_daily()

    sync.sync_run_approve(run=run, actor=admin_user)
    applied = sync.sync_run_apply_held(run_id=run.pk)

    assert applied.state == SyncRun.State.SUCCEEDED
    assert applied.details_pulled == 2 and applied.decided_by == admin_user
    for number, learner in enumerate(learners):
        learner.refresh_from_db()
        assert learner.mobile == f"07700 90000{number}"
    assert SyncWatermark.objects.get(feed=sync.FEED_LEARNERS).modified_at > mark


def test_discarding_a_held_run_moves_on_without_changing(sa_sandbox, admin_user):
    learners, mark = _two_changed_in_sa(sa_sandbox)
    run = sync.sync_run_daily()

    sync.sync_run_discard(run=run, actor=admin_user)

    assert SyncRun.objects.get(pk=run.pk).state == SyncRun.State.DISCARDED
    assert SyncWatermark.objects.get(feed=sync.FEED_LEARNERS).modified_at > mark
    next_run = sync.sync_run_daily()
    assert next_run.state == SyncRun.State.SUCCEEDED and next_run.details_pulled == 0
    for learner in learners:
        mobile = learner.mobile
        learner.refresh_from_db()
        assert learner.mobile == mobile
    with pytest.raises(Exception, match="Only a held run"):
        sync.sync_run_approve(run=run, actor=admin_user)
