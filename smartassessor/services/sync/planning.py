"""Planning: Smart Assessor's records, a page at a time, turned into the writes that would make
the MIS agree (F15–F20), stored as the run's plan (``SyncChange`` rows not applied yet).

Nothing here writes to the MIS records themselves: the checks read the plan, then the applying
writes it, or the run is held with nothing written (F25). Each handler looks up the page's local
rows with one query and stores its plan rows in bulk."""

import dataclasses
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef

from learners.models import (
    LearnerQualification,
    QualificationStatus,
    Review,
)

from ... import mapping
from ...client import NotFound
from ...client import types as sa
from ...models import (
    CourseEnrolment,
    DemographicsMode,
    Enrolment,
    OfficerLink,
    Push,
    ReviewLink,
    SyncChange,
)
from .context import PlanRow, RunContext, plan_row
from .values import (
    Malformed,
    as_json,
    checked,
    converted,
    display,
    from_sa,
    qualification_label,
)

# The daily creep of the timeline, and of the off-the-job hours logged, is written with the
# plan but is not history (F21): the Delivery Plan shows the current figures.
NOT_HISTORY = {"timeline_percent", "off_the_job_hours_actual"}
# A qualification moves backwards (F25) when its progress drops this far, or its status
# becomes one of these.
BACKWARDS_POINTS = Decimal(10)
BACKWARDS_STATUSES = (QualificationStatus.WITHDRAWN, QualificationStatus.NOT_STARTED)
# Plan rows that are not one field of a record: a course enrolment SA has that the MIS did not
# record, a review to create, a qualification to enrol in SA.
ADOPT_COURSE = "smartassessor_course"
CREATE_REVIEW = "review"
ENROL_COURSE = "smartassessor_courses"


def _label(lq: LearnerQualification) -> str:
    return qualification_label(lq.qualification.reference, lq.qualification.title)


def _course_row(lq: LearnerQualification, attr: str, new_value: str, value: dict) -> PlanRow:
    """A plan row about the qualification's course in SA (recorded, or to be enrolled)."""
    return plan_row(
        learner=lq.learner_id,
        target=SyncChange.Target.QUALIFICATION,
        record=_label(lq),
        record_id=lq.pk,
        field="Course enrolment",
        attr=attr,
        new_value=new_value,
        value=value,
    )


# --- Progression (F15) ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Course:
    """A course enrolment the MIS holds, with its plan entry's figures, as one query reads it."""

    state: str
    enrolment_id: int
    learner_id: int
    sa_learner_id: str
    lq_id: int
    label: str
    figures: dict[str, Any]
    # A change of the MIS waits to be sent or was refused: its lifecycle values stay (F30).
    keeps_lifecycle: bool


_FIGURES = tuple(f.mis_attr for f in mapping.PROGRESS_FIELDS)
_COURSE_COLUMNS = (
    "pk",
    "sa_learner_course_id",
    "state",
    "enrolment_id",
    "enrolment__learner_id",
    "enrolment__sa_learner_id",
    "learner_qualification_id",
    "learner_qualification__qualification__reference",
    "learner_qualification__qualification__title",
    *(f"learner_qualification__{attr}" for attr in _FIGURES),
)


def _courses(context: RunContext, sa_ids: list[str]) -> dict[str, _Course]:
    # The conditions of the unique index on current SA course ids, stated so that it is used
    # (the scope holds current enrolments only).
    rows = list(
        CourseEnrolment.objects.filter(sa_learner_course_id__in=sa_ids, is_current=True)
        .exclude(sa_learner_course_id="")
        .values_list(*_COURSE_COLUMNS)
    )
    covered = context.covered({enrolment_id for _, _, _, enrolment_id, *_ in rows})
    # By the course enrolments' own ids, which the push's foreign key index serves: through
    # the SA ids, PostgreSQL would read every course enrolment for each page.
    unsent = set(
        Push.objects.filter(
            course_id__in=[row[0] for row in rows], state__in=Push.UNSENT_STATES
        ).values_list("course_id", flat=True)
    )
    courses = {}
    for (
        pk,
        sa_id,
        state,
        enrolment_id,
        learner_id,
        sa_learner_id,
        lq_id,
        ref,
        title,
        *figures,
    ) in rows:
        if enrolment_id not in covered:
            continue
        courses[sa_id] = _Course(
            state,
            enrolment_id,
            learner_id,
            sa_learner_id,
            lq_id,
            qualification_label(ref, title),
            dict(zip(_FIGURES, figures, strict=True)),
            pk in unsent,
        )
    return courses


