"""Synchronisation (F13–F22, F25): the daily run and Refresh with Smart Assessor.

Both do the same per-learner work through the same handlers, which take a batch of Smart
Assessor records and write the differences in bulk:

- progression (F15) from learner courses, reviews (F16) from sessions, risk (F19) from Smart
  Coach scores, learner details (F17) from learners, officer details (F18) from assessors,
  and qualifications added to the plan later (F20);
- the daily run reads the change feeds by keyset from the last good watermark, one page at a
  time, maps a page's SA ids to local rows with one query, and writes with bulk updates; a
  learner's refresh reads that learner's records instead;
- detail changes are stored first (``SyncChange`` with ``applied`` False) and applied after
  every feed has been read, so a daily run that would change too many learners' details stops
  as held before writing any of them (F25);
- a learner whose data Smart Assessor refuses or sends malformed is logged and skipped (the run
  ends partial, and the learner is re-read one by one in the next runs); an outage fails the
  run and leaves the watermark where it was, so the next run catches up (F22).
"""

import datetime as dt
import decimal
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeGuard

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import formats, timezone

from learners.models import (
    Learner,
    LearnerQualification,
    LearnerStatus,
    Officer,
    Review,
    ReviewType,
)
from picsweb.errors import ApplicationError
from picsweb.task_queue import queue_on_commit

from ... import mapping
from ...audit import Actor
from ...client import (
    AssessorInput,
    Forbidden,
    LearnerChanges,
    MalformedItem,
    NotFound,
    ProtocolError,
    SmartAssessorClient,
    SmartAssessorError,
    ValidationFailed,
)
from ...client import types as sa
from ...connection import client_from_settings
from ...errors import unexpected_error_text
from ...heartbeat import heartbeat
from ...models import (
    CourseEnrolment,
    DemographicsMode,
    Enrolment,
    IntegrationSettings,
    OfficerLink,
    ReviewLink,
    ReviewTypeMapping,
    SyncChange,
    SyncError,
    SyncLock,
    SyncRetry,
    SyncRun,
    SyncWatermark,
)
from .. import enrolment_steps

logger = logging.getLogger(__name__)

PAGE_SIZE = 500
WRITE_BATCH = 500
LOCK_NAME = "daily"
# A daily run (or an approval being applied) holds the lock, and its run the same lease, for
# LOCK_TTL; a heartbeat thread renews both every HEARTBEAT_SECONDS while it works, so a remote
# call of any length keeps them, and a killed worker's lease runs out within LOCK_TTL. The
# sweeper (every 30 s, CELERY_BEAT_SCHEDULE) then closes the run as failed and frees the lock:
# "run now" works again within about a minute and a half of the worker's death.
LOCK_TTL = dt.timedelta(seconds=60)
HEARTBEAT_SECONDS = 20.0
# The scope of the daily run: in learning, on a break, or ended less than this long ago.
ENDED_WITHIN = dt.timedelta(days=31)
SCOPE_STATUSES = (LearnerStatus.IN_LEARNING, LearnerStatus.BREAK_IN_LEARNING)
SYNCED_STATES = Enrolment.SYNCED_STATES
# Learner refreshes still queued after this long lost their task. Runs from before leases
# (none set) running this long without holding the lock died.
REQUEUE_AFTER = dt.timedelta(minutes=1)
STALE_AFTER = dt.timedelta(minutes=30)
# A learner's refresh is claimed for a lease renewed between its steps; one whose worker is gone
# is taken over when it runs out. Each claim is an attempt; after the last it fails.
LEARNER_REFRESH_ATTEMPTS = 3
LEARNER_LEASE = dt.timedelta(minutes=3)
RETRY_AFTER = dt.timedelta(seconds=30)
# A refresh that no worker finished in this long fails, whatever happened to its task.
GIVE_UP_AFTER = dt.timedelta(minutes=30)
# An approved held run waits for the lock at most this long, then is held again.
APPROVAL_WAITS = dt.timedelta(hours=2)

FEED_LEARNERS = "learners"
FEED_COURSES = "learner_courses"
FEED_SESSIONS = "sessions"
FEED_SMART_COACH = "smart_coach"
MIS_LEARNERS = "mis_learners"
# How a feed's record is named in a run's errors, given its keyset id.
FEED_RECORDS = {
    FEED_LEARNERS: "Learner {}",
    FEED_COURSES: "Learner course {}",
    FEED_SESSIONS: "Session {}",
    FEED_SMART_COACH: "Smart Coach score of learner {}",
}
FEED_NAMES = {
    FEED_LEARNERS: "learners",
    FEED_COURSES: "learner courses",
    FEED_SESSIONS: "sessions",
    FEED_SMART_COACH: "Smart Coach scores",
}
# How much of a malformed record's raw data a run's error shows.
RAW_SHOWN = 500


class _Malformed(Exception):
    """Smart Assessor sent a value the MIS cannot take."""


class _LockLost(Exception):
    pass


class SyncBusy(ApplicationError):
    """The daily lock is held by another run."""


# --- Scope ------------------------------------------------------------------------------------


def sync_scope() -> models.QuerySet[Enrolment]:
    """The current enrolments the daily run covers (F13)."""
    today = timezone.localdate()
    return Enrolment.objects.filter(
        is_current=True, state__in=SYNCED_STATES, sa_learner_id__gt=""
    ).filter(
        Q(learner__status__in=SCOPE_STATUSES) | Q(learner__actual_end_date__gt=today - ENDED_WITHIN)
    )


# --- Values -----------------------------------------------------------------------------------


