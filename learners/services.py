"""Writes to the MIS domain. Every write validates the whole record (``full_clean``) first.

``data`` maps field names to cleaned values, as a ModelForm's ``cleaned_data`` does. A failed
validation raises Django's ValidationError with the model's messages, keyed by field.
"""

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from django.db import models, transaction

from .models import (
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Officer,
    Organisation,
    Placement,
    Review,
)

Record = TypeVar("Record", bound=models.Model)


def _save(record: Record, data: Mapping[str, Any]) -> Record:
    for name, value in data.items():
        setattr(record, name, value)
    record.full_clean()
    record.save()
    return record


def learner_create(*, data: Mapping[str, Any]) -> Learner:
    return _save(Learner(), data)


def learner_update(*, learner: Learner, data: Mapping[str, Any]) -> Learner:
    return _save(learner, data)


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


def learner_qualification_create(
    *, learner: Learner, data: Mapping[str, Any]
) -> LearnerQualification:
    return _save(LearnerQualification(learner=learner), data)


def learner_qualification_update(
    *, learner_qualification: LearnerQualification, data: Mapping[str, Any]
) -> LearnerQualification:
    return _save(learner_qualification, data)


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
    learner_officer_role.delete()


def review_create(*, learner: Learner, data: Mapping[str, Any]) -> Review:
    return _save(Review(learner=learner), data)


def review_update(*, review: Review, data: Mapping[str, Any]) -> Review:
    return _save(review, data)
