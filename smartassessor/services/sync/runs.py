"""The runs over every learner in scope: daily (and started by hand), delta (F31) and dry runs
(F25), each planning, checking and applying the same way; and a held run approved or
discarded."""

import datetime as dt
import logging
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from picsweb.errors import ApplicationError
from picsweb.task_queue import queue_on_commit

from ...audit import Actor
from ...client import Forbidden, NotFound, ProtocolError, SmartAssessorError
from ...connection import client_from_settings
from ...errors import unexpected_error_text
from ...models import (
    DemographicsMode,
    Enrolment,
    OfficerLink,
    SyncChange,
    SyncError,
    SyncRetry,
    SyncRun,
    SyncWatermark,
)
from . import checks, locks, planning, reading
from .applying import apply_plan
from .chunks import chunks
from .context import RunContext
from .scope import sync_scope
from .values import display

logger = logging.getLogger(__name__)

# An approved held run waits for the lock at most this long, then is held again; one whose task
# was lost is sent again after REQUEUE_AFTER.
APPROVAL_WAITS = dt.timedelta(hours=2)
REQUEUE_AFTER = dt.timedelta(minutes=1)
# Learners whose qualifications added later are planned together.
BATCH = 100


class SyncBusy(ApplicationError):
    """The lock is held by another run."""


def _actor(actor: Actor) -> Any:
    return actor if actor and actor.is_authenticated else None


def finish(run: SyncRun, state: str, error: str = "") -> SyncRun:
    run.state = state
    run.error = error
    run.finished_at = timezone.now()
    run.lease_until = None
    SyncRun.objects.filter(pk=run.pk).update(
        state=state, error=error, finished_at=run.finished_at, lease_until=None
    )
    return run


def finish_well(run: SyncRun) -> SyncRun:
    return finish(run, SyncRun.State.PARTIAL if run.error_count else SyncRun.State.SUCCEEDED)


def failure_message(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, locks.LockLost):
        return "The run lost its lock (it stalled for longer than the lock lasts) and stopped."
    if isinstance(exc, SmartAssessorError):
        return (
            f"{exc}. Nothing after this point was read; the next run catches up from the last "
            "good point."
        )
    return (
        f"The run stopped on an unexpected error ({unexpected_error_text(exc)}). Nothing after "
        "this point was read; the next run catches up from the last good point. If it happens "
        "again, tell support."
    )


# --- Planning a whole run ---------------------------------------------------------------------


def plan_learner(context: RunContext, enrolment: Enrolment, *, courses_added: bool) -> None:
    """One learner's records, read one by one (a refresh, or a re-read after a failure)."""
    client = context.client
    learner_id = enrolment.sa_learner_id
    try:
        remote = client.learner_get(learner_id=learner_id)
    except NotFound:
        context.fail(
            enrolment,
            f"Smart Assessor has no learner with ID {learner_id}: ask support to check the link.",
        )
        return
    courses = list(client.learner_course_list(learner_id=learner_id, page_size=reading.PAGE_SIZE))
    sessions = list(client.learner_session_list(learner_id=learner_id, page_size=reading.PAGE_SIZE))
    scores = []
    if context.settings.update_risk_from_smart_coach:
        try:
            scores.append(client.smart_coach_get(learner_id=learner_id))
        except NotFound:
            pass  # no score yet: the risk band stays as it is
        except Forbidden:
            context.notes.append("Smart Coach is not licensed: risk was not updated.")
    with transaction.atomic():
        if courses:
            planning.plan_progress(context, courses)
        if sessions:
            planning.plan_reviews(context, sessions)
        if scores:
            planning.plan_risk(context, scores)
        planning.plan_learner_details(context, [(enrolment, remote)])
        if courses_added:
            planning.plan_added_courses(context, [enrolment])


def _plan_retries(context: RunContext) -> None:
    """Learners that failed before are re-read one by one until they succeed (F22)."""
    retries = SyncRetry.objects.filter(enrolment__in=context.scope).select_related(
        "enrolment__learner"
    )
    # Lists, not open cursors: a write while a SQLite cursor is open could not start.
    for retry in list(retries):
        try:
            plan_learner(context, retry.enrolment, courses_added=False)
        except ProtocolError as exc:
            # This learner's own records are still malformed: it waits for the next run.
            context.fail(
                retry.enrolment, f"Smart Assessor sent this learner's records malformed: {exc}"
            )
        locks.keep_alive(context.run)