def _display(record: models.Model, attr: str, value: Any) -> str:
    """A value as a person reads it: choice labels, UK dates, names of related records."""
    if value is None or value == "":
        return ""
    field = record._meta.get_field(attr)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return formats.date_format(value)
    if isinstance(value, decimal.Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _checked(record: models.Model, attr: str, value: Any) -> Any:
    """The value as the MIS field holds it, or ``_Malformed`` when the field would refuse it."""
    field = record._meta.get_field(attr)
    if field.is_relation:
        return value
    try:
        return field.clean(value, record)
    except ValidationError as exc:
        raise _Malformed(f"{field.verbose_name} {value!r}: {' '.join(exc.messages)}") from None


def _from_sa(sync_field: mapping.SyncField, item: Any, record: models.Model) -> Any:
    raw = getattr(item, sync_field.sa_attr)
    try:
        value = sync_field.from_sa(raw)
    except (KeyError, ValueError, TypeError, decimal.InvalidOperation):
        raise _Malformed(f"{sync_field.sa_field} {raw!r} is not a value the MIS knows") from None
    return _checked(record, sync_field.mis_attr, value)


# --- The work of one run --------------------------------------------------------------------


class _Work:
    """What one run knows while it works: settings, lookups, counts and failed learners."""

    def __init__(
        self,
        run: SyncRun,
        *,
        client: SmartAssessorClient | None,
        scope: models.QuerySet[Enrolment],
    ):
        self.run = run
        self.client = client
        self.scope = scope
        self.settings = IntegrationSettings.load()
        self.counts: Counter[str] = Counter()
        self.seen: set[int] = set()
        # The learners in scope, as distinct learners (a daily run's, counted when it starts):
        # every learner the run sees is one of them, so "seen" never exceeds "in scope".
        self.in_scope: set[int] | None = None
        self.failed: dict[int, str] = {}
        self.unmapped: set[str] = set()
        self.notes: list[str] = []
        self.review_types = {
            row.event_type_code: row.review_type_id for row in ReviewTypeMapping.objects.all()
        }
        self.review_type_names = dict(ReviewType.objects.values_list("pk", "name"))

    # Lookups, one query per batch

    def enrolments_for(self, sa_learner_ids: Iterable[str]) -> dict[str, Enrolment]:
        ids = set(sa_learner_ids)
        if not ids:
            return {}
        rows = self.scope.filter(sa_learner_id__in=ids).select_related("learner")
        return {row.sa_learner_id: row for row in rows}

    def usable(self, enrolment: Enrolment | None) -> TypeGuard[Enrolment]:
        """True for a learner in scope that has not failed in this run."""
        if enrolment is None or enrolment.pk in self.failed:
            return False
        self.seen.add(enrolment.learner_id)
        if self.in_scope is not None:
            # A learner who came into scope while the run works (enrolled meanwhile) is worked,
            # so the watermark does not move past their records, and counted in scope too.
            self.in_scope.add(enrolment.learner_id)
        return True

    def count_scope(self) -> int:
        self.in_scope = set(self.scope.values_list("learner_id", flat=True).distinct())
        return len(self.in_scope)

    def fail(self, enrolment: Enrolment, message: str) -> None:
        learner = enrolment.learner
        logger.info("Sync run %s skipped %s: %s", self.run.pk, learner.ident, message)
        self.failed[enrolment.pk] = message
        SyncError.objects.create(
            run=self.run, learner=learner, subject=str(learner)[:200], message=message
        )

    def fail_officer(self, officer: Officer, message: str) -> None:
        logger.info("Sync run %s skipped officer %s: %s", self.run.pk, officer.pk, message)
        self.counts["officer_errors"] += 1
        SyncError.objects.create(run=self.run, subject=f"Officer {officer}"[:200], message=message)

    def fail_record(self, subject: str, message: str) -> None:
        """An error about a record that names no learner the run can find."""
        logger.info("Sync run %s skipped %s: %s", self.run.pk, subject, message)
        self.counts["record_errors"] += 1
        SyncError.objects.create(run=self.run, subject=subject[:200], message=message)

    @property
    def error_count(self) -> int:
        return len(self.failed) + self.counts["officer_errors"] + self.counts["record_errors"]

    def change(
        self, instance: models.Model, attr: str, old: Any, new: Any, **kwargs: Any
    ) -> SyncChange:
        field = instance._meta.get_field(attr)
        return SyncChange(
            run=self.run,
            field=str(field.verbose_name).capitalize(),
            attr=attr,
            old_value=_display(instance, attr, old),
            new_value=_display(instance, attr, new),
            **kwargs,
        )

    def save_counts(self) -> None:
        fields = {name: self.counts[name] for name in SyncRun.COUNTS if name != "learners_seen"}
        fields["error_count"] = self.error_count
        fields["learners_seen"] = len(self.seen)
        if self.in_scope is not None:
            fields["learners_in_scope"] = len(self.in_scope)
        fields["unmapped_codes"] = sorted(self.unmapped)
        fields["notes"] = self.notes
        SyncRun.objects.filter(pk=self.run.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.run, name, value)


# --- Progression (F15) ---------------------------------------------------------------------


def _adopt_courses(
    work: _Work, items: list[sa.LearnerCourse], enrolments: dict[str, Enrolment]
) -> dict[str, CourseEnrolment]:
    """Course enrolments SA has that the MIS did not record (a learner linked by hand, F12):
    matched to the plan entry with the same course, and recorded."""
    by_learner = {enrolments[i.learner_smart_assessor_id].learner_id: None for i in items}
    plan = LearnerQualification.objects.filter(
        learner_id__in=by_learner,
        qualification__smartassessor_link__course_id__in={
            i.course_smart_assessor_id for i in items
        },
    ).select_related("qualification__smartassessor_link")
    entries = {(lq.learner_id, lq.qualification.smartassessor_link.course_id): lq for lq in plan}
    existing = {
        (row.enrolment_id, row.learner_qualification_id): row
        for row in CourseEnrolment.objects.filter(
            enrolment__in=[e.pk for e in enrolments.values()], learner_qualification__in=plan
        )
    }
    adopted, new, updated = {}, [], []
    for item in items:
        enrolment = enrolments[item.learner_smart_assessor_id]
        lq = entries.get((enrolment.learner_id, item.course_smart_assessor_id))
        if lq is None:
            continue
        row = existing.get((enrolment.pk, lq.pk))
        if row is not None and row.sa_learner_course_id:
            continue
        if row is None:
            row = CourseEnrolment(enrolment=enrolment, learner_qualification=lq)
            new.append(row)
        else:
            updated.append(row)
        row.state = CourseEnrolment.State.ENROLLED
        row.sa_learner_course_id = item.smart_assessor_id
        row.error = ""
        row.learner_qualification = lq
        adopted[item.smart_assessor_id] = row
    CourseEnrolment.objects.bulk_create(new, batch_size=WRITE_BATCH)
    CourseEnrolment.objects.bulk_update(
        updated, ["state", "sa_learner_course_id", "error"], batch_size=WRITE_BATCH
    )
    return adopted


def _progress(work: _Work, items: list[sa.LearnerCourse]) -> None:
    enrolments = work.enrolments_for(i.learner_smart_assessor_id for i in items)
    items = [i for i in items if i.learner_smart_assessor_id in enrolments]
    if not items:
        return
    courses = {
        row.sa_learner_course_id: row
        for row in CourseEnrolment.objects.filter(
            sa_learner_course_id__in=[i.smart_assessor_id for i in items],
            enrolment__in=[e.pk for e in enrolments.values()],
        ).select_related("learner_qualification__qualification")
    }
    unknown = [i for i in items if i.smart_assessor_id not in courses]
    if unknown:
        courses |= _adopt_courses(work, unknown, enrolments)
    changed, history = [], []
    for item in items:
        enrolment = enrolments[item.learner_smart_assessor_id]
        course = courses.get(item.smart_assessor_id)
        if course is None or not work.usable(enrolment):
            continue
        lq = course.learner_qualification
        try:
            values = {f.mis_attr: _from_sa(f, item, lq) for f in mapping.PROGRESS_FIELDS}
        except _Malformed as exc:
            work.fail(enrolment, f"{lq.qualification.reference}: Smart Assessor sent {exc}.")
            continue
        record = f"{lq.qualification.reference} {lq.qualification.title}"
        rows = [
            work.change(
                lq,
                attr,
                getattr(lq, attr),
                value,
                learner_id=enrolment.learner_id,
                target=SyncChange.Target.QUALIFICATION,
                record=record[:300],
            )
            for attr, value in values.items()
            if getattr(lq, attr) != value
        ]
        if rows:
            for attr, value in values.items():
                setattr(lq, attr, value)
            changed.append(lq)
            history += rows
    LearnerQualification.objects.bulk_update(
        changed, [f.mis_attr for f in mapping.PROGRESS_FIELDS], batch_size=WRITE_BATCH
    )
    SyncChange.objects.bulk_create(history, batch_size=WRITE_BATCH)
    work.counts["qualifications_updated"] += len(changed)


# --- Reviews (F16) --------------------------------------------------------------------------


def _review_values(work: _Work, item: sa.Session, review: Review, officers: dict) -> dict:
    values = {}
    for sync_field in mapping.REVIEW_FIELDS:
        if sync_field.mis_attr == "review_type":
            values["review_type_id"] = work.review_types[item.event_type]
        elif sync_field.mis_attr == "reviewer":
            values["reviewer_id"] = officers.get(item.assessor_smart_assessor_id)
        else:
            values[sync_field.mis_attr] = _from_sa(sync_field, item, review)
    return values


def _review_label(work: _Work, review: Review) -> str:
    kind = work.review_type_names.get(review.review_type_id, "Review")
    return f"{kind}, {_display(review, 'proposed_at', review.proposed_at)}"


def _reviews(work: _Work, items: list[sa.Session]) -> None:
    enrolments = work.enrolments_for(i.learner_smart_assessor_id for i in items)
    items = [i for i in items if i.learner_smart_assessor_id in enrolments]
    if not items:
        return
    linked = {
        link.session_id: link.review
        for link in ReviewLink.objects.filter(
            session_id__in=[i.smart_assessor_id for i in items]
        ).select_related("review")
    }
    officer_rows = OfficerLink.objects.filter(
        assessor_id__in={i.assessor_smart_assessor_id for i in items} - {None}
    ).values_list("assessor_id", "officer_id", "officer__forenames", "officer__surname")
    officers = {assessor_id: officer_id for assessor_id, officer_id, *_ in officer_rows}
    names = {
        ("reviewer", officer_id): f"{forenames} {surname}"
        for _, officer_id, forenames, surname in officer_rows
    } | {("review_type", pk): name for pk, name in work.review_type_names.items()}
    created: list[Review]
    created_sessions: list[str]
    created, created_sessions, updated, history = [], [], [], []
    for item in items:
        enrolment = enrolments[item.learner_smart_assessor_id]
        if not work.usable(enrolment):
            continue
        if item.event_type not in work.review_types:
            work.unmapped.add(item.event_type)
            work.counts["unmapped_event_types"] += 1
            continue
        if work.review_types[item.event_type] is None:
            continue  # mapped to "ignore" on purpose
        review = linked.get(item.smart_assessor_id) or Review(learner_id=enrolment.learner_id)
        try:
            values = _review_values(work, item, review, officers)
        except _Malformed as exc:
            work.fail(enrolment, f"Session {item.smart_assessor_id}: Smart Assessor sent {exc}.")
            continue
        if review.pk is None:
            for attr, value in values.items():
                setattr(review, attr, value)
            created.append(review)
            created_sessions.append(item.smart_assessor_id)
            continue
        rows = []
        for attr, value in values.items():
            old = getattr(review, attr)
            if old == value:
                continue
            name = attr.removesuffix("_id")
            row = work.change(
                review,
                name,
                old,
                value,
                learner_id=enrolment.learner_id,
                target=SyncChange.Target.REVIEW,
                record=_review_label(work, review),
            )
            if name != attr:
                # A related record: its name, not its id (a reviewer not linked here: blank).
                row.old_value = names.get((name, old), "")
                row.new_value = names.get((name, value), "")
            rows.append(row)
        if rows:
            for attr, value in values.items():
                setattr(review, attr, value)
            updated.append(review)
            history += rows
    Review.objects.bulk_create(created, batch_size=WRITE_BATCH)
    ReviewLink.objects.bulk_create(
        [
            ReviewLink(review=review, session_id=session_id)
            for review, session_id in zip(created, created_sessions, strict=True)
        ],
        batch_size=WRITE_BATCH,
    )
    Review.objects.bulk_update(
        updated,
        ["review_type", "proposed_at", "actual_at", "reviewer", "attendance", "notes"],
        batch_size=WRITE_BATCH,
    )
    history += [
        SyncChange(
            run=work.run,
            learner_id=review.learner_id,
            target=SyncChange.Target.REVIEW,
            record=_review_label(work, review),
            field="Review",
            attr="review",
            new_value="Created from Smart Assessor",
        )
        for review in created
    ]
    SyncChange.objects.bulk_create(history, batch_size=WRITE_BATCH)
    work.counts["reviews_created"] += len(created)
    work.counts["reviews_updated"] += len(updated)


# --- Risk (F19) -----------------------------------------------------------------------------


def _risk(work: _Work, items: list[sa.SmartCoachScore]) -> None:
    enrolments = work.enrolments_for(i.learner_smart_assessor_id for i in items)
    (risk_field,) = mapping.RISK_FIELDS
    changed, history = [], []
    for item in items:
        enrolment = enrolments.get(item.learner_smart_assessor_id)
        if not work.usable(enrolment):
            continue
        learner = enrolment.learner
        band = risk_field.from_sa(item.band)
        if band is None:
            work.fail(enrolment, f"Smart Coach sent the band {item.band!r}, which is not known.")
            continue
        if band != learner.risk_band:
            history.append(
                work.change(
                    learner,
                    "risk_band",
                    learner.risk_band,
                    band,
                    learner=learner,
                    target=SyncChange.Target.RISK,
                    record="Risk",
                )
            )
            learner.risk_band = band
            changed.append(learner)
    Learner.objects.bulk_update(changed, ["risk_band"], batch_size=WRITE_BATCH)
    SyncChange.objects.bulk_create(history, batch_size=WRITE_BATCH)
    work.counts["risk_updated"] += len(changed)


# --- Learner and officer details (F17, F18): planned first, applied after -------------------


def _detail_fields(
    fields: tuple[mapping.SyncField, ...], mode: str, *, gender: bool
) -> list[mapping.SyncField]:
    if mode == DemographicsMode.NONE:
        return []
    return [
        f
        for f in fields
        if (gender or f.setting != mapping.GENDER_SETTING)
        and (f.direction != mapping.TO_SA or mode == DemographicsMode.PUSH)
    ]


def _plan_details(
    work: _Work,
    instance: models.Model,
    remote: Any,
    fields: list[mapping.SyncField],
    mode: str,
    **change_kwargs: Any,
) -> list[SyncChange]:
    """The detail changes that make MIS and SA agree, in the mode's direction (not applied)."""
    rows = []
    for sync_field in fields:
        mis_value = getattr(instance, sync_field.mis_attr)
        sa_value = getattr(remote, sync_field.sa_attr)
        if mode == DemographicsMode.PUSH:
            if sync_field.to_sa(mis_value) == sa_value:
                continue
            row = work.change(instance, sync_field.mis_attr, None, mis_value, **change_kwargs)
            row.direction = SyncChange.Direction.PUSH
            row.old_value = "" if sa_value is None else str(sa_value)
            row.value = _json(mis_value)
        else:
            value = _from_sa(sync_field, remote, instance)
            if value == mis_value:
                continue
            row = work.change(instance, sync_field.mis_attr, mis_value, value, **change_kwargs)
            row.direction = SyncChange.Direction.PULL
            row.value = _json(value)
        row.applied = False
        rows.append(row)
    return rows


def _plan_learner_details(work: _Work, pairs: list[tuple[Enrolment, sa.Learner]]) -> set[int]:
    """Plans the learners' detail changes; returns the ids of the learners compared."""
    settings = work.settings
    mode = settings.learner_demographics_mode
    fields = _detail_fields(
        mapping.LEARNER_DETAIL_FIELDS, mode, gender=settings.update_learner_gender
    )
    compared, planned = set(), []
    for enrolment, remote in pairs:
        if not fields or not work.usable(enrolment):
            continue
        learner = enrolment.learner
        compared.add(learner.pk)
        try:
            planned += _plan_details(
                work,
                learner,
                remote,
                fields,
                mode,
                learner=learner,
                target=SyncChange.Target.LEARNER,
                record="Learner details",
            )
        except _Malformed as exc:
            work.fail(enrolment, f"Smart Assessor sent {exc}.")
    SyncChange.objects.bulk_create(planned, batch_size=WRITE_BATCH)
    return compared


def _plan_officer_details(work: _Work, links: Iterable[OfficerLink]) -> None:
    settings = work.settings
    mode = settings.officer_demographics_mode
    fields = _detail_fields(mapping.OFFICER_DETAIL_FIELDS, mode, gender=False)
    if not fields:
        return
    planned = []
    for link in links:
        officer = link.officer
        try:
            remote = work.client.assessor_get(assessor_id=link.assessor_id)
            planned += _plan_details(
                work,
                officer,
                remote,
                fields,
                mode,
                officer=officer,
                target=SyncChange.Target.OFFICER,
                record=f"Officer {officer}"[:300],
            )
        except NotFound:
            work.fail_officer(
                officer, f"Smart Assessor has no assessor {link.assessor_id}: check the link."
            )
        except _Malformed as exc:
            work.fail_officer(officer, f"Smart Assessor sent {exc}.")
    SyncChange.objects.bulk_create(planned, batch_size=WRITE_BATCH)


def _field_value(model: type[models.Model], attr: str, value: Any) -> Any:
    return model._meta.get_field(attr).to_python(value)


def _planned(run: SyncRun, target: str) -> Iterator[tuple[int, list[SyncChange]]]:
    """The run's unapplied changes of one target, grouped by record, a batch at a time."""
    key = "learner_id" if target == SyncChange.Target.LEARNER else "officer_id"
    rows = (
        SyncChange.objects.filter(run=run, applied=False, target=target)
        .order_by(key, "id")
        .iterator(chunk_size=WRITE_BATCH)
    )
    group: list[SyncChange]
    current, group = None, []
    for row in rows:
        if getattr(row, key) != current and group:
            yield current, group
            group = []
        current = getattr(row, key)
        group.append(row)
    if group:
        yield current, group


def _batched(groups: Iterator, size: int) -> Iterator[list]:
    batch = []
    for group in groups:
        batch.append(group)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _mark_applied(rows: list[SyncChange]) -> None:
    SyncChange.objects.filter(pk__in=[row.pk for row in rows]).update(
        applied=True, at=timezone.now()
    )


def _apply_learner_details(work: _Work) -> None:
    fields = {f.mis_attr: f for f in mapping.LEARNER_DETAIL_FIELDS}
    for batch in _batched(_planned(work.run, SyncChange.Target.LEARNER), WRITE_BATCH):
        enrolments = {
            e.learner_id: e
            for e in Enrolment.objects.filter(
                learner_id__in=[learner_id for learner_id, _ in batch], is_current=True
            ).select_related("learner")
        }
        pulled, applied, attrs = [], [], set()
        for learner_id, rows in batch:
            enrolment = enrolments.get(learner_id)
            if enrolment is None or enrolment.pk in work.failed:
                continue
            learner = enrolment.learner
            pull = [r for r in rows if r.direction == SyncChange.Direction.PULL]
            push = [r for r in rows if r.direction == SyncChange.Direction.PUSH]
            for row in pull:
                setattr(learner, row.attr, _field_value(Learner, row.attr, row.value))
                attrs.add(row.attr)
            if pull:
                pulled.append(learner)
                applied += pull
            if push:
                changes = LearnerChanges(
                    **{
                        fields[r.attr].sa_attr: fields[r.attr].to_sa(
                            _field_value(Learner, r.attr, r.value)
                        )
                        for r in push
                    }
                )
                try:
                    work.client.learner_update(learner_id=enrolment.sa_learner_id, changes=changes)
                except (ValidationFailed, NotFound) as exc:
                    work.fail(enrolment, _refusal(exc, "the learner's details"))
                    continue
                work.counts["details_pushed"] += 1
                _mark_applied(push)
        if pulled:
            Learner.objects.bulk_update(pulled, sorted(attrs), batch_size=WRITE_BATCH)
        _mark_applied(applied)
        work.counts["details_pulled"] += len(pulled)
        _keep_alive(work.run)


def _apply_officer_details(work: _Work) -> None:
    for officer_id, rows in _planned(work.run, SyncChange.Target.OFFICER):
        officer = Officer.objects.select_related("smartassessor_link").get(pk=officer_id)
        pull = [r for r in rows if r.direction == SyncChange.Direction.PULL]
        push = [r for r in rows if r.direction == SyncChange.Direction.PUSH]
        for row in pull:
            setattr(officer, row.attr, _field_value(Officer, row.attr, row.value))
        if pull:
            officer.save(update_fields=[r.attr for r in pull])
        if push:
            link = officer.smartassessor_link
            try:
                remote = work.client.assessor_get(assessor_id=link.assessor_id)
                body = {
                    f.sa_attr: f.to_sa(getattr(officer, f.mis_attr))
                    for f in mapping.OFFICER_DETAIL_FIELDS
                }
                work.client.assessor_update(
                    assessor_id=link.assessor_id,
                    assessor=AssessorInput(
                        mis_assessor_id=remote.mis_assessor_id or str(officer.pk), **body
                    ),
                )
            except (ValidationFailed, NotFound) as exc:
                work.fail_officer(officer, _refusal(exc, "the officer's details"))
                continue
        _mark_applied(rows)
        work.counts["officers_updated"] += 1
        _keep_alive(work.run)


def _apply_details(work: _Work) -> None:
    _apply_learner_details(work)
    _apply_officer_details(work)


def _refusal(exc: SmartAssessorError, what: str) -> str:
    return f"Smart Assessor refused {what}: " + ("; ".join(exc.messages) or str(exc))


# --- Qualifications added later (F20) -------------------------------------------------------


def _missing_courses(scope: models.QuerySet[Enrolment]) -> models.QuerySet[Enrolment]:
    """Enrolments with a qualification SA offers and no course enrolment for it yet."""
    not_enrolled = LearnerQualification.objects.filter(
        learner=OuterRef("learner"), qualification__smartassessor_link__isnull=False
    ).exclude(
        Exists(
            CourseEnrolment.objects.filter(
                enrolment=OuterRef(OuterRef("pk")), learner_qualification=OuterRef("pk")
            )
        )
    )
    return scope.filter(Exists(not_enrolled)).select_related("learner")


def _add_courses(work: _Work, enrolment: Enrolment) -> None:
    if not work.usable(enrolment):
        return
    before = set(
        enrolment.courses.filter(state=CourseEnrolment.State.ENROLLED).values_list("pk", flat=True)
    )
    refused_before = enrolment.courses.filter(state=CourseEnrolment.State.REFUSED).count()
    refused = enrolment_steps.enrolment_courses_add(client=work.client, enrolment=enrolment)
    added = list(
        enrolment.courses.filter(state=CourseEnrolment.State.ENROLLED)
        .exclude(pk__in=before)
        .select_related("learner_qualification__qualification")
    )
    SyncChange.objects.bulk_create(
        SyncChange(
            run=work.run,
            learner_id=enrolment.learner_id,
            target=SyncChange.Target.QUALIFICATION,
            record=f"{c.learner_qualification.qualification.reference} "
            f"{c.learner_qualification.qualification.title}"[:300],
            field="Smart Assessor",
            attr="smartassessor_courses",
            new_value="Enrolled in Smart Assessor",
        )
        for c in added
    )
    work.counts["qualifications_enrolled"] += len(added)
    if refused > refused_before:
        errors = "; ".join(
            enrolment.courses.filter(state=CourseEnrolment.State.REFUSED).values_list(
                "error", flat=True
            )
        )
        work.fail(enrolment, f"Smart Assessor refused a qualification added later: {errors}")


# --- One learner, read record by record (F14, and re-reads after a failure) -----------------


def _refresh_one(work: _Work, enrolment: Enrolment) -> None:
    client = work.client
    learner_id = enrolment.sa_learner_id
    try:
        remote = client.learner_get(learner_id=learner_id)
    except NotFound:
        work.fail(
            enrolment,
            f"Smart Assessor has no learner with ID {learner_id}: ask support to check the link.",
        )
        return
    courses = list(client.learner_course_list(learner_id=learner_id, page_size=PAGE_SIZE))
    sessions = list(client.learner_session_list(learner_id=learner_id, page_size=PAGE_SIZE))
    scores = []
    if work.settings.update_risk_from_smart_coach:
        try:
            scores.append(client.smart_coach_get(learner_id=learner_id))
        except NotFound:
            pass  # no score yet: the risk band stays as it is
        except Forbidden:
            work.notes.append("Smart Coach is not licensed: risk was not updated.")
    _write(work, _progress, courses)
    _write(work, _reviews, sessions)
    _write(work, _risk, scores)
    _plan_learner_details(work, [(enrolment, remote)])
    _add_courses(work, enrolment)


def _write(work: _Work, handler: Callable[[_Work, list[Any]], None], items: list[Any]) -> None:
    """One batch's writes in one transaction; a clash with a concurrent refresh (a review
    created by both) is settled by the database, and the batch is read again."""
    if not items:
        return
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                handler(work, items)
            return
        except IntegrityError:
            if attempt == 2:
                raise


# --- Locks and watermarks -------------------------------------------------------------------


def _lock_acquire(run: SyncRun) -> SyncLock | None:
    """Claims the daily lock for the run; returns the lock's holder otherwise (None: ours)."""
    SyncLock.objects.get_or_create(name=LOCK_NAME)
    now = timezone.now()
    claimed = (
        SyncLock.objects.filter(name=LOCK_NAME)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__lt=now))
        .update(run=run, expires_at=now + LOCK_TTL)
    )
    if claimed == 1:
        SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
            lease_until=now + LOCK_TTL
        )
        return None
    return SyncLock.objects.select_related("run").get(name=LOCK_NAME)


