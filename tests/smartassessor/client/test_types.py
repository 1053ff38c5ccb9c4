"""The wire format: parsing answers and serialising payloads."""

import dataclasses
import datetime as dt

import pytest

from smartassessor.client import Course, Employer, EmployerInput, Learner, LearnerChanges
from smartassessor.client.types import (
    WireFormatError,
    format_datetime,
    from_wire,
    parse_date,
    parse_datetime,
    to_wire,
    wire_name,
)

from . import wire


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T09:30:00Z", dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC)),
        ("2026-11-28T09:30:00.1Z", dt.datetime(2026, 11, 28, 9, 30, 0, 100000, tzinfo=dt.UTC)),
        (
            "2026-11-28T09:30:00.123456Z",
            dt.datetime(2026, 11, 28, 9, 30, 0, 123456, tzinfo=dt.UTC),
        ),
    ],
)
def test_datetimes_are_read_with_or_without_fractional_seconds(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T09:30:00",  # no zone: whose time?
        "2026-11-28T09:30:00+00:00",
        "2026-11-28T09:30:00.1234567Z",
        "2026-13-28T09:30:00Z",
        "28/11/2026 09:30",
        20261128,
    ],
)
def test_datetimes_outside_the_contract_are_refused(text):
    with pytest.raises(WireFormatError, match="expected a date-time"):
        parse_datetime(text)


def test_dates_must_be_iso():
    assert parse_date("2026-11-28") == dt.date(2026, 11, 28)
    for text in ("20261128", "28/11/2026", "2026-02-30"):
        with pytest.raises(WireFormatError):
            parse_date(text)


def test_datetimes_are_sent_in_utc_with_z_and_microseconds():
    london = dt.timezone(dt.timedelta(hours=1))

    assert format_datetime(dt.datetime(2026, 6, 1, 10, 0, tzinfo=london)) == (
        "2026-06-01T09:00:00.000000Z"
    )
    assert format_datetime(parse_datetime("2026-11-28T09:30:00.000001Z")) == (
        "2026-11-28T09:30:00.000001Z"
    )
    with pytest.raises(ValueError, match="naive"):
        format_datetime(dt.datetime(2026, 6, 1, 10, 0))


@pytest.mark.parametrize(
    ("python", "wire_field"),
    [
        ("mis_learner_id", "MISLearnerId"),
        ("qan_code", "QANCode"),
        ("uln", "ULN"),
        ("ni_number", "NINumber"),
        ("eds_id", "EdsId"),
        ("address_line1", "AddressLine1"),
        ("address_post_code", "AddressPostCode"),
        ("secondary_assessor_smart_assessor_id", "SecondaryAssessorSmartAssessorId"),
    ],
)
def test_python_names_map_to_the_contract_names(python, wire_field):
    assert wire_name(python) == wire_field


def test_learner_fields_are_exactly_the_contracts():
    assert [wire_name(f.name) for f in dataclasses.fields(Learner)] == list(wire.learner())


def test_resources_are_frozen():
    course = from_wire(Course, wire.course())

    with pytest.raises(dataclasses.FrozenInstanceError):
        course.is_active = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("SmartAssessorId", "12", "SmartAssessorId: expected an integer"),
        ("SmartAssessorId", True, "SmartAssessorId: expected an integer"),
        ("Name", None, "Name is null"),
        ("Name", 5, "Name: expected a string"),
    ],
)
def test_wrong_types_are_refused_with_the_field_named(field, value, message):
    with pytest.raises(WireFormatError, match=message):
        from_wire(Employer, wire.employer(**{field: value}))


def test_a_nullable_field_the_server_left_out_reads_as_none():
    body = wire.employer()
    del body["Website"]

    assert from_wire(Employer, body).website is None


def test_payload_strings_are_trimmed_and_blank_becomes_null():
    body = to_wire(
        EmployerInput(
            mis_employer_id=" ORG-41 ", name="Harbour", address_post_code="BS1 4AA", website=""
        )
    )

    assert body["MISEmployerId"] == "ORG-41"
    assert body["Website"] is None


def test_patch_payload_keeps_explicit_nulls_and_drops_unset_fields():
    assert to_wire(LearnerChanges(telephone=None, given_names="Amy")) == {
        "GivenNames": "Amy",
        "Telephone": None,
    }


def test_a_datetime_is_not_accepted_where_a_date_belongs():
    changes = LearnerChanges(start_date=dt.datetime(2026, 9, 1, tzinfo=dt.UTC))

    with pytest.raises(TypeError, match="expected a date"):
        to_wire(changes)