def _plan_edited_learners(context: RunContext, compared: set[int]) -> None:
    """Push mode: learners edited in the MIS since the last good run, which SA's feed does not
    hold, compared one by one."""
    mis_since = SyncWatermark.objects.filter(feed=locks.MIS_LEARNERS).first()
    edited = context.scope.select_related("learner").order_by("pk")
    if mis_since is not None:
        edited = edited.filter(learner__updated_at__gte=mis_since.modified_at)
    for enrolment in list(edited):
        if enrolment.learner_id in compared or enrolment.pk in context.failed:
            continue
        try:
            remote = context.client.learner_get(learner_id=enrolment.sa_learner_id)
        except NotFound:
            context.fail(enrolment, f"Smart Assessor has no learner {enrolment.sa_learner_id}.")
            continue
        planning.plan_learner_details(context, [(enrolment, remote)])
        locks.keep_alive(context.run)


def plan_run(context: RunContext, *, full: bool) -> None:
    """Reads what Smart Assessor says into the run's plan. A full run (daily, by hand, dry) also
    re-reads the learners that failed before, compares the linked officers and plans the
    qualifications added later; a delta run reads only the feeds."""
    run = context.run
    settings = context.settings
    if full:
        _plan_retries(context)
    mode = reading.read_mode(context)
    run.read_mode = mode
    SyncRun.objects.filter(pk=run.pk).update(read_mode=mode)
    reading.read(context, reading.FEED_COURSES, mode, planning.plan_progress)
    reading.read(context, reading.FEED_SESSIONS, mode, planning.plan_reviews)
    if settings.update_risk_from_smart_coach:
        try:
            reading.read(context, reading.FEED_SMART_COACH, mode, planning.plan_risk)
        except Forbidden:
            context.notes.append("Smart Coach is not licensed: risk was not updated.")
    if settings.learner_demographics_mode != DemographicsMode.NONE:
        compared: set[int] = set()
        reading.read(
            context,
            reading.FEED_LEARNERS,
            mode,
            lambda context, page: compared.update(planning.plan_learner_page(context, page)),
        )
        if full and settings.learner_demographics_mode == DemographicsMode.PUSH:
            _plan_edited_learners(context, compared)
    if not full:
        return
    links = OfficerLink.objects.select_related("officer").order_by("pk")
    planning.plan_officer_details(context, list(links))
    missing = planning.missing_courses(context.scope).order_by("pk")
    for batch in chunks(list(missing), BATCH):
        planning.plan_added_courses(context, batch)
        locks.keep_alive(run)
    assert run.started_at is not None
    run.positions[locks.MIS_LEARNERS] = [run.started_at.isoformat(), ""]
    SyncRun.objects.filter(pk=run.pk).update(positions=run.positions)


def remember_failures(run: SyncRun, failed: dict[int, str], seen: set[int]) -> None:
    """Learners that failed are re-read one by one next time; those seen well are not."""
    for enrolment_id, message in failed.items():
        retry, created = SyncRetry.objects.get_or_create(
            enrolment_id=enrolment_id, defaults={"last_error": message}
        )
        if not created:
            retry.attempts += 1
            retry.last_error = message
            retry.save(update_fields=["attempts", "last_error"])
    # The retries are few and the learners seen can be every learner: the retries are read,
    # not the learners sent to the database.
    retries = SyncRetry.objects.values_list("pk", "enrolment_id", "enrolment__learner_id")
    done = [
        pk
        for pk, enrolment_id, learner_id in retries
        if learner_id in seen and enrolment_id not in failed
    ]
    SyncRetry.objects.filter(pk__in=done).delete()
    SyncRetry.objects.exclude(enrolment__in=sync_scope()).delete()


# --- Daily, delta and dry runs --------------------------------------------------------------


def _new_run(trigger: str, actor: Actor = None) -> SyncRun:
    return SyncRun.objects.create(
        trigger=trigger,
        state=SyncRun.State.RUNNING,
        requested_by=_actor(actor),
        started_at=timezone.now(),
        lease_until=timezone.now() + locks.LOCK_TTL,
    )


def _supersede_held(run: SyncRun) -> None:
    """Held runs still waiting are superseded by a newer plan (applied or held itself): it read
    the same changes again (a held run moves no watermark), so approving an older plan later
    would write stale values."""
    SyncRun.objects.filter(state=SyncRun.State.HELD).exclude(
        trigger__in=(SyncRun.Trigger.LEARNER, SyncRun.Trigger.DRY_RUN)
    ).exclude(pk=run.pk).update(
        state=SyncRun.State.DISCARDED,
        finished_at=timezone.now(),
        error=f"Superseded by run {run.pk}, which read the same changes again; nothing of "
        "this plan was written.",
    )