def _lock_renew(run: SyncRun) -> None:
    """Renews the lock and the run's lease, only while the run still holds the lock and is
    running: one the sweeper closed as failed stops at its next renewal."""
    now = timezone.now()
    renewed = SyncLock.objects.filter(
        name=LOCK_NAME, run=run, run__state=SyncRun.State.RUNNING
    ).update(expires_at=now + LOCK_TTL)
    if renewed != 1:
        raise _LockLost
    SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
        lease_until=now + LOCK_TTL
    )


def _lock_release(run: SyncRun) -> None:
    SyncLock.objects.filter(name=LOCK_NAME, run=run).update(expires_at=None)


def _lock_beat(run: SyncRun) -> bool:
    """One heartbeat; False once the lock is lost. NOWAIT: a lock row held by another
    transaction is left for the next beat rather than blocking the heartbeat."""
    try:
        with transaction.atomic():
            if list(
                SyncLock.objects.filter(name=LOCK_NAME, run=run)
                .select_for_update(nowait=True)
                .values_list("pk")
            ):
                _lock_renew(run)
                return True
    except _LockLost:
        pass
    except DatabaseError:
        logger.info("Sync run %s: lock not renewed this time", run.pk, exc_info=True)
        return True
    logger.warning("Sync run %s lost its lock; its next step stops it", run.pk)
    return False