def _adoptions(
    context: RunContext, items: list[sa.LearnerCourse], enrolments: dict[str, Enrolment]
) -> dict[str, _Course]:
    """Course enrolments SA has that the MIS did not record (a learner linked by hand, F12),
    matched to the plan entry with the same course: planned to be recorded."""
    plan = LearnerQualification.objects.filter(
        learner_id__in={enrolments[i.learner_smart_assessor_id].learner_id for i in items},
        qualification__smartassessor_link__course_id__in={
            i.course_smart_assessor_id for i in items
        },
    ).select_related("qualification__smartassessor_link")
    entries = {(lq.learner_id, lq.qualification.smartassessor_link.course_id): lq for lq in plan}
    recorded = set(
        CourseEnrolment.objects.filter(
            enrolment__in=[e.pk for e in enrolments.values()], learner_qualification__in=plan
        )
        .exclude(sa_learner_course_id="")
        .values_list("enrolment_id", "learner_qualification_id")
    )
    adopted, rows = {}, []
    for item in items:
        enrolment = enrolments[item.learner_smart_assessor_id]
        lq = entries.get((enrolment.learner_id, item.course_smart_assessor_id))
        if lq is None or (enrolment.pk, lq.pk) in recorded:
            continue
        adopted[item.smart_assessor_id] = _Course(
            "",
            enrolment.pk,
            enrolment.learner_id,
            enrolment.sa_learner_id,
            lq.pk,
            _label(lq),
            {attr: getattr(lq, attr) for attr in _FIGURES},
            False,
        )
        rows.append(
            _course_row(
                lq,
                ADOPT_COURSE,
                f"Linked to its Smart Assessor course enrolment {item.smart_assessor_id}",
                {"enrolment": enrolment.pk, "course": item.smart_assessor_id},
            )
        )
    context.store(rows)
    return adopted


def _moves_backwards(old: dict[str, Any], changed: dict[str, Any]) -> bool:
    status = changed.get("status", old["status"])
    if status != old["status"] and status in BACKWARDS_STATUSES:
        return True
    return (
        old["progress_percent"] - changed.get("progress_percent", old["progress_percent"])
        >= BACKWARDS_POINTS
    )


def plan_progress(context: RunContext, items: list[sa.LearnerCourse]) -> None:
    courses = _courses(context, [i.smart_assessor_id for i in items])
    unknown = [i for i in items if i.smart_assessor_id not in courses]
    if unknown:
        enrolments = context.enrolments_for(i.learner_smart_assessor_id for i in unknown)
        unknown = [i for i in unknown if i.learner_smart_assessor_id in enrolments]
        if unknown:
            courses |= _adoptions(context, unknown, enrolments)
    rows, updated = [], 0
    for item in items:
        course = courses.get(item.smart_assessor_id)
        if course is None or not context.usable_ids(course.enrolment_id, course.learner_id):
            continue
        if course.sa_learner_id != item.learner_smart_assessor_id:
            continue  # SA names another learner for a course enrolment we hold: not trusted
        old = course.figures
        try:
            # Only a value that differs is checked as the field would (most do not, each day).
            values = {f.mis_attr: converted(f, item) for f in mapping.PROGRESS_FIELDS}
            changed = {
                attr: checked(LearnerQualification, attr, value)
                for attr, value in values.items()
                if old[attr] != value
            }
        except Malformed as exc:
            context.fail_id(
                course.enrolment_id,
                f"{course.label.split(' ', 1)[0]}: Smart Assessor sent {exc}.",
            )
            continue
        changed = {attr: value for attr, value in changed.items() if old[attr] != value}
        if course.keeps_lifecycle and changed.keys() & set(mapping.LIFECYCLE_ATTRS):
            context.counts["lifecycle_kept"] += 1
            changed = {a: v for a, v in changed.items() if a not in mapping.LIFECYCLE_ATTRS}
        if not changed:
            continue
        for attr, value in changed.items():
            if attr in NOT_HISTORY:
                # Kept aside, compactly: written with the plan if it is applied, stored with it
                # only if it is held or previewed.
                context.routine[attr][course.lq_id] = value
                continue
            rows.append(
                context.change(
                    LearnerQualification,
                    attr,
                    old[attr],
                    value,
                    learner=course.learner_id,
                    target=SyncChange.Target.QUALIFICATION,
                    record=course.label,
                    record_id=course.lq_id,
                    value=as_json(value),
                )
            )
        if set(changed) - NOT_HISTORY:
            updated += 1
        if course.state == CourseEnrolment.State.ENROLLED and _moves_backwards(old, changed):
            context.backwards.add(course.lq_id)
    context.store(rows)
    context.counts["qualifications_updated"] += updated


# --- Reviews (F16) --------------------------------------------------------------------------