def _execute(run: SyncRun, *, full: bool) -> SyncRun:
    """Plan, check, apply (or hold, or for a dry run only show) one run."""
    try:
        context = RunContext(run, client=client_from_settings(), scope=sync_scope())
        run.learners_in_scope = context.count_scope()
        SyncRun.objects.filter(pk=run.pk).update(learners_in_scope=run.learners_in_scope)
        plan_run(context, full=full)
        context.save_counts()
        reasons = checks.hold_reasons(context)
        if run.trigger == SyncRun.Trigger.DRY_RUN:
            context.store_routine()
            planned = SyncChange.objects.filter(run=run).count()
            context.notes.append(
                f"A dry run: {planned} changes planned, nothing was written."
                + (f" A run now would be held: {' '.join(reasons)}" if reasons else "")
            )
            context.save_counts()
            return finish_well(run)
        if full:
            _supersede_held(run)
        if reasons:
            context.store_routine()
            context.notes += [
                *reasons,
                "Nothing was written: an Integration admin must approve or discard this plan.",
            ]
            context.save_counts()
            return finish(run, SyncRun.State.HELD)
        apply_plan(context)
        context.save_counts()
        remember_failures(run, context.failed, context.seen)
        locks.watermarks_move(run)
    except (SmartAssessorError, ApplicationError, locks.LockLost) as exc:
        logger.warning("Sync run %s failed: %s", run.pk, exc)
        return finish(run, SyncRun.State.FAILED, failure_message(exc))
    except Exception as exc:
        # Anything else (a bug, a database error, a time limit) ends the run Failed too, with
        # the traceback logged once here and not raised again for the worker to log.
        logger.exception("Sync run %s stopped on an unexpected error", run.pk)
        return finish(run, SyncRun.State.FAILED, failure_message(exc))
    return finish_well(run)


def _locked(run: SyncRun, *, full: bool) -> SyncRun:
    try:
        with locks.beating(run):
            return _execute(run, full=full)
    finally:
        locks.release(run)


def sync_run_daily(*, trigger: str = SyncRun.Trigger.DAILY, actor: Actor = None) -> SyncRun:
    """One daily run over every learner in scope, in the foreground (F13)."""
    run = _new_run(trigger, actor)
    lock = locks.acquire(run)
    if lock is not None:
        going = lock.run
        started = going.started_at if going else None
        when = f", started {display(going, 'started_at', started)}" if going and started else ""
        return finish(
            run,
            SyncRun.State.SKIPPED,
            f"Another synchronisation (run {lock.run_id}{when}) is still running; "
            "this one did not start.",
        )
    return _locked(run, full=True)


def _count_skipped(run_id: int) -> None:
    SyncRun.objects.filter(pk=run_id).update(deltas_skipped=F("deltas_skipped") + 1)


def _waiting_held() -> SyncRun | None:
    return (
        SyncRun.objects.filter(state__in=(SyncRun.State.HELD, SyncRun.State.QUEUED))
        .exclude(trigger__in=(SyncRun.Trigger.LEARNER, SyncRun.Trigger.DRY_RUN))
        .order_by("-pk")
        .first()
    )


def sync_run_delta() -> SyncRun | None:
    """A delta run (F31): the feeds from their watermarks, planned, checked and applied like a
    daily run. It does not start, and is counted on the run in the way, while another run holds
    the lock or a held run waits for its decision (it would read the same changes again)."""
    waiting = _waiting_held() or locks.holder()
    if waiting is not None:
        _count_skipped(waiting.pk)
        return None
    run = _new_run(SyncRun.Trigger.DELTA)
    lock = locks.acquire(run)
    if lock is not None:  # another run took the lock in between
        if lock.run_id:
            _count_skipped(lock.run_id)
        run.delete()
        return None
    return _locked(run, full=False)


def dry_run_request(*, actor: Actor) -> SyncRun:
    """Store a dry run ("Preview the next synchronisation") and queue it."""
    from ...tasks import sync_dry_run

    with transaction.atomic():
        run = SyncRun.objects.create(trigger=SyncRun.Trigger.DRY_RUN, requested_by=_actor(actor))
        queue_on_commit(sync_dry_run, run.pk)
    return run


def dry_run_work(*, run_id: int) -> SyncRun | None:
    """The work of a queued dry run: the plan built and stored, nothing else written. It holds
    no lock (it writes nothing a run would), only a lease its heartbeat renews."""
    now = timezone.now()
    if not SyncRun.objects.filter(
        pk=run_id, trigger=SyncRun.Trigger.DRY_RUN, state=SyncRun.State.QUEUED
    ).update(state=SyncRun.State.RUNNING, started_at=now, lease_until=now + locks.LOCK_TTL):
        return None
    run = SyncRun.objects.get(pk=run_id)
    with locks.beating(run):
        return _execute(run, full=True)


def sync_run_dry(*, actor: Actor = None) -> SyncRun:
    """A dry run in the foreground (``manage.py smartassessor sync --dry-run``)."""
    run = _new_run(SyncRun.Trigger.DRY_RUN, actor)
    with locks.beating(run):
        return _execute(run, full=True)