def _heartbeat(run: SyncRun) -> AbstractContextManager[None]:
    """Renews the lock and the run's lease every HEARTBEAT_SECONDS while the block runs, in a
    thread of its own, so that a long remote call never outlives the lease (the renewals
    between pages cannot: one Smart Assessor call may last up to the client's deadline)."""
    return heartbeat(
        renew=lambda: _lock_beat(run), every=HEARTBEAT_SECONDS, name=f"sync-run-{run.pk}-lease"
    )


def _watermark(feed: str) -> sa.FeedPosition | None:
    row = SyncWatermark.objects.filter(feed=feed).first()
    if row is None:
        return None
    return sa.FeedPosition(modified_at=row.modified_at, smart_assessor_id=row.sa_id)


def _watermarks_move(run: SyncRun) -> None:
    """The run's positions become the watermarks, never moving one back."""
    for feed, (modified_at, sa_id) in run.positions.items():
        moment = dt.datetime.fromisoformat(modified_at)
        row = SyncWatermark.objects.filter(feed=feed).first()
        if row is not None and (row.modified_at, row.sa_id) >= (moment, sa_id):
            continue
        SyncWatermark.objects.update_or_create(
            feed=feed, defaults={"modified_at": moment, "sa_id": sa_id, "run": run}
        )


