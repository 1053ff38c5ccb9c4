"""Writes to the MIS domain. Every write validates the whole record (``full_clean``) first.

``data`` maps field names to cleaned values, as a ModelForm's ``cleaned_data`` does. A failed
validation raises Django's ValidationError with the model's messages, keyed by field.

Each write is a transaction. Saving or deleting a learner, a learner qualification, a learner
officer role or a break in learning sends ``learners.signals.record_saved`` or
``record_deleted`` inside it (the module's docstring is the contract).
"""

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import formats, timezone

from . import employers, signals
from .models import (
    BreakInLearning,
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    LearnerStatus,
    Officer,
    Organisation,
    Placement,
    QualificationStatus,
    Review,
)

Record = TypeVar("Record", bound=models.Model)

SIGNALLED_MODELS = (Learner, LearnerQualification, LearnerOfficerRole, BreakInLearning)


def _values(record: models.Model) -> dict[str, Any]:
    return {field.attname: getattr(record, field.attname) for field in record._meta.concrete_fields}


def _locked(record: Record) -> Record:
    """The record brought up to date with its row, locked until the transaction ends.

    Two people acting on one record are then taken one after the other, and a value written
    meanwhile (the synchronisation writes progress) is neither missed nor written back.
    """
    related = [
        (field, field.get_cached_value(record))
        for field in record._meta.concrete_fields
        if isinstance(field, models.ForeignKey) and field.is_cached(record)
    ]
    record.refresh_from_db(from_queryset=type(record)._default_manager.select_for_update())
    # Django forgets the related records it had; those the row still points at are kept.
    for field, related_record in related:
        if related_record is not None and getattr(record, field.attname) == related_record.pk:
            field.set_cached_value(record, related_record)
    return record


def _save(record: Record, data: Mapping[str, Any]) -> Record:
    """Validate and write the record with ``data``, and tell the subscribers what changed.

    An existing record is read again from its row first, so the changes are those from what
    is stored (a ModelForm has set its values on the instance already), and only the fields
    that changed are written.
    """
    with transaction.atomic():
        created = record._state.adding
        if not created:
            _locked(record)
        before = _values(record)
        for name, value in data.items():
            setattr(record, name, value)
        record.full_clean()
        if created:
            record.save()
            changes = {name: (None, value) for name, value in _values(record).items()}
        else:
            changes = {
                field.attname: (before[field.attname], getattr(record, field.attname))
                for field in record._meta.concrete_fields
                if not getattr(field, "auto_now", False)
                and before[field.attname] != getattr(record, field.attname)
            }
            if not changes:
                return record
            stamped = [
                field.attname
                for field in record._meta.concrete_fields
                if getattr(field, "auto_now", False)
            ]
            record.save(update_fields=[*changes, *stamped])
        if isinstance(record, SIGNALLED_MODELS):
            signals.record_saved.send(
                sender=type(record), record=record, changes=changes, created=created
            )
    return record


def _delete(record: models.Model) -> None:
    with transaction.atomic():
        record.delete()
        if isinstance(record, SIGNALLED_MODELS):
            signals.record_deleted.send(sender=type(record), record=record)


def learner_create(*, data: Mapping[str, Any]) -> Learner:
    return _save(Learner(), data)


@transaction.atomic
def learner_update(*, learner: Learner, data: Mapping[str, Any]) -> Learner:
    """Save the learner; a learner who becomes Withdrawn withdraws each active qualification.

    Each qualification is withdrawn on the learner's actual end date as a withdrawal of that
    qualification alone would be, its break ended if it is on one.
    """
    was_withdrawn = _locked(learner).status == LearnerStatus.WITHDRAWN
    _save(learner, data)
    if learner.status == LearnerStatus.WITHDRAWN and not was_withdrawn:
        active = learner.qualifications.exclude(
            status__in=LearnerQualification.ENDED_STATUSES
        ).select_related("qualification")
        for learner_qualification in active:
            try:
                learner_qualification_update(
                    learner_qualification=learner_qualification,
                    data={
                        "status": QualificationStatus.WITHDRAWN,
                        "actual_end_date": learner.actual_end_date,
                    },
                )
            except ValidationError as error:
                raise ValidationError(
                    {
                        "actual_end_date": [
                            f"{learner_qualification.qualification} cannot be withdrawn on this "
                            f"date: {message}"
                            for message in error.messages
                        ]
                    }
                ) from error
    return learner


@transaction.atomic
def officer_create(*, data: Mapping[str, Any]) -> Officer:
    fields = dict(data)
    roles = fields.pop("roles", [])
    officer = _save(Officer(), fields)
    officer.roles.set(roles)
    return officer


@transaction.atomic
def officer_update(*, officer: Officer, data: Mapping[str, Any]) -> Officer:
    fields = dict(data)
    roles = fields.pop("roles", None)
    _save(officer, fields)
    if roles is not None:
        officer.roles.set(roles)
    return officer