# --- A held run: approve or discard (F25) ---------------------------------------------------


def _decide(run: SyncRun, actor: Actor, state: str, **fields: Any) -> bool:
    return (
        SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.HELD).update(
            state=state, decided_by=actor, decided_at=timezone.now(), **fields
        )
        == 1
    )


def sync_run_discard(*, run: SyncRun, actor: Actor) -> SyncRun:
    """Drop a held run's plan; the watermark moves past what it read."""
    if not _decide(run, actor, SyncRun.State.DISCARDED):
        raise ApplicationError("Only a held run can be discarded.")
    SyncChange.objects.filter(run=run, in_history=False).delete()
    run.refresh_from_db()
    locks.watermarks_move(run)
    return run


def approval_send(run_id: int) -> None:
    from ...tasks import apply_held_run

    SyncRun.objects.filter(pk=run_id).update(lease_until=timezone.now() + REQUEUE_AFTER * 5)
    queue_on_commit(apply_held_run, run_id)


def sync_run_approve(*, run: SyncRun, actor: Actor) -> SyncRun:
    """Approve the held run's plan: the row stays queued (approved, waiting to be applied) until
    the whole plan is applied in the background, under the lock. Should its task be lost or find
    the lock taken, the sweeper sends it again once the lock is free."""
    if not _decide(run, actor, SyncRun.State.QUEUED, error=""):
        raise ApplicationError("Only a held run can be approved.")
    approval_send(run.pk)
    run.refresh_from_db()
    return run


def held_again(run: SyncRun, reason: str, rows: models.QuerySet | None = None) -> bool:
    """The approval did not go through: the run is held again, for an admin to approve again
    (the changes not made yet are applied) or discard. ``rows``: only if it is still one of
    these. Returns whether it was."""
    error = (
        f"{reason} The changes not made yet are still held: approve again to apply them, or "
        "discard them."
    )
    rows = SyncRun.objects.all() if rows is None else rows
    held = rows.filter(pk=run.pk).update(
        state=SyncRun.State.HELD, error=error, finished_at=timezone.now(), lease_until=None
    )
    run.refresh_from_db()
    return held == 1


def _planning_failures(run: SyncRun) -> dict[int, str]:
    """The enrolments of the learners a held run skipped while it planned, with why."""
    errors = dict(
        SyncError.objects.filter(run=run, learner__isnull=False).values_list(
            "learner_id", "message"
        )
    )
    enrolments = Enrolment.objects.filter(learner_id__in=errors, is_current=True)
    return {pk: errors[learner_id] for pk, learner_id in enrolments.values_list("pk", "learner_id")}


def sync_run_apply_held(*, run_id: int) -> SyncRun | None:
    """Apply an approved held run's whole plan, under the lock. Raises ``SyncBusy`` while another
    run holds the lock (the run stays approved, waiting). Whatever stops the applying holds the
    run again, with the reason."""
    run = (
        SyncRun.objects.filter(pk=run_id, state=SyncRun.State.QUEUED)
        .exclude(trigger__in=(SyncRun.Trigger.LEARNER, SyncRun.Trigger.DRY_RUN))
        .first()
    )
    if run is None:
        return None
    if locks.acquire(run) is not None:
        # Still approved, waiting: the sweeper sends it again as soon as the lock is free.
        SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.QUEUED).update(lease_until=None)
        raise SyncBusy("A synchronisation is running; the approval waits for it.")
    try:
        # Under the lock, one worker turns the approval into applying; a second delivery of
        # the task finds it taken.
        if not SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.QUEUED).update(
            state=SyncRun.State.RUNNING, lease_until=None
        ):
            return None
        run.state = SyncRun.State.RUNNING
        context = None
        try:
            context = RunContext(run, client=client_from_settings(), scope=sync_scope())
            with locks.beating(run):
                apply_plan(context)
        except (SmartAssessorError, ApplicationError) as exc:
            error = f"Applying the approved changes stopped: {str(exc).rstrip('.')}."
        except locks.LockLost as exc:
            error = f"Applying the approved changes stopped: {failure_message(exc)}"
        except Exception as exc:
            logger.exception("Applying held run %s stopped on an unexpected error", run.pk)
            error = (
                "Applying the approved changes stopped on an unexpected error "
                f"({unexpected_error_text(exc)})."
            )
        else:
            error = ""
        if context is not None:
            context.save_counts()
        if error:
            held_again(run, error)
            return run
        assert context is not None
        remember_failures(run, _planning_failures(run) | context.failed, set())
        locks.watermarks_move(run)
        return finish_well(run)
    finally:
        locks.release(run)