def _pages(feed: Iterable[Any], size: int) -> Iterator[list[Any]]:
    page = []
    for item in feed:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def _skip_malformed(work: _Work, name: str, page: list) -> list:
    """The page without the records Smart Assessor sent malformed, each failing its learner
    (re-read one by one in the next runs), or logged against the run when it names no learner.
    A malformed record of a learner outside the scope is ignored, as a good one would be."""
    malformed = [item for item in page if isinstance(item, MalformedItem)]
    if not malformed:
        return page
    enrolments = work.enrolments_for(item.learner_id for item in malformed if item.learner_id)
    for item in malformed:
        shown = item.smart_assessor_id if item.smart_assessor_id is not None else item.sent_id
        subject = FEED_RECORDS[name].format(shown if shown is not None else "without an id")
        message = (
            f"{subject}: Smart Assessor sent it malformed ({item.error}); it was skipped. "
            f"Smart Assessor sent: {_cut(json.dumps(item.raw, default=str))}"
        )
        if item.learner_id is None:
            work.fail_record(subject, message)
            continue
        enrolment = enrolments.get(item.learner_id)
        if enrolment is None:
            logger.info("Sync run %s ignored, out of scope: %s", work.run.pk, message)
        elif work.usable(enrolment):
            work.fail(enrolment, message)
    return [item for item in page if not isinstance(item, MalformedItem)]


