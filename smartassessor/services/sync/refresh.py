"""Refresh with Smart Assessor (F14): one learner's records, planned and applied at once (a
person asked for this learner, so no safety hold), by whichever worker claims the row."""

import datetime as dt
import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from learners.models import Learner
from picsweb.errors import ApplicationError
from picsweb.task_queue import queue_on_commit

from ...audit import Actor
from ...client import SmartAssessorError
from ...connection import client_from_settings
from ...errors import unexpected_error_text
from ...models import Enrolment, OfficerLink, SyncRun
from . import locks, planning
from .applying import apply_plan
from .context import RunContext
from .runs import failure_message, finish, finish_well, plan_learner, remember_failures

logger = logging.getLogger(__name__)

# A learner's refresh is claimed for a lease renewed between its steps; one whose worker is gone
# is taken over when it runs out. Each claim is an attempt; after the last it fails.
LEARNER_REFRESH_ATTEMPTS = 3
RETRY_AFTER = dt.timedelta(seconds=30)


def current_enrolment(learner: Learner) -> Enrolment:
    enrolment = (
        Enrolment.objects.filter(learner=learner, is_current=True).select_related("learner").first()
    )
    if (
        enrolment is None
        or enrolment.state not in Enrolment.SYNCED_STATES
        or not enrolment.sa_learner_id
    ):
        raise ApplicationError(
            f"{learner.full_name} is not enrolled in Smart Assessor yet, so there is nothing to "
            "refresh."
        )
    return enrolment


def learner_refresh_request(*, learner: Learner, actor: Actor) -> tuple[SyncRun, bool]:
    """Store a refresh of one learner and queue it; a refresh already waiting is returned."""
    from ...tasks import refresh_learner

    current_enrolment(learner)
    with transaction.atomic():
        waiting = SyncRun.objects.filter(
            learner=learner, trigger=SyncRun.Trigger.LEARNER, state__in=SyncRun.ACTIVE_STATES
        ).first()
        if waiting is not None:
            return waiting, False
        run = SyncRun.objects.create(
            trigger=SyncRun.Trigger.LEARNER,
            learner=learner,
            requested_by=actor if actor and actor.is_authenticated else None,
        )
        queue_on_commit(refresh_learner, run.pk)
    return run, True


def _claim(run_id: int) -> bool:
    """Claim a learner's refresh that is queued, or running with its lease run out: one
    conditional UPDATE that changes exactly one row, and counts the attempt."""
    now = timezone.now()
    return (
        SyncRun.objects.filter(
            pk=run_id, trigger=SyncRun.Trigger.LEARNER, attempts__lt=LEARNER_REFRESH_ATTEMPTS
        )
        .filter(Q(state=SyncRun.State.QUEUED) | Q(state=SyncRun.State.RUNNING, lease_until__lt=now))
        .update(
            state=SyncRun.State.RUNNING,
            started_at=now,
            lease_until=now + locks.LEARNER_LEASE,
            attempts=F("attempts") + 1,
        )
        == 1
    )


def _stopped(run: SyncRun, exc: Exception, *, retry: bool) -> SyncRun:
    """An attempt that stopped on an unexpected error: queued again for the sweeper to send
    after a short wait, or failed after the last attempt."""
    attempts = SyncRun.objects.values_list("attempts", flat=True).get(pk=run.pk)
    reason = f"The refresh stopped on an unexpected error ({unexpected_error_text(exc)})."
    if not retry or attempts >= LEARNER_REFRESH_ATTEMPTS:
        return finish(
            run,
            SyncRun.State.FAILED,
            f"{reason} Press Refresh with Smart Assessor again; if it fails again, tell support.",
        )
    run.state = SyncRun.State.QUEUED
    run.error = f"Attempt {attempts} of {LEARNER_REFRESH_ATTEMPTS}: {reason} Trying again shortly."
    SyncRun.objects.filter(pk=run.pk).update(
        state=run.state, error=run.error, lease_until=timezone.now() + RETRY_AFTER
    )
    return run


def refresh_work(context: RunContext, enrolment: Enrolment) -> None:
    """Plan the learner's records and their officers' details, then apply the plan."""
    run = context.run
    plan_learner(context, enrolment, courses_added=True)
    locks.keep_alive(run)
    officers = OfficerLink.objects.filter(
        Q(officer__main_learners=enrolment.learner_id)
        | Q(officer__learner_roles__learner=enrolment.learner_id)
    ).select_related("officer")
    planning.plan_officer_details(context, officers.distinct())
    locks.keep_alive(run)
    apply_plan(context)


def learner_refresh_run(*, run_id: int, retry: bool = True) -> SyncRun | None:
    """The work of one refresh, by whichever worker claims the row. An unexpected error is
    stored on the row and, unless ``retry`` is False or it was the last attempt, the refresh
    is queued again for the sweeper to send."""
    if not _claim(run_id):
        return None
    run = SyncRun.objects.select_related("learner").get(pk=run_id)
    try:
        assert run.learner is not None
        enrolment = current_enrolment(run.learner)
        context = RunContext(
            run, client=client_from_settings(), scope=Enrolment.objects.filter(pk=enrolment.pk)
        )
        context.in_scope = {enrolment.learner_id}
        refresh_work(context, enrolment)
        context.save_counts()
        remember_failures(run, context.failed, context.seen)
    except (SmartAssessorError, ApplicationError) as exc:
        return finish(run, SyncRun.State.FAILED, failure_message(exc))
    except Exception as exc:
        logger.exception("Refresh %s stopped on an unexpected error", run.pk)
        return _stopped(run, exc, retry=retry)
    if context.failed:
        return finish(run, SyncRun.State.FAILED, "; ".join(context.failed.values()))
    return finish_well(run)


def learner_refresh_now(*, learner: Learner, actor: Actor = None) -> SyncRun:
    """A refresh in the foreground (``manage.py smartassessor sync --learner``)."""
    current_enrolment(learner)
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.LEARNER,
        learner=learner,
        requested_by=actor if actor and actor.is_authenticated else None,
    )
    done = learner_refresh_run(run_id=run.pk, retry=False)
    assert done is not None  # a row just stored, claimed by no one else
    return done
