"""Applying a run's plan: its stored rows written in bulk (set-based, only the rows that
change), then what Smart Assessor must be told (details pushed, courses enrolled). The same
code applies a run that passed its checks and a held run an admin approved (F25)."""

from collections import defaultdict
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any, NamedTuple

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from learners.models import Learner, LearnerQualification, Officer, Review

from ... import mapping
from ...client import AssessorInput, LearnerChanges, NotFound, SmartAssessorError, ValidationFailed
from ...models import CourseEnrolment, Enrolment, ReviewLink, SyncChange, SyncRun
from .. import enrolment_steps
from . import locks
from .chunks import chunks
from .context import RunContext
from .planning import ADOPT_COURSE, CREATE_REVIEW, ENROL_COURSE
from .values import from_json
from .writes import rows_insert, rows_insert_returning, rows_update

CHUNK = 2000
Target = SyncChange.Target
Push = SyncChange.Direction.PUSH


class Row(NamedTuple):
    """A plan row as the applying reads it."""

    id: int
    target: str
    direction: str
    attr: str
    value: Any
    record_id: int | None
    learner_id: int | None
    officer_id: int | None


def _plan(context: RunContext) -> models.QuerySet[SyncChange]:
    return SyncChange.objects.filter(run=context.run)


def _chunks(context: RunContext) -> Iterator[list[Row]]:
    """The plan's rows in the order planned, a range of ids at a time (a range, not a limit:
    its cost does not hang on the database's estimate of a table that just grew), each chunk
    read in full before it is written: no cursor stays open across a write (on SQLite it
    would pin an old snapshot). A later row of a field comes later, so it wins."""
    bounds = _plan(context).aggregate(first=models.Min("id"), last=models.Max("id"))
    if bounds["first"] is None:
        return
    for start in range(bounds["first"], bounds["last"] + 1, CHUNK):
        rows = (
            _plan(context)
            .filter(id__gte=start, id__lt=start + CHUNK)
            .order_by("id")
            .values_list(*Row._fields)
        )
        if chunk := [Row(*values) for values in rows]:
            yield chunk


# What a plan row asks for: one of the plan's own writes, details to send, or the fields of its
# target (an officer's, pulled or pushed, are written together). No kind is a target's name.
ADOPT, CREATE, ENROL, SEND = "adopt", "create", "enrol", "send"
_OWN_KINDS = {ADOPT_COURSE: ADOPT, CREATE_REVIEW: CREATE, ENROL_COURSE: ENROL}


def _kind(row: Row) -> str:
    if row.attr in _OWN_KINDS:
        return _OWN_KINDS[row.attr]
    if row.target == Target.LEARNER and row.direction == Push:
        return SEND
    return row.target


def refusal(exc: SmartAssessorError, what: str) -> str:
    return f"Smart Assessor refused {what}: " + ("; ".join(exc.messages) or str(exc))


def apply_plan(context: RunContext) -> None:
    """Writes the whole plan, a chunk of rows at a time, each kind of write set-based, in the
    order a run needs them (course enrolments recorded before anything is enrolled; reviews
    created before others change). Rows that could not be applied are left out, with the
    reason among the run's errors; then the run is marked applied (its rows are not each
    written again)."""
    left_out: set[int] = set()
    skipped = _failed_learners(context)
    routine = context.routine
    for chunk in _chunks(context):
        kinds: dict[str, list[Row]] = defaultdict(list)
        for row in chunk:
            kinds[_kind(row)].append(row)
        # The chunk's writes to the MIS in one transaction; what Smart Assessor is told, after.
        with transaction.atomic():
            _adopt_courses(kinds[ADOPT])
            _fields(LearnerQualification, kinds[Target.QUALIFICATION], "record_id", routine)
            _create_reviews(kinds[CREATE])
            _fields(Review, kinds[Target.REVIEW], "record_id")
            _fields(Learner, kinds[Target.RISK], "learner_id")
            details = [row for row in kinds[Target.LEARNER] if row.learner_id not in skipped]
            left_out.update(row.id for row in kinds[Target.LEARNER] if row.learner_id in skipped)
            context.counts["details_pulled"] += _fields(Learner, details, "learner_id")
        _push_learner_details(context, kinds[SEND], skipped, left_out)
        _officer_details(context, kinds[Target.OFFICER], left_out)
        _enrol_courses(context, kinds[ENROL], left_out)
        locks.keep_alive(context.run)
    # The routine writes of the qualifications the plan had nothing else for.
    for attr, values in routine.items():
        for lq_ids in chunks(list(values), CHUNK):
            with transaction.atomic():
                rows_update(LearnerQualification, {pk: {attr: values[pk]} for pk in lq_ids})
    routine.clear()
    _plan(context).filter(in_history=False).delete()
    for ids in chunks(sorted(left_out), CHUNK):
        _plan(context).filter(pk__in=ids).update(left_out=True)
    context.run.plan_applied_at = timezone.now()
    SyncRun.objects.filter(pk=context.run.pk).update(plan_applied_at=context.run.plan_applied_at)


def _failed_learners(context: RunContext) -> set[int]:
    if not context.failed:
        return set()
    return set(Enrolment.objects.filter(pk__in=context.failed).values_list("learner_id", flat=True))


def _fields(
    model: type[models.Model],
    rows: list[Row],
    key: str,
    routine: dict[str, dict[int, Any]] | None = None,
) -> int:
    """Field changes of one kind of record, pulled from SA: the latest value of each field of
    each record, written set-based, with the record's ``routine`` writes (attr → record →
    value) taken from there. Returns how many records were written."""
    writes: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        pk = getattr(row, key)
        if pk is not None:
            writes[pk][row.attr] = from_json(model, row.attr, row.value)
    for attr, routine_values in (routine or {}).items():
        for pk, values in writes.items():
            if pk in routine_values:
                values[attr] = routine_values.pop(pk)
    return rows_update(model, writes) if writes else 0