def _cut(text: str) -> str:
    return text if len(text) <= RAW_SHOWN else text[: RAW_SHOWN - 1] + "…"


def _read_feed(
    work: _Work,
    name: str,
    open_feed: Callable[..., Any],
    handler: Callable[[_Work, list[Any]], None],
) -> None:
    """Reads a feed from its watermark page by page, noting how far it got after each page.

    A feed whose answers break the contract stops there, as an error of the run: the other
    feeds are still read, and this one is read again from where it got to in the next run."""
    try:
        _read_feed_pages(work, name, open_feed, handler)
    except ProtocolError as exc:
        logger.warning("Sync run %s: the %s feed stopped: %s", work.run.pk, name, exc)
        work.fail_record(
            f"The {FEED_NAMES[name]} feed",
            f"Reading Smart Assessor's {FEED_NAMES[name]} stopped: {exc}. The changes after "
            "the last page read are read again in the next run.",
        )
        work.save_counts()


def _read_feed_pages(
    work: _Work,
    name: str,
    open_feed: Callable[..., Any],
    handler: Callable[[_Work, list[Any]], None],
) -> None:
    feed = open_feed(since=_watermark(name), page_size=PAGE_SIZE)
    for page in _pages(feed, PAGE_SIZE):
        _write(work, handler, _skip_malformed(work, name, page))
        position = feed.position
        if position is not None:  # None while nothing the feed sent could be placed
            work.run.positions[name] = [
                position.modified_at.isoformat(),
                position.smart_assessor_id,
            ]
            SyncRun.objects.filter(pk=work.run.pk).update(positions=work.run.positions)
        work.save_counts()
        _lock_renew(work.run)


# --- The daily run (F13, F22, F25) ----------------------------------------------------------


def _daily_work(work: _Work) -> None:
    client = work.client
    settings = work.settings
    run = work.run
    mis_since = SyncWatermark.objects.filter(feed=MIS_LEARNERS).first()

    # Learners that failed before are re-read one by one until they succeed.
    for retry in SyncRetry.objects.select_related("enrolment__learner").iterator(chunk_size=100):
        if not work.scope.filter(pk=retry.enrolment_id).exists():
            retry.delete()
            continue
        try:
            _refresh_one(work, retry.enrolment)
        except ProtocolError as exc:
            # This learner's own records are still malformed: it waits for the next run.
            work.fail(
                retry.enrolment, f"Smart Assessor sent this learner's records malformed: {exc}"
            )
        _lock_renew(run)

    _read_feed(work, FEED_COURSES, client.learner_course_feed, _progress)
    _read_feed(work, FEED_SESSIONS, client.session_feed, _reviews)
    if settings.update_risk_from_smart_coach:
        try:
            _read_feed(work, FEED_SMART_COACH, client.smart_coach_feed, _risk)
        except Forbidden:
            work.notes.append("Smart Coach is not licensed: risk was not updated.")

    if settings.learner_demographics_mode != DemographicsMode.NONE:
        compared: set[int] = set()

        def compare(work: _Work, page: list[sa.Learner]) -> None:
            enrolments = work.enrolments_for(item.smart_assessor_id for item in page)
            compared.update(
                _plan_learner_details(
                    work,
                    [
                        (enrolments[item.smart_assessor_id], item)
                        for item in page
                        if item.smart_assessor_id in enrolments
                    ],
                )
            )

        _read_feed(work, FEED_LEARNERS, client.learner_feed, compare)
        if settings.learner_demographics_mode == DemographicsMode.PUSH:
            # Learners edited in the MIS since the last good run: SA's feed does not hold them.
            edited = work.scope.select_related("learner").order_by("pk")
            if mis_since is not None:
                edited = edited.filter(learner__updated_at__gte=mis_since.modified_at)
            for enrolment in edited.iterator(chunk_size=100):
                if enrolment.learner_id in compared or enrolment.pk in work.failed:
                    continue
                try:
                    remote = client.learner_get(learner_id=enrolment.sa_learner_id)
                except NotFound:
                    work.fail(
                        enrolment, f"Smart Assessor has no learner {enrolment.sa_learner_id}."
                    )
                    continue
                _plan_learner_details(work, [(enrolment, remote)])
                _lock_renew(run)

    _plan_officer_details(
        work, OfficerLink.objects.select_related("officer").order_by("pk").iterator(chunk_size=100)
    )

    for enrolment in _missing_courses(work.scope).iterator(chunk_size=100):
        _add_courses(work, enrolment)
        _lock_renew(run)


def _changed_subjects(run: SyncRun) -> int:
    planned = SyncChange.objects.filter(run=run, applied=False)
    learners = planned.exclude(learner=None).values("learner").distinct().count()
    officers = planned.exclude(officer=None).values("officer").distinct().count()
    return learners + officers


def _remember_failures(work: _Work) -> None:
    for enrolment_id, message in work.failed.items():
        retry, created = SyncRetry.objects.get_or_create(
            enrolment_id=enrolment_id, defaults={"last_error": message}
        )
        if not created:
            retry.attempts += 1
            retry.last_error = message
            retry.save(update_fields=["attempts", "last_error"])
    SyncRetry.objects.filter(enrolment__learner_id__in=work.seen).exclude(
        enrolment_id__in=work.failed
    ).delete()


def _finish(run: SyncRun, state: str, error: str = "") -> SyncRun:
    run.state = state
    run.error = error
    run.finished_at = timezone.now()
    run.lease_until = None
    SyncRun.objects.filter(pk=run.pk).update(
        state=state, error=error, finished_at=run.finished_at, lease_until=None
    )
    return run


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, _LockLost):
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


def sync_run_daily(*, trigger: str = SyncRun.Trigger.DAILY, actor: Actor = None) -> SyncRun:
    """One daily run over every learner in scope, in the foreground (F13)."""
    run = SyncRun.objects.create(
        trigger=trigger,
        state=SyncRun.State.RUNNING,
        requested_by=actor if actor and actor.is_authenticated else None,
        started_at=timezone.now(),
        lease_until=timezone.now() + LOCK_TTL,
    )
    holder = _lock_acquire(run)
    if holder is not None:
        started = holder.run.started_at if holder.run else None
        when = f", started {_display(holder.run, 'started_at', started)}" if started else ""
        return _finish(
            run,
            SyncRun.State.SKIPPED,
            f"Another synchronisation (run {holder.run_id}{when}) is still running; "
            "this one did not start.",
        )
    try:
        with _heartbeat(run):
            return _run_daily(run)
    finally:
        _lock_release(run)


