"""Applying a run's plan: its stored rows written in bulk (set-based, only the rows that
change), then what Smart Assessor must be told (details pushed, courses enrolled). The same
code applies a run that passed its checks and a held run an admin approved (F25)."""

from collections import defaultdict
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from learners.models import Learner, LearnerQualification, Officer, Review

from ... import mapping
from ...client import AssessorInput, LearnerChanges, NotFound, SmartAssessorError, ValidationFailed
from ...models import CourseEnrolment, Enrolment, ReviewLink, SyncChange
from .. import enrolment_steps
from . import locks
from .context import RunContext
from .planning import ADOPT_COURSE, CREATE_REVIEW, ENROL_COURSE
from .values import from_json
from .writes import rows_update

CHUNK = 2000
Target = SyncChange.Target


def _plan(context: RunContext) -> models.QuerySet[SyncChange]:
    return SyncChange.objects.filter(run=context.run, applied=False)


def _rows(queryset: models.QuerySet[SyncChange], *fields: str) -> Iterator[list[tuple]]:
    """The rows in order, a chunk at a time, each chunk read in full before it is written (no
    cursor stays open across a write: on SQLite it would pin an old snapshot). The latest row
    of a field comes last, so it wins."""
    last = 0
    while chunk := list(
        queryset.filter(id__gt=last).order_by("id").values_list("id", *fields)[:CHUNK]
    ):
        yield chunk
        last = chunk[-1][0]


def refusal(exc: SmartAssessorError, what: str) -> str:
    return f"Smart Assessor refused {what}: " + ("; ".join(exc.messages) or str(exc))


def apply_plan(context: RunContext) -> None:
    """Writes the whole plan; rows that could not be applied stay unapplied, with the reason
    among the run's errors."""
    unapplied: set[int] = set()
    skipped = _failed_learners(context)
    _adopt_courses(context)
    _fields(context, LearnerQualification, Target.QUALIFICATION, "record_id")
    _create_reviews(context)
    _fields(context, Review, Target.REVIEW, "record_id")
    _fields(context, Learner, Target.RISK, "learner_id")
    _fields(context, Learner, Target.LEARNER, "learner_id", skipped=skipped, unapplied=unapplied)
    _push_learner_details(context, skipped, unapplied)
    _officer_details(context, unapplied)
    _enrol_courses(context, unapplied)
    plan = _plan(context).exclude(pk__in=unapplied)
    plan.filter(in_history=False).delete()
    plan.update(applied=True, at=timezone.now())


def _failed_learners(context: RunContext) -> set[int]:
    if not context.failed:
        return set()
    return set(Enrolment.objects.filter(pk__in=context.failed).values_list("learner_id", flat=True))


def _fields(
    context: RunContext,
    model: type[models.Model],
    target: str,
    key: str,
    *,
    skipped: AbstractSet[int] = frozenset(),
    unapplied: set[int] | None = None,
) -> None:
    """The plan's field changes of one kind of record, pulled from SA: the latest value of each
    field of each record, written set-based a chunk at a time. The changes of the learners in
    ``skipped`` (failed in this run: their details wait for the next run) are left, counted in
    ``unapplied``."""
    rows = (
        _plan(context)
        .filter(target=target, direction=SyncChange.Direction.PULL)
        .exclude(attr__in=(ADOPT_COURSE, CREATE_REVIEW, ENROL_COURSE))
    )
    for chunk in _rows(rows, key, "attr", "value", "learner_id"):
        writes: dict[int, dict[str, Any]] = defaultdict(dict)
        for row_id, pk, attr, value, learner_id in chunk:
            if learner_id in skipped:
                assert unapplied is not None
                unapplied.add(row_id)
            elif pk is not None:
                writes[pk][attr] = from_json(model, attr, value)
        with transaction.atomic():
            written = rows_update(model, writes)
        if target == Target.LEARNER:
            context.counts["details_pulled"] += written
        locks.keep_alive(context.run)


def _adopt_courses(context: RunContext) -> None:
    """Course enrolments SA has that the MIS did not record, recorded (the latest wins)."""
    rows = _plan(context).filter(attr=ADOPT_COURSE)
    for chunk in _rows(rows, "record_id", "value"):
        wanted = {(v["enrolment"], lq): v["course"] for _, lq, v in chunk}
        existing = {
            (row.enrolment_id, row.learner_qualification_id): row
            for row in CourseEnrolment.objects.filter(
                enrolment__in={e for e, _ in wanted},
                learner_qualification__in={lq for _, lq in wanted},
            )
        }
        new, updated = [], []
        for (enrolment_id, lq_id), course in wanted.items():
            row = existing.get((enrolment_id, lq_id))
            if row is None:
                row = CourseEnrolment(enrolment_id=enrolment_id, learner_qualification_id=lq_id)
                new.append(row)
            else:
                updated.append(row)
            row.state = CourseEnrolment.State.ENROLLED
            row.sa_learner_course_id = course
            row.error = ""
        with transaction.atomic():
            CourseEnrolment.objects.bulk_create(new)
            CourseEnrolment.objects.bulk_update(updated, ["state", "sa_learner_course_id", "error"])


