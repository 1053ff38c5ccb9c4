"""Values between Smart Assessor and the MIS: checked as the MIS field holds them, and shown as
a person reads them."""

import datetime as dt
import decimal
import functools
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from ... import mapping


def field_of(model: models.Model | type[models.Model], attr: str) -> "models.Field[Any, Any]":
    """A concrete field of the model (the plan names fields, never reverse relations)."""
    field = model._meta.get_field(attr)
    assert isinstance(field, models.Field)
    return field


class Malformed(Exception):
    """Smart Assessor sent a value the MIS cannot take."""


def display(record: models.Model | type[models.Model], attr: str, value: Any) -> str:
    """A value as a person reads it: choice labels, UK dates, plain numbers."""
    if value is None or value == "":
        return ""
    field = field_of(record, attr)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, dt.datetime):
        local = timezone.localtime(value)
        return f"{_day(local)} {local:%H:%M}"
    if isinstance(value, dt.date):
        return _day(value)
    if isinstance(value, decimal.Decimal):
        return f"{value.normalize():f}"
    return str(value)


_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(value: dt.date) -> str:
    """``1 Dec 2026``: the product's DATE_FORMAT (picsweb/formats/en_GB), written directly
    because a run shows tens of thousands of them."""
    return f"{value.day} {_MONTHS[value.month]} {value.year}"


def qualification_label(reference: str, title: str) -> str:
    """A learner's qualification as a plan row names it."""
    return f"{reference} {title}"[:300]


def as_json(value: Any) -> Any:
    """A value as a plan row stores it."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def from_json(model: type[models.Model], attr: str, value: Any) -> Any:
    """A plan row's value as the model's field holds it."""
    return field_of(model, attr).to_python(value)


def checked(record: models.Model | type[models.Model], attr: str, value: Any) -> Any:
    """The value as the MIS field holds it; ``Malformed`` when the field would refuse it.
    The field's checks depend on the value alone, and a run meets the same values many times
    over (a percentage, a date), so each is checked once."""
    model = record if isinstance(record, type) else type(record)
    try:
        return _checked(model, attr, value)
    except TypeError:  # a value that cannot be remembered (not hashable)
        return _checked.__wrapped__(model, attr, value)


@functools.lru_cache(maxsize=65_536)
def _checked(model: type[models.Model], attr: str, value: Any) -> Any:
    field = field_of(model, attr)
    if field.is_relation:
        return value
    try:
        return field.clean(value, None)
    except ValidationError as exc:
        raise Malformed(f"{field.verbose_name} {value!r}: {' '.join(exc.messages)}") from None


def converted(sync_field: mapping.SyncField, item: Any) -> Any:
    """An SA record's value of one field, converted to the MIS's terms (not checked yet)."""
    raw = getattr(item, sync_field.sa_attr)
    try:
        return sync_field.from_sa(raw)
    except (KeyError, ValueError, TypeError, decimal.InvalidOperation):
        raise Malformed(f"{sync_field.sa_field} {raw!r} is not a value the MIS knows") from None


def from_sa(
    sync_field: mapping.SyncField, item: Any, record: models.Model | type[models.Model]
) -> Any:
    """An SA record's value of one field, converted and checked for the MIS record."""
    return checked(record, sync_field.mis_attr, converted(sync_field, item))