def _run_daily(run: SyncRun) -> SyncRun:
    try:
        client = client_from_settings()
        work = _Work(run, client=client, scope=sync_scope())
        run.learners_in_scope = work.count_scope()
        SyncRun.objects.filter(pk=run.pk).update(learners_in_scope=run.learners_in_scope)
        _daily_work(work)
        work.save_counts()
        run.positions[MIS_LEARNERS] = [run.started_at.isoformat(), ""]
        SyncRun.objects.filter(pk=run.pk).update(positions=run.positions)
        changed = _changed_subjects(run)
        limit = work.settings.safety_hold_percent * run.learners_in_scope / 100
        if changed and changed > limit:
            _remember_failures(work)
            run.notes = [
                *work.notes,
                f"{changed} learners and officers would have their details changed, more than "
                f"{work.settings.safety_hold_percent} % of the {run.learners_in_scope} learners "
                "in scope: an Integration admin must approve or discard these changes.",
            ]
            SyncRun.objects.filter(pk=run.pk).update(notes=run.notes)
            return _finish(run, SyncRun.State.HELD)
        _apply_details(work)
        work.save_counts()
        _remember_failures(work)
        _watermarks_move(run)
    except (SmartAssessorError, ApplicationError, _LockLost) as exc:
        logger.warning("Sync run %s failed: %s", run.pk, exc)
        return _finish(run, SyncRun.State.FAILED, _failure_message(exc))
    except Exception as exc:
        # Anything else (a bug, a database error, a time limit) ends the run Failed too, with
        # the traceback logged once here and not raised again for the worker to log.
        logger.exception("Sync run %s stopped on an unexpected error", run.pk)
        return _finish(run, SyncRun.State.FAILED, _failure_message(exc))
    return _finish(run, SyncRun.State.PARTIAL if run.error_count else SyncRun.State.SUCCEEDED)


# --- A held run: approve or discard (F25) ---------------------------------------------------


def _decide(run: SyncRun, actor: Actor, state: str, **fields: Any) -> bool:
    return (
        SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.HELD).update(
            state=state, decided_by=actor, decided_at=timezone.now(), **fields
        )
        == 1
    )


def sync_run_discard(*, run: SyncRun, actor: Actor) -> SyncRun:
    """Drop a held run's detail changes; the watermark moves past what it read."""
    if not _decide(run, actor, SyncRun.State.DISCARDED):
        raise ApplicationError("Only a held run can be discarded.")
    run.refresh_from_db()
    _watermarks_move(run)
    return run


def _approval_send(run_id: int) -> None:
    from ...tasks import apply_held_run

    SyncRun.objects.filter(pk=run_id).update(lease_until=timezone.now() + REQUEUE_AFTER * 5)
    queue_on_commit(apply_held_run, run_id)


def sync_run_approve(*, run: SyncRun, actor: Actor) -> SyncRun:
    """Approve the held run's detail changes: the row stays queued (approved, waiting to be
    applied) until they are applied in the background, under the daily lock. Should its task
    be lost or find the lock taken, the sweeper sends it again once the lock is free."""
    if not _decide(run, actor, SyncRun.State.QUEUED, error=""):
        raise ApplicationError("Only a held run can be approved.")
    _approval_send(run.pk)
    run.refresh_from_db()
    return run


def _held_again(run: SyncRun, reason: str, rows: models.QuerySet | None = None) -> bool:
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


def sync_run_apply_held(*, run_id: int) -> SyncRun | None:
    """Apply an approved held run's detail changes, under the daily lock. Raises ``SyncBusy``
    while another run holds the lock (the run stays approved, waiting). Whatever stops the
    applying holds the run again, with the reason."""
    run = (
        SyncRun.objects.filter(pk=run_id, state=SyncRun.State.QUEUED)
        .exclude(trigger=SyncRun.Trigger.LEARNER)
        .first()
    )
    if run is None:
        return None
    if _lock_acquire(run) is not None:
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
        work = None
        try:
            work = _Work(run, client=None, scope=sync_scope())
            work.client = client_from_settings()
            with _heartbeat(run):
                _apply_details(work)
        except (SmartAssessorError, ApplicationError) as exc:
            error = f"Applying the approved changes stopped: {str(exc).rstrip('.')}."
        except _LockLost as exc:
            error = f"Applying the approved changes stopped: {_failure_message(exc)}"
        except Exception as exc:
            logger.exception("Applying held run %s stopped on an unexpected error", run.pk)
            error = (
                "Applying the approved changes stopped on an unexpected error "
                f"({unexpected_error_text(exc)})."
            )
        else:
            error = ""
        if work is not None:
            # Added to what the run counted before it was held.
            SyncRun.objects.filter(pk=run.pk).update(
                **{
                    name: F(name) + work.counts[name]
                    for name in ("details_pushed", "details_pulled", "officers_updated")
                },
                error_count=F("error_count") + work.error_count,
            )
        run.refresh_from_db()
        if error:
            _held_again(run, error)
            return run
        _remember_failures(work)
        _watermarks_move(run)
        return _finish(run, SyncRun.State.PARTIAL if run.error_count else SyncRun.State.SUCCEEDED)
    finally:
        _lock_release(run)


# --- Refresh with Smart Assessor (F14) ------------------------------------------------------


def _current_enrolment(learner: Learner) -> Enrolment:
    enrolment = (
        Enrolment.objects.filter(learner=learner, is_current=True).select_related("learner").first()
    )
    if enrolment is None or enrolment.state not in SYNCED_STATES or not enrolment.sa_learner_id:
        raise ApplicationError(
            f"{learner.full_name} is not enrolled in Smart Assessor yet, so there is nothing to "
            "refresh."
        )
    return enrolment


def learner_refresh_request(*, learner: Learner, actor: Actor) -> tuple[SyncRun, bool]:
    """Store a refresh of one learner and queue it; a refresh already waiting is returned."""
    from ...tasks import refresh_learner

    _current_enrolment(learner)
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


def _refresh_claim(run_id: int) -> bool:
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
            lease_until=now + LEARNER_LEASE,
            attempts=F("attempts") + 1,
        )
        == 1
    )


def _keep_alive(run: SyncRun) -> None:
    """Between steps: a learner's refresh renews its lease; any other run the daily lock."""
    if run.trigger == SyncRun.Trigger.LEARNER:
        SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.RUNNING).update(
            lease_until=timezone.now() + LEARNER_LEASE
        )
    else:
        _lock_renew(run)


def _refresh_stopped(run: SyncRun, exc: Exception, *, retry: bool) -> SyncRun:
    """An attempt that stopped on an unexpected error: queued again for the sweeper to send
    after a short wait, or failed after the last attempt."""
    attempts = SyncRun.objects.values_list("attempts", flat=True).get(pk=run.pk)
    reason = f"The refresh stopped on an unexpected error ({unexpected_error_text(exc)})."
    if not retry or attempts >= LEARNER_REFRESH_ATTEMPTS:
        return _finish(
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


def learner_refresh_run(*, run_id: int, retry: bool = True) -> SyncRun | None:
    """The work of one refresh, by whichever worker claims the row. An unexpected error is
    stored on the row and, unless ``retry`` is False or it was the last attempt, the refresh
    is queued again for the sweeper to send."""
    if not _refresh_claim(run_id):
        return None
    run = SyncRun.objects.select_related("learner").get(pk=run_id)
    try:
        enrolment = _current_enrolment(run.learner)
        work = _Work(
            run, client=client_from_settings(), scope=Enrolment.objects.filter(pk=enrolment.pk)
        )
        run.learners_in_scope = 1
        _refresh_one(work, enrolment)
        _keep_alive(run)
        officers = OfficerLink.objects.filter(
            Q(officer__main_learners=run.learner) | Q(officer__learner_roles__learner=run.learner)
        ).select_related("officer")
        _plan_officer_details(work, officers.distinct())
        _keep_alive(run)
        _apply_details(work)
        work.save_counts()
        SyncRun.objects.filter(pk=run.pk).update(learners_in_scope=1)
        _remember_failures(work)
    except (SmartAssessorError, ApplicationError) as exc:
        return _finish(run, SyncRun.State.FAILED, _failure_message(exc))
    except Exception as exc:
        logger.exception("Refresh %s stopped on an unexpected error", run.pk)
        return _refresh_stopped(run, exc, retry=retry)
    if work.failed:
        return _finish(run, SyncRun.State.FAILED, "; ".join(work.failed.values()))
    return _finish(run, SyncRun.State.PARTIAL if run.error_count else SyncRun.State.SUCCEEDED)


def learner_refresh_now(*, learner: Learner, actor: Actor = None) -> SyncRun:
    """A refresh in the foreground (``manage.py smartassessor sync --learner``)."""
    _current_enrolment(learner)
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.LEARNER,
        learner=learner,
        requested_by=actor if actor and actor.is_authenticated else None,
    )
    return learner_refresh_run(run_id=run.pk, retry=False)