def _adopt_courses(rows: list[Row]) -> None:
    """Course enrolments SA has that the MIS did not record, recorded (the latest wins)."""
    if not rows:
        return
    wanted: dict[tuple[int, int], str] = {
        (row.value["enrolment"], row.record_id): row.value["course"]
        for row in rows
        if row.record_id is not None
    }
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
    CourseEnrolment.objects.bulk_create(new)
    CourseEnrolment.objects.bulk_update(updated, ["state", "sa_learner_course_id", "error"])


def _create_reviews(rows: list[Row]) -> None:
    """Reviews for SA sessions the MIS does not have yet, with their links; a session that got
    its review meanwhile (read twice, or by a refresh at the same time) is not created again."""
    latest: dict[str, tuple[int, dict[str, Any]]] = {
        row.value["session"]: (row.learner_id, row.value)
        for row in rows
        if row.learner_id is not None
    }
    if not latest:
        return
    for attempt in (1, 2):
        linked = set(
            ReviewLink.objects.filter(session_id__in=latest).values_list("session_id", flat=True)
        )
        sessions = [s for s in latest if s not in linked]
        try:
            with transaction.atomic():
                reviews = rows_insert_returning(
                    Review, REVIEW_ATTRS, [_review(*latest[session]) for session in sessions]
                )
                rows_insert(
                    ReviewLink, ("review", "session_id"), list(zip(reviews, sessions, strict=True))
                )
            return
        except IntegrityError:
            if attempt == 2:
                raise


REVIEW_ATTRS = (
    "learner",
    "review_type",
    "reviewer",
    "proposed_at",
    "actual_at",
    "attendance",
    "notes",
)


def _review(learner_id: int, value: dict[str, Any]) -> tuple:
    """A review to create, as ``REVIEW_ATTRS``."""
    return (
        learner_id,
        value["review_type"],
        value["reviewer"],
        *(from_json(Review, attr, value[attr]) for attr in REVIEW_ATTRS[3:]),
    )


def _push_learner_details(
    context: RunContext, rows: list[Row], skipped: AbstractSet[int], left_out: set[int]
) -> None:
    fields = {f.mis_attr: f for f in mapping.LEARNER_DETAIL_FIELDS}
    if rows:
        by_learner: dict[int, list[Row]] = defaultdict(list)
        for row in rows:
            assert row.learner_id is not None
            by_learner[row.learner_id].append(row)
        enrolments = {
            e.learner_id: e
            for e in Enrolment.objects.filter(
                learner_id__in=by_learner, is_current=True
            ).select_related("learner")
        }
        for learner_id, pushed in by_learner.items():
            enrolment = enrolments.get(learner_id)
            if enrolment is None or learner_id in skipped:
                left_out.update(row.id for row in pushed)
                continue
            changes = LearnerChanges(
                **{
                    fields[row.attr].sa_attr: fields[row.attr].to_sa(
                        from_json(Learner, row.attr, row.value)
                    )
                    for row in pushed
                }
            )
            try:
                context.client.learner_update(learner_id=enrolment.sa_learner_id, changes=changes)
            except (ValidationFailed, NotFound) as exc:
                context.fail(enrolment, refusal(exc, "the learner's details"))
                left_out.update(row.id for row in pushed)
                continue
            context.counts["details_pushed"] += 1


def _officer_details(context: RunContext, rows: list[Row], left_out: set[int]) -> None:
    by_officer: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        assert row.officer_id is not None
        by_officer[row.officer_id].append(row)
    for officer_id, changes in by_officer.items():
        officer = Officer.objects.select_related("smartassessor_link").get(pk=officer_id)
        pull = [r for r in changes if r.direction != Push]
        push = [r for r in changes if r.direction == Push]
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
                left_out.update(r.id for r in push)
                continue
        context.counts["officers_updated"] += 1


def _enrol_courses(context: RunContext, rows: list[Row], left_out: set[int]) -> None:
    """Qualifications added later (F20), enrolled in SA, each learner's in one go."""
    by_enrolment: dict[int, dict[int, int]] = defaultdict(dict)
    for row in rows:
        assert row.record_id is not None and isinstance(row.value, dict)
        by_enrolment[row.value["enrolment"]][row.record_id] = row.id
    for enrolment_id, planned in by_enrolment.items():
        enrolment = Enrolment.objects.select_related("learner").filter(pk=enrolment_id).first()
        if enrolment is None or enrolment.pk in context.failed:
            left_out.update(planned.values())
            continue
        refused = enrolment_steps.enrolment_courses_add(client=context.client, enrolment=enrolment)
        enrolled = set(
            enrolment.courses.filter(
                state=CourseEnrolment.State.ENROLLED, learner_qualification__in=planned
            ).values_list("learner_qualification_id", flat=True)
        )
        left_out.update(row_id for lq_id, row_id in planned.items() if lq_id not in enrolled)
        context.counts["qualifications_enrolled"] += len(enrolled)
        if refused:
            errors = "; ".join(
                enrolment.courses.filter(
                    state=CourseEnrolment.State.REFUSED, learner_qualification__in=planned
                ).values_list("error", flat=True)
            )
            context.fail(enrolment, f"Smart Assessor refused a qualification added later: {errors}")
        locks.keep_alive(context.run)