def _review_values(
    context: RunContext, item: sa.Session, review: Review, officers: dict
) -> dict[str, Any]:
    values = {}
    for sync_field in mapping.REVIEW_FIELDS:
        if sync_field.mis_attr == "review_type":
            values["review_type"] = context.review_types[item.event_type]
        elif sync_field.mis_attr == "reviewer":
            values["reviewer"] = officers.get(item.assessor_smart_assessor_id)
        else:
            value = converted(sync_field, item)
            # A value the MIS holds already is valid; only another one is checked.
            if review.pk is None or getattr(review, sync_field.mis_attr) != value:
                value = checked(Review, sync_field.mis_attr, value)
            values[sync_field.mis_attr] = value
    return values


def _review_label(context: RunContext, values: dict[str, Any]) -> str:
    kind = context.review_type_names.get(values["review_type"], "Review")
    return f"{kind}, {display(Review, 'proposed_at', values['proposed_at'])}"


def plan_reviews(context: RunContext, items: list[sa.Session]) -> None:
    enrolments = context.enrolments_for(i.learner_smart_assessor_id for i in items)
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
        assessor_id__in={
            i.assessor_smart_assessor_id for i in items if i.assessor_smart_assessor_id is not None
        }
    ).values_list("assessor_id", "officer_id", "officer__forenames", "officer__surname")
    officers = {assessor_id: officer_id for assessor_id, officer_id, *_ in officer_rows}
    names = {
        ("reviewer", officer_id): f"{forenames} {surname}"
        for _, officer_id, forenames, surname in officer_rows
    } | {("review_type", pk): name for pk, name in context.review_type_names.items()}
    rows: list[PlanRow] = []
    for item in items:
        enrolment = enrolments[item.learner_smart_assessor_id]
        if not context.usable(enrolment):
            continue
        if item.event_type not in context.review_types:
            context.unmapped[item.event_type] += 1
            context.counts["unmapped_event_types"] += 1
            continue
        if context.review_types[item.event_type] is None:
            continue  # mapped to "ignore" on purpose
        review = linked.get(item.smart_assessor_id)
        if review is not None and review.learner_id != enrolment.learner_id:
            continue  # SA moved a session we hold to another learner: not trusted
        try:
            values = _review_values(context, item, review or Review(), officers)
        except Malformed as exc:
            context.fail(enrolment, f"Session {item.smart_assessor_id}: Smart Assessor sent {exc}.")
            continue
        if review is None:
            label = _review_label(context, values)
            rows.append(
                plan_row(
                    learner=enrolment.learner_id,
                    target=SyncChange.Target.REVIEW,
                    record=label,
                    field="Review",
                    attr=CREATE_REVIEW,
                    new_value="Created from Smart Assessor",
                    value={"session": item.smart_assessor_id}
                    | {attr: as_json(value) for attr, value in values.items()},
                )
            )
            context.counts["reviews_created"] += 1
            continue
        changed = False
        for attr, value in values.items():
            old = getattr(review, f"{attr}_id" if attr in ("review_type", "reviewer") else attr)
            if old == value:
                continue
            if not changed:
                label = _review_label(context, values)
            changed = True
            row = context.change(
                review,
                attr,
                old,
                value,
                learner=enrolment.learner_id,
                target=SyncChange.Target.REVIEW,
                record=label,
                record_id=review.pk,
                value=as_json(value),
            )
            if attr in ("review_type", "reviewer"):
                # A related record: its name, not its id (a reviewer not linked here: blank).
                row["old_value"] = names.get((attr, old), "")
                row["new_value"] = names.get((attr, value), "")
            rows.append(row)
        context.counts["reviews_updated"] += changed
    context.store(rows)


# --- Risk (F19) -----------------------------------------------------------------------------


def plan_risk(context: RunContext, items: list[sa.SmartCoachScore]) -> None:
    enrolments = context.enrolments_for(i.learner_smart_assessor_id for i in items)
    (risk_field,) = mapping.RISK_FIELDS
    rows = []
    for item in items:
        enrolment = enrolments.get(item.learner_smart_assessor_id)
        if not context.usable(enrolment):
            continue
        learner = enrolment.learner
        band = risk_field.from_sa(item.band)
        if band is None:
            context.fail(enrolment, f"Smart Coach sent the band {item.band!r}, which is not known.")
            continue
        if band != learner.risk_band:
            rows.append(
                context.change(
                    learner,
                    "risk_band",
                    learner.risk_band,
                    band,
                    learner=learner.pk,
                    target=SyncChange.Target.RISK,
                    record="Risk",
                    value=band,
                )
            )
    context.store(rows)
    context.counts["risk_updated"] += len(rows)


# --- Learner and officer details (F17, F18) -------------------------------------------------