# --- Keeping runs moving --------------------------------------------------------------------


def _refreshes_sweep(now: dt.datetime) -> int:
    """Learners' refreshes: fail those that cannot finish (no worker took them for too long,
    or a worker stopped on each attempt), take back those whose worker died, and send again
    those whose task was lost or whose retry is due."""
    from ...tasks import refresh_learner

    refreshes = SyncRun.objects.filter(trigger=SyncRun.Trigger.LEARNER)
    queued, running = SyncRun.State.QUEUED, SyncRun.State.RUNNING
    gave_up = refreshes.filter(state=queued, requested_at__lt=now - GIVE_UP_AFTER).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        lease_until=None,
        error=f"No worker finished this refresh within {GIVE_UP_AFTER.seconds // 60} minutes: "
        "check that the background worker is running, then press Refresh with Smart Assessor "
        "again.",
    )
    died = refreshes.filter(state=running, lease_until__lt=now)
    failed = died.filter(attempts__gte=LEARNER_REFRESH_ATTEMPTS).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        lease_until=None,
        error=f"The refresh stopped without finishing on each of its {LEARNER_REFRESH_ATTEMPTS} "
        "attempts (its worker was stopped). Press Refresh with Smart Assessor again; if it "
        "fails again, tell support.",
    )
    lost = refreshes.filter(state=queued).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, requested_at__lt=now - REQUEUE_AFTER)
    )
    resent = list(lost.values_list("pk", flat=True))
    lost.filter(pk__in=resent).update(lease_until=now + REQUEUE_AFTER)
    for pk, attempts in list(died.values_list("pk", "attempts")):
        # Conditional: the worker may have come back and finished in the meantime.
        if refreshes.filter(pk=pk, state=running, attempts=attempts).update(
            state=queued,
            lease_until=now + REQUEUE_AFTER,
            error=f"Attempt {attempts} of {LEARNER_REFRESH_ATTEMPTS} stopped without finishing "
            "(its worker was stopped). Trying again.",
        ):
            resent.append(pk)
    for pk in resent:
        queue_on_commit(refresh_learner, pk)
    return gave_up + failed + len(resent)


def _approvals_sweep(now: dt.datetime, holder: int | None) -> int:
    """Approved held runs: sent again while the lock is free (their task was lost, or found the
    lock taken); held again when they waited too long or their worker died while applying."""
    runs = SyncRun.objects.exclude(trigger=SyncRun.Trigger.LEARNER).filter(decided_at__isnull=False)
    touched = 0
    # Applying holds the lock from before it starts until it ends: one that is applying without
    # holding it has died. Checked in the UPDATE itself, so a run that just started is safe.
    applying = runs.filter(state=SyncRun.State.RUNNING).exclude(
        Exists(SyncLock.objects.filter(run=OuterRef("pk"), expires_at__gt=now))
    )
    for run in applying:
        touched += _held_again(
            run,
            "Applying the approved changes stopped without finishing (its worker was stopped).",
            rows=applying,
        )
    too_long = runs.filter(state=SyncRun.State.QUEUED, decided_at__lt=now - APPROVAL_WAITS)
    for run in too_long:
        touched += _held_again(
            run,
            f"The approved changes were not applied within {APPROVAL_WAITS.seconds // 3600} "
            "hours (another synchronisation held the lock, or no worker took them).",
            rows=too_long,
        )
    if holder is None:
        waiting = runs.filter(state=SyncRun.State.QUEUED).filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        )
        for pk in waiting.values_list("pk", flat=True):
            touched += 1
            _approval_send(pk)
    return touched


def sync_runs_sweep() -> int:
    """Keep every run moving to a state a person can act on: learners' refreshes and approved
    held runs (above), and daily runs whose worker died, closed as failed. Returns how many
    rows it touched; each one moved on, so nothing is sent again for ever."""
    now = timezone.now()
    touched = _refreshes_sweep(now)
    lock = SyncLock.objects.filter(name=LOCK_NAME).first()
    holder = lock.run_id if lock and lock.expires_at and lock.expires_at > now else None
    touched += _approvals_sweep(now, holder)
    # A daily run's heartbeat renews its lease and the lock together: one whose lease ran out
    # and that holds no live lock has died. Both checked in the UPDATE itself, so a run whose
    # heartbeat just renewed is never closed. Runs from before leases: by their age.
    died = (
        SyncRun.objects.filter(state=SyncRun.State.RUNNING, decided_at__isnull=True)
        .filter(
            Q(lease_until__lt=now) | Q(lease_until__isnull=True, started_at__lt=now - STALE_AFTER)
        )
        .exclude(Exists(SyncLock.objects.filter(run=OuterRef("pk"), expires_at__gte=now)))
        # Refreshes with a lease are the sweeper's above; those without are from before leases.
        .exclude(trigger=SyncRun.Trigger.LEARNER, lease_until__isnull=False)
    )
    closed = list(died.values_list("pk", flat=True))
    dead = died.filter(pk__in=closed).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        lease_until=None,
        error="The run stopped without finishing (its worker was stopped); the next run "
        "catches up.",
    )
    # Its lock is freed at once, so "run now" works again.
    SyncLock.objects.filter(name=LOCK_NAME, run__in=closed, expires_at__lt=now).update(
        expires_at=None
    )
    return touched + dead


# --- Delta runs and dry runs (F31, F25) ------------------------------------------------------


def sync_run_delta() -> SyncRun | None:
    """A delta run (F31): the feeds from their watermarks, with the daily run's plan, check and
    apply. Returns None, having counted it on the run that holds the lock, when another run is
    going."""
    raise NotImplementedError


def dry_run_request(*, actor: Actor) -> SyncRun:
    """Store a dry run ("Preview the next synchronisation") and queue it."""
    from ...tasks import sync_dry_run

    with transaction.atomic():
        run = SyncRun.objects.create(
            trigger=SyncRun.Trigger.DRY_RUN,
            requested_by=actor if actor and actor.is_authenticated else None,
        )
        queue_on_commit(sync_dry_run, run.pk)
    return run


def dry_run_work(*, run_id: int) -> SyncRun | None:
    """The work of a queued dry run: the plan built and stored, nothing else written."""
    raise NotImplementedError