def _create_reviews(context: RunContext) -> None:
    """Reviews for SA sessions the MIS does not have yet, with their links; a session that got
    its review meanwhile (read twice, or by a refresh at the same time) is not created again."""
    rows = _plan(context).filter(attr=CREATE_REVIEW)
    for chunk in _rows(rows, "learner_id", "value"):
        latest = {value["session"]: (learner_id, value) for _, learner_id, value in chunk}
        for attempt in (1, 2):
            linked = set(
                ReviewLink.objects.filter(session_id__in=latest).values_list(
                    "session_id", flat=True
                )
            )
            sessions = [s for s in latest if s not in linked]
            reviews = [_review(*latest[session]) for session in sessions]
            try:
                with transaction.atomic():
                    Review.objects.bulk_create(reviews)
                    ReviewLink.objects.bulk_create(
                        ReviewLink(review=review, session_id=session)
                        for review, session in zip(reviews, sessions, strict=True)
                    )
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        locks.keep_alive(context.run)


def _review(learner_id: int, value: dict[str, Any]) -> Review:
    fields = {
        attr: from_json(Review, attr, value[attr])
        for attr in ("proposed_at", "actual_at", "attendance", "notes")
    }
    return Review(
        learner_id=learner_id,
        review_type_id=value["review_type"],
        reviewer_id=value["reviewer"],
        **fields,
    )


def _push_learner_details(
    context: RunContext, skipped: AbstractSet[int], unapplied: set[int]
) -> None:
    fields = {f.mis_attr: f for f in mapping.LEARNER_DETAIL_FIELDS}
    rows = _plan(context).filter(target=Target.LEARNER, direction=SyncChange.Direction.PUSH)
    for chunk in _rows(rows, "learner_id", "attr", "value"):
        by_learner: dict[int, list[tuple[int, str, Any]]] = defaultdict(list)
        for row_id, learner_id, attr, value in chunk:
            by_learner[learner_id].append((row_id, attr, value))
        enrolments = {
            e.learner_id: e
            for e in Enrolment.objects.filter(
                learner_id__in=by_learner, is_current=True
            ).select_related("learner")
        }
        for learner_id, pushed in by_learner.items():
            enrolment = enrolments.get(learner_id)
            if enrolment is None or learner_id in skipped:
                unapplied.update(row_id for row_id, _, _ in pushed)
                continue
            changes = LearnerChanges(
                **{
                    fields[attr].sa_attr: fields[attr].to_sa(from_json(Learner, attr, value))
                    for _, attr, value in pushed
                }
            )
            try:
                context.client.learner_update(learner_id=enrolment.sa_learner_id, changes=changes)
            except (ValidationFailed, NotFound) as exc:
                context.fail(enrolment, refusal(exc, "the learner's details"))
                unapplied.update(row_id for row_id, _, _ in pushed)
                continue
            context.counts["details_pushed"] += 1
        locks.keep_alive(context.run)


def _officer_details(context: RunContext, unapplied: set[int]) -> None:
    rows = _plan(context).filter(target=Target.OFFICER).order_by("officer_id", "id")
    by_officer: dict[int, list[SyncChange]] = defaultdict(list)
    for row in list(rows):
        by_officer[row.officer_id].append(row)  # type: ignore[index]
    for officer_id, changes in by_officer.items():
        officer = Officer.objects.select_related("smartassessor_link").get(pk=officer_id)
        pull = [r for r in changes if r.direction == SyncChange.Direction.PULL]
        push = [r for r in changes if r.direction == SyncChange.Direction.PUSH]
        for row in pull:
            setattr(officer, row.attr, from_json(Officer, row.attr, row.value))
        if pull:
            officer.save(update_fields=[r.attr for r in pull])
        if push:
            link = officer.smartassessor_link
            try:
                remote = context.client.assessor_get(assessor_id=link.assessor_id)
                body = {
                    f.sa_attr: f.to_sa(getattr(officer, f.mis_attr))
                    for f in mapping.OFFICER_DETAIL_FIELDS
                }
                context.client.assessor_update(
                    assessor_id=link.assessor_id,
                    assessor=AssessorInput(
                        mis_assessor_id=remote.mis_assessor_id or str(officer.pk), **body
                    ),
                )
            except (ValidationFailed, NotFound) as exc:
                context.fail_officer(officer, refusal(exc, "the officer's details"))
                unapplied.update(r.pk for r in push)
                continue
        context.counts["officers_updated"] += 1
        locks.keep_alive(context.run)


def _enrol_courses(context: RunContext, unapplied: set[int]) -> None:
    """Qualifications added later (F20), enrolled in SA, each learner's in one go."""
    rows = _plan(context).filter(attr=ENROL_COURSE).order_by("id")
    by_enrolment: dict[int, dict[int, int]] = defaultdict(dict)
    for row_id, lq_id, value in list(rows.values_list("id", "record_id", "value")):
        assert lq_id is not None and isinstance(value, dict)
        by_enrolment[value["enrolment"]][lq_id] = row_id
    for enrolment_id, planned in by_enrolment.items():
        enrolment = Enrolment.objects.select_related("learner").filter(pk=enrolment_id).first()
        if enrolment is None or enrolment.pk in context.failed:
            unapplied.update(planned.values())
            continue
        refused = enrolment_steps.enrolment_courses_add(client=context.client, enrolment=enrolment)
        enrolled = set(
            enrolment.courses.filter(
                state=CourseEnrolment.State.ENROLLED, learner_qualification__in=planned
            ).values_list("learner_qualification_id", flat=True)
        )
        unapplied.update(row_id for lq_id, row_id in planned.items() if lq_id not in enrolled)
        context.counts["qualifications_enrolled"] += len(enrolled)
        if refused:
            errors = "; ".join(
                enrolment.courses.filter(
                    state=CourseEnrolment.State.REFUSED, learner_qualification__in=planned
                ).values_list("error", flat=True)
            )
            context.fail(enrolment, f"Smart Assessor refused a qualification added later: {errors}")
        locks.keep_alive(context.run)