def organisation_create(*, data: Mapping[str, Any]) -> Organisation:
    return _save(Organisation(), data)


def organisation_update(*, organisation: Organisation, data: Mapping[str, Any]) -> Organisation:
    return _save(organisation, data)


RECORD_A_BREAK = (
    "A break in learning is recorded with its start date: use Record a break on the Delivery "
    "Plan rather than the status."
)


def learner_qualification_create(
    *, learner: Learner, data: Mapping[str, Any]
) -> LearnerQualification:
    if data.get("status") == QualificationStatus.BREAK_IN_LEARNING:
        raise ValidationError({"status": RECORD_A_BREAK})
    return _save(LearnerQualification(learner=learner), data)


def _open_break(learner_qualification: LearnerQualification) -> BreakInLearning | None:
    return learner_qualification.breaks.filter(end_date__isnull=True).first()


@transaction.atomic
def learner_qualification_update(
    *, learner_qualification: LearnerQualification, data: Mapping[str, Any]
) -> LearnerQualification:
    """Save the qualification; its status moves into and out of a break by its own services.

    A break starts with ``learner_qualification_break_start`` and ends with the return
    (``learner_qualification_break_end``) or a withdrawal: withdrawing a qualification on a
    break ends the break on the withdrawal date, then withdraws the qualification. A
    qualification whose status is Break in learning without a break recorded (set before
    breaks were recorded, or by the synchronisation) may be moved on here.
    """
    was = _locked(learner_qualification).status
    status = data.get("status", was)
    if status == QualificationStatus.BREAK_IN_LEARNING and was != status:
        raise ValidationError({"status": RECORD_A_BREAK})
    open_break = _open_break(learner_qualification)
    if open_break and status == QualificationStatus.WITHDRAWN and was != status:
        _break_end_on_withdrawal(
            learner_qualification,
            open_break,
            data.get("actual_end_date", learner_qualification.actual_end_date),
        )
    elif open_break and was == QualificationStatus.BREAK_IN_LEARNING and was != status:
        raise ValidationError(
            {
                "status": f"The qualification is on a break in learning {open_break.period}: "
                "record the return on the Delivery Plan to move it on, or withdraw it."
            }
        )
    return _save(learner_qualification, data)


def _break_end_on_withdrawal(
    learner_qualification: LearnerQualification,
    brk: BreakInLearning,
    withdrawn_on: datetime.date | None,
) -> None:
    """End the break the qualification is on at the withdrawal; the messages name the field
    a person gave (the actual end date), not the break's."""
    if withdrawn_on is None:
        return  # the qualification's own validation asks for the date
    start = formats.date_format(brk.start_date)
    if withdrawn_on < brk.start_date:
        problem = (
            f"The qualification has been on a break in learning since {start}: it cannot be "
            "withdrawn before then."
        )
    elif withdrawn_on > timezone.localdate():
        problem = (
            f"The qualification has been on a break in learning since {start}: the break "
            "ends on the withdrawal date, which cannot be in the future."
        )
    else:
        # The break is checked against the qualification as the withdrawal leaves it, ended on
        # that day; the qualification's own save compares with its row, not with this.
        learner_qualification.actual_end_date = withdrawn_on
        brk.learner_qualification = learner_qualification
        _save(brk, {"end_date": withdrawn_on})
        return
    raise ValidationError({"actual_end_date": problem})


@transaction.atomic
def learner_qualification_break_start(
    *, learner_qualification: LearnerQualification, start_date: datetime.date
) -> BreakInLearning:
    """Record a break in learning from ``start_date``; the qualification is then on a break.

    The break is saved before the qualification's status, so a subscriber told of the status
    finds the break.
    """
    _locked(learner_qualification)
    open_break = _open_break(learner_qualification)
    if open_break:
        raise ValidationError(
            {
                "start_date": "The qualification is on a break in learning already, "
                f"{open_break.period}: record the return before a new break."
            }
        )
    if learner_qualification.status not in LearnerQualification.BREAKABLE_STATUSES:
        status = learner_qualification.get_status_display().lower()
        raise ValidationError(
            {
                "start_date": f"The qualification is {status}: a break can be recorded only "
                "on a qualification that is not started or in progress."
            }
        )
    brk = _save(
        BreakInLearning(learner_qualification=learner_qualification), {"start_date": start_date}
    )
    _save(learner_qualification, {"status": QualificationStatus.BREAK_IN_LEARNING})
    return brk


@transaction.atomic
def learner_qualification_break_end(
    *, brk: BreakInLearning, end_date: datetime.date
) -> BreakInLearning:
    """Record the return from a break on ``end_date``: the qualification is In progress again.

    The break is saved before the qualification's status. A qualification whose status has
    been moved on from Break in learning meanwhile keeps it.
    """
    _locked(brk)
    if brk.end_date is not None:
        raise ValidationError(
            {
                "end_date": "The return from this break was recorded already, on "
                f"{formats.date_format(brk.end_date)}."
            }
        )
    _save(brk, {"end_date": end_date})
    learner_qualification = brk.learner_qualification
    if _locked(learner_qualification).status == QualificationStatus.BREAK_IN_LEARNING:
        _save(learner_qualification, {"status": QualificationStatus.IN_PROGRESS})
    return brk