def detail_fields(
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


def _details(
    context: RunContext,
    instance: models.Model,
    remote: Any,
    fields: list[mapping.SyncField],
    mode: str,
    **change_kwargs: Any,
) -> list[PlanRow]:
    """The detail changes that make MIS and SA agree, in the mode's direction."""
    rows = []
    for sync_field in fields:
        mis_value = getattr(instance, sync_field.mis_attr)
        sa_value = getattr(remote, sync_field.sa_attr)
        if mode == DemographicsMode.PUSH:
            if sync_field.to_sa(mis_value) == sa_value:
                continue
            row = context.change(instance, sync_field.mis_attr, None, mis_value, **change_kwargs)
            row["direction"] = SyncChange.Direction.PUSH
            row["old_value"] = "" if sa_value is None else str(sa_value)
            row["value"] = as_json(mis_value)
        else:
            value = from_sa(sync_field, remote, instance)
            if value == mis_value:
                continue
            row = context.change(instance, sync_field.mis_attr, mis_value, value, **change_kwargs)
            row["value"] = as_json(value)
        rows.append(row)
    return rows


def plan_learner_details(
    context: RunContext, pairs: Iterable[tuple[Enrolment, sa.Learner]]
) -> set[int]:
    """Plans the learners' detail changes; returns the ids of the learners compared."""
    settings = context.settings
    mode = settings.learner_demographics_mode
    fields = detail_fields(
        mapping.LEARNER_DETAIL_FIELDS, mode, gender=settings.update_learner_gender
    )
    compared: set[int] = set()
    rows: list[PlanRow] = []
    for enrolment, remote in pairs:
        if not fields or not context.usable(enrolment):
            continue
        learner = enrolment.learner
        compared.add(learner.pk)
        try:
            planned = _details(
                context,
                learner,
                remote,
                fields,
                mode,
                learner=learner.pk,
                target=SyncChange.Target.LEARNER,
                record="Learner details",
            )
        except Malformed as exc:
            context.fail(enrolment, f"Smart Assessor sent {exc}.")
            continue
        if planned:
            context.detail_learners.add(learner.pk)
            rows += planned
    context.store(rows)
    return compared


def plan_learner_page(context: RunContext, page: list[sa.Learner]) -> set[int]:
    """A page of SA learners compared with the MIS learners linked to them."""
    enrolments = context.enrolments_for(item.smart_assessor_id for item in page)
    return plan_learner_details(
        context,
        [(enrolments[i.smart_assessor_id], i) for i in page if i.smart_assessor_id in enrolments],
    )


def plan_officer_details(context: RunContext, links: Iterable[OfficerLink]) -> None:
    settings = context.settings
    mode = settings.officer_demographics_mode
    fields = detail_fields(mapping.OFFICER_DETAIL_FIELDS, mode, gender=False)
    if not fields:
        return
    rows: list[PlanRow] = []
    for link in links:
        officer = link.officer
        try:
            remote = context.client.assessor_get(assessor_id=link.assessor_id)
            planned = _details(
                context,
                officer,
                remote,
                fields,
                mode,
                officer=officer.pk,
                target=SyncChange.Target.OFFICER,
                record=f"Officer {officer}"[:300],
            )
        except NotFound:
            context.fail_officer(
                officer, f"Smart Assessor has no assessor {link.assessor_id}: check the link."
            )
            continue
        except Malformed as exc:
            context.fail_officer(officer, f"Smart Assessor sent {exc}.")
            continue
        if planned:
            context.detail_officers.add(officer.pk)
            rows += planned
    context.store(rows)


# --- Qualifications added later (F20) -------------------------------------------------------


def _not_enrolled() -> models.QuerySet[LearnerQualification]:
    return LearnerQualification.objects.filter(
        qualification__smartassessor_link__isnull=False
    ).exclude(
        Exists(
            CourseEnrolment.objects.filter(
                enrolment__learner=OuterRef("learner"),
                enrolment__is_current=True,
                learner_qualification=OuterRef("pk"),
            )
        )
    )


def missing_courses(scope: models.QuerySet[Enrolment]) -> models.QuerySet[Enrolment]:
    """Enrolments with a qualification SA offers and no course enrolment for it yet."""
    return scope.filter(Exists(_not_enrolled().filter(learner=OuterRef("learner")))).select_related(
        "learner"
    )


def plan_added_courses(context: RunContext, enrolments: Iterable[Enrolment]) -> None:
    """Qualifications added to the plan, or linked to an SA course, after enrolment: to be
    enrolled in SA when the plan is applied."""
    enrolments = [e for e in enrolments if context.usable(e)]
    by_learner = {e.learner_id: e for e in enrolments}
    rows = [
        _course_row(
            lq,
            ENROL_COURSE,
            "Enrolled in Smart Assessor",
            {"enrolment": by_learner[lq.learner_id].pk},
        )
        for lq in _not_enrolled()
        .filter(learner_id__in=by_learner)
        .select_related("qualification")
        .order_by("learner_id", "pk")
    ]
    context.store(rows)