def placement_create(*, learner: Learner, data: Mapping[str, Any]) -> Placement:
    return _save(Placement(learner=learner), data)


def placement_update(*, placement: Placement, data: Mapping[str, Any]) -> Placement:
    return _save(placement, data)


def placement_end(*, placement: Placement, end_date: datetime.date) -> Placement:
    return _save(placement, {"end_date": end_date})


def learner_officer_role_create(*, learner: Learner, data: Mapping[str, Any]) -> LearnerOfficerRole:
    return _save(LearnerOfficerRole(learner=learner), data)


def learner_officer_role_update(
    *, learner_officer_role: LearnerOfficerRole, data: Mapping[str, Any]
) -> LearnerOfficerRole:
    return _save(learner_officer_role, data)


def learner_officer_role_delete(*, learner_officer_role: LearnerOfficerRole) -> None:
    _delete(learner_officer_role)


def review_create(*, learner: Learner, data: Mapping[str, Any]) -> Review:
    return _save(Review(learner=learner), data)


def review_update(*, review: Review, data: Mapping[str, Any]) -> Review:
    return _save(review, data)


@dataclasses.dataclass
class NewLearner:
    """A learner to create with its qualifications (each with the break it may have had) and
    placements, for ``learners_create``. The records are unsaved; the learner's are set on
    them when it is written."""

    learner: Learner
    qualifications: list[tuple[LearnerQualification, BreakInLearning | None]]
    placements: list[Placement]


# Set by learners_create itself, or checked against the stored records in one query.
_BULK_EXCLUDE = ["learner", "qualification", "organisation", "learner_qualification"]


def learners_create(*, records: Sequence[NewLearner]) -> None:
    """Create many learners with their records in a few statements, for an import.

    Each record is validated as ``_save`` validates it (``full_clean``), except what costs a
    query a record: the learners' idents and ULNs are checked against the stored learners and
    each other in two queries, the related records are the caller's, and the check
    constraints (which the models' ``clean`` states as well) are left to the database. A
    ValidationError names the learner's ident; nothing is written then. ``record_saved`` is
    sent for each record created, learner first, as the one-by-one services send it.

    A qualification with a break still open is created Break in learning, with the break.
    """
    with transaction.atomic():
        _bulk_validate(records)
        learners = Learner.objects.bulk_create([record.learner for record in records])
        held = []
        for record, learner in zip(records, learners, strict=True):
            for qualification, _ in record.qualifications:
                qualification.learner = learner
                held.append(qualification)
            for placement in record.placements:
                placement.learner = learner
        LearnerQualification.objects.bulk_create(held)
        breaks = []
        for record in records:
            for qualification, brk in record.qualifications:
                if brk is not None:
                    brk.learner_qualification = qualification  # saved now: its id is known
                    _bulk_clean(brk, record.learner.ident)
                    breaks.append(brk)
        BreakInLearning.objects.bulk_create(breaks)
        Placement.objects.bulk_create([p for record in records for p in record.placements])
        employers.current_employers_refresh(learner_ids=[learner.pk for learner in learners])
        for record in records:
            _created(record.learner)
            for qualification, brk in record.qualifications:
                if brk is not None:
                    _created(brk)
                _created(qualification)


def _created(record: models.Model) -> None:
    signals.record_saved.send(
        sender=type(record),
        record=record,
        changes={name: (None, value) for name, value in _values(record).items()},
        created=True,
    )


def _bulk_clean(record: models.Model, ident: str) -> None:
    try:
        record.full_clean(exclude=_BULK_EXCLUDE, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        raise ValidationError({ident: error.messages}) from error


def _bulk_validate(records: Sequence[NewLearner]) -> None:
    idents: dict[str, str] = {}
    ulns: dict[str, str] = {}
    for record in records:
        learner = record.learner
        _bulk_clean(learner, learner.ident)
        for qualification, _ in record.qualifications:
            _bulk_clean(qualification, learner.ident)
        for placement in record.placements:
            _bulk_clean(placement, learner.ident)
        for seen, key in ((idents, learner.ident.lower()), (ulns, learner.uln)):
            if key and key in seen:
                raise ValidationError({learner.ident: f"{key} is {seen[key]}'s too."})
            if key:
                seen[key] = learner.ident
    taken = Learner.objects.annotate(lowered=Lower("ident")).filter(lowered__in=idents)
    for ident in taken.values_list("ident", flat=True)[:1]:
        raise ValidationError({ident: "Another learner already has this Learner Ident."})
    for ident, uln in Learner.objects.filter(uln__in=ulns).values_list("ident", "uln")[:1]:
        raise ValidationError({ulns[uln]: f"The ULN {uln} is {ident}'s already."})
