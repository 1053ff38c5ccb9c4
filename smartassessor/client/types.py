"""The contract's resources (§7) and payloads as frozen dataclasses, and their wire format.

Python names are the contract's PascalCase names in snake case (``mis_learner_id`` is
``MISLearnerId``); ``wire_name`` is the one rule between them. Parsing checks every documented
field's type, and its range, length or format where the contract or the columns that store it
set one (``Bounds``), so that an answer that breaks them is a ``WireFormatError`` here and never
a database error later; it ignores fields it does not know, since the server may add some.
Serialising
trims strings and sends an empty one as null, dates as ``YYYY-MM-DD`` and date-times in UTC
with ``Z``. Payload classes hold only writable fields, so server-set ones are never sent.
"""

import dataclasses
import datetime as dt
import math
import re
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar, dataclass_transform

T = TypeVar("T")


class WireFormatError(ValueError):
    """A response body that does not have the documented shape."""


# --- Bounds ---------------------------------------------------------------------------------

# The largest integer an id or count may be: this project stores them in PositiveIntegerFields.
MAX_INT = 2**31 - 1
# Dates and date-times outside these years are refused: none is plausible for a learner, and
# a date-time near year 1 or 9999 overflows when it is shown in local time.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2999
# Characters no database column can hold (PostgreSQL refuses NUL; lone surrogates are no UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclasses.dataclass(frozen=True)
class Bounds:
    """What a value read from the wire must satisfy beyond its type (``Annotated`` metadata)."""

    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    pattern: re.Pattern | None = None
    format: str = ""

    def check(self, value: Any) -> Any:
        if self.max_length is not None and len(value) > self.max_length:
            raise WireFormatError(
                f"expected at most {self.max_length} characters, got {len(value)}"
            )
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise WireFormatError(f"expected {self.format}, got {_shown(value)}")
        too_low = self.minimum is not None and not value >= self.minimum
        too_high = self.maximum is not None and not value <= self.maximum
        if too_low or too_high:  # written so that NaN fails both
            raise WireFormatError(
                f"expected a value from {self.minimum} to {self.maximum}, got {_shown(value)}"
            )
        return value


def _length(max_length: int) -> Bounds:
    """At most ``max_length`` characters (the contract's and our columns' length): the
    bounds of a string, as in ``Annotated[str, _length(20)]``."""
    return Bounds(max_length=max_length)


_ID = Bounds(minimum=1, maximum=MAX_INT)
_COUNT = Bounds(minimum=0, maximum=MAX_INT)
_PERCENT = Bounds(minimum=0, maximum=100)
# Off-the-job hours: planned ones as the contract bounds them, logged ones up to ten years of
# full-time hours.
_PLANNED_HOURS = Bounds(minimum=0, maximum=5000)
_LOGGED_HOURS = Bounds(minimum=0, maximum=100_000)
_GUID = Bounds(
    pattern=re.compile(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    ),
    format="a GUID",
)
# Server-set codes (Status, Sex, Attendance, Band, TokenType): short words.
_CODE = Annotated[str, _length(30)]


def is_id(value: object, id_type: type) -> bool:
    """Whether ``value`` is a Smart Assessor id: an integer id, or a GUID for ``str``."""
    if type(value) is not id_type:  # bool is not an int id
        return False
    try:
        (_ID if id_type is int else _GUID).check(value)
    except WireFormatError:
        return False
    return True


CourseId = Annotated[int, _ID]
EmployerId = Annotated[int, _ID]
AssessorId = Annotated[int, _ID]
LearnerId = Annotated[str, _GUID]
LearnerCourseId = Annotated[str, _GUID]
SessionId = Annotated[str, _GUID]


class _Unset:
    """Marks a field left out of a PATCH (as opposed to None, which clears it)."""

    _instance = None

    def __new__(cls) -> "_Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()

_ACRONYMS = {"mis": "MIS", "qan": "QAN", "uln": "ULN", "ni": "NI"}


def wire_name(python_name: str) -> str:
    """``mis_learner_id`` → ``MISLearnerId``, ``address_line1`` → ``AddressLine1``."""
    return "".join(_ACRONYMS.get(part, part.capitalize()) for part in python_name.split("_"))


# --- Values ---------------------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _decode_str(value: object) -> str:
    if not isinstance(value, str):
        raise WireFormatError(f"expected a string, got {_shown(value)}")
    if _UNSTORABLE.search(value):
        raise WireFormatError(f"a NUL or an unpaired surrogate in {_shown(value)}")
    return value


def _decode_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise WireFormatError(f"expected an integer, got {_shown(value)}")


def _decode_float(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if math.isfinite(number):
            return number
    raise WireFormatError(f"expected a number, got {_shown(value)}")


def _decode_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise WireFormatError(f"expected true or false, got {_shown(value)}")


Day = TypeVar("Day", bound=dt.date)


def _plausible(value: Day) -> Day:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise WireFormatError(
            f"expected a year from {EARLIEST_YEAR} to {LATEST_YEAR}, got {value.isoformat()}"
        )
    return value


def parse_date(value: object) -> dt.date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            parsed = dt.date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return _plausible(parsed)
    raise WireFormatError(f"expected a date like 2026-11-28, got {_shown(value)}")


def parse_datetime(value: object) -> dt.datetime:
    """A contract date-time (UTC, ``Z``, up to 6 fractional digits) as an aware datetime."""
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        try:
            parsed = dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=dt.UTC)
        except ValueError:
            pass
        else:
            return _plausible(parsed)
    raise WireFormatError(f"expected a date-time like 2026-11-28T09:30:00Z, got {_shown(value)}")


def _encode_str(value: str) -> str | None:
    return value.strip() or None


def _encode_date(value: dt.date) -> str:
    if isinstance(value, dt.datetime):
        raise TypeError(f"expected a date, got the datetime {value!r}")
    return value.isoformat()


def format_datetime(value: dt.datetime) -> str:
    """Always 6 fractional digits, so a server's ``ModifiedAt`` is sent back exactly."""
    if value.tzinfo is None:
        raise ValueError(f"a naive datetime cannot be sent to Smart Assessor: {value!r}")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_DECODERS: dict[type, Callable[[Any], Any]] = {
    str: _decode_str,
    int: _decode_int,
    float: _decode_float,
    bool: _decode_bool,
    dt.date: parse_date,
    dt.datetime: parse_datetime,
}
_ENCODERS: dict[type, Callable[[Any], Any]] = {
    str: _encode_str,
    dt.date: _encode_date,
    dt.datetime: format_datetime,
}


@dataclasses.dataclass(frozen=True)
class _WireField:
    name: str
    wire: str
    nullable: bool
    decode: Callable[[Any], Any]
    encode: Callable[[Any], Any]


def _value_type(annotation: Any) -> tuple[type, Bounds | None, bool]:
    """The one value type of ``X``, ``X | None`` or ``X | None | _Unset`` (``X`` possibly
    ``Annotated[type, Bounds]``), its bounds and its nullability."""
    nullable = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = typing.get_args(annotation)
        concrete = [m for m in members if m not in (type(None), _Unset)]
        if len(concrete) != 1:
            raise TypeError(f"unsupported wire field type {annotation!r}")
        annotation, nullable = concrete[0], type(None) in members
    bounds = None
    if typing.get_origin(annotation) is Annotated:
        annotation, bounds = typing.get_args(annotation)
    if isinstance(annotation, type):
        return annotation, bounds, nullable
    raise TypeError(f"unsupported wire field type {annotation!r}")


def _bounded(decode: Callable[[Any], Any], bounds: Bounds | None) -> Callable[[Any], Any]:
    if bounds is None:
        return decode
    return lambda value: bounds.check(decode(value))


# Each class's wire fields, worked out on first use. (Not functools.cache: mypy does not take
# a class for the Hashable argument that cache's stub asks for.)
_WIRE_FIELDS: dict[type, tuple[_WireField, ...]] = {}


def _wire_fields(cls: type) -> tuple[_WireField, ...]:
    if cls not in _WIRE_FIELDS:
        _WIRE_FIELDS[cls] = _wire_fields_of(cls)
    return _WIRE_FIELDS[cls]


def _wire_fields_of(cls: type) -> tuple[_WireField, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    result = []
    for field in dataclasses.fields(cls):
        value_type, bounds, nullable = _value_type(hints[field.name])
        result.append(
            _WireField(
                name=field.name,
                wire=wire_name(field.name),
                nullable=nullable,
                decode=_bounded(_DECODERS[value_type], bounds),
                encode=_ENCODERS.get(value_type, lambda value: value),
            )
        )
    return tuple(result)


def from_wire(cls: type[T], data: object) -> T:
    """Build a resource from a response object, ignoring fields the contract does not name."""
    if not isinstance(data, dict):
        raise WireFormatError(f"expected a JSON object, got {_shown(data)}")
    values: dict[str, Any] = {}
    for field in _wire_fields(cls):
        value = data.get(field.wire)
        if value is None:
            if not field.nullable:
                state = "null" if field.wire in data else "missing"
                raise WireFormatError(f"{field.wire} is {state}")
            values[field.name] = None
            continue
        try:
            values[field.name] = field.decode(value)
        except WireFormatError as exc:
            raise WireFormatError(f"{field.wire}: {exc}") from None
    return cls(**values)


def to_wire(payload: object) -> dict[str, Any]:
    """A payload as a request body; fields left UNSET are not sent at all."""
    body = {}
    for field in _wire_fields(type(payload)):
        value = getattr(payload, field.name)
        if value is UNSET:
            continue
        body[field.wire] = None if value is None else field.encode(value)
    return body


# --- Envelopes ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list or feed (§4)."""

    items: tuple[T, ...]
    page: int
    page_size: int
    total_count: int


_ENVELOPE = {
    "Page": _ID,
    "PageSize": Bounds(minimum=1, maximum=500),  # the contract's range (§4)
    "TotalCount": _COUNT,
}


def _envelope(data: object) -> tuple[list, dict[str, int]]:
    """The raw items of a page and its Page, PageSize and TotalCount, all checked."""
    if not isinstance(data, dict):
        raise WireFormatError(f"expected a JSON object, got {_shown(data)}")
    raw_items = data.get("Items")
    if not isinstance(raw_items, list):
        raise WireFormatError(f"Items: expected a list, got {_shown(raw_items)}")
    envelope = {}
    for name, bounds in _ENVELOPE.items():
        try:
            envelope[name] = bounds.check(_decode_int(data.get(name)))
        except WireFormatError as exc:
            raise WireFormatError(f"{name}: {exc}") from None
    return raw_items, envelope


def parse_page(item_cls: type[T], data: object) -> Page[T]:
    raw_items, envelope = _envelope(data)
    items = []
    for index, raw in enumerate(raw_items):
        try:
            items.append(from_wire(item_cls, raw))
        except WireFormatError as exc:
            raise WireFormatError(f"Items[{index}].{exc}") from None
    return Page(
        items=tuple(items),
        page=envelope["Page"],
        page_size=envelope["PageSize"],
        total_count=envelope["TotalCount"],
    )


def parse_items(item_cls: type[T], data: object) -> tuple[T, ...]:
    """The ``{"Items": [...]}`` answer of an endpoint that is not paged."""
    if not isinstance(data, dict) or not isinstance(data.get("Items"), list):
        raise WireFormatError(f'expected {{"Items": [...]}}, got {_shown(data)}')
    items = []
    for index, raw in enumerate(data["Items"]):
        try:
            items.append(from_wire(item_cls, raw))
        except WireFormatError as exc:
            raise WireFormatError(f"Items[{index}].{exc}") from None
    return tuple(items)


@dataclasses.dataclass(frozen=True, slots=True)
class FeedPosition:
    """Where a change feed was read up to: the last item's ``ModifiedAt`` and id (§4)."""

    modified_at: dt.datetime
    smart_assessor_id: int | str

    def query(self) -> dict[str, str]:
        return {
            "ModifiedSince": format_datetime(self.modified_at),
            "AfterId": str(self.smart_assessor_id),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class MalformedItem:
    """An item of a change feed or scan without the documented shape, handed out in its place.

    One such record must not stop a read that every later read would stop on too, so the read
    goes on past it. ``modified_at`` and ``smart_assessor_id`` place it (for a Smart Coach
    score, which has no id of its own, the id is its learner's), each None when unreadable: a
    feed orders by both (§4), so without either it places itself by the items around it; a
    full list (a scan) orders by the id alone. ``sent_id`` is
    the id as Smart Assessor sent it, to name the record by. ``learner_id`` is the Smart
    Assessor learner it is about, None when the raw item does not name one usably.
    """

    raw: object
    error: str
    modified_at: dt.datetime | None
    smart_assessor_id: int | str | None
    learner_id: LearnerId | None
    sent_id: object = None

    @property
    def position(self) -> FeedPosition | None:
        if self.modified_at is None or self.smart_assessor_id is None:
            return None
        return FeedPosition(modified_at=self.modified_at, smart_assessor_id=self.smart_assessor_id)


def _raw_field(cls: type, raw: dict[str, Any], name: str) -> Any:
    """One field of a raw item, checked as ``from_wire`` checks it."""
    (field,) = (f for f in _wire_fields(cls) if f.name == name)
    value = raw.get(field.wire)
    if value is None:
        raise WireFormatError(f"{field.wire} is {'null' if field.wire in raw else 'missing'}")
    try:
        return field.decode(value)
    except WireFormatError as exc:
        raise WireFormatError(f"{field.wire}: {exc}") from None


def _readable_field(cls: type, raw: dict[str, Any], name: str) -> Any:
    """One field of a raw item as ``_raw_field`` reads it, or None when it cannot be read."""
    try:
        return _raw_field(cls, raw, name)
    except WireFormatError:
        return None


def parse_tolerant_page(
    item_cls: type[T], data: object, *, key: str, learner_key: str
) -> Page[T | MalformedItem]:
    """A page of a change feed or scan on which an item without the documented shape is a
    ``MalformedItem``.

    ``key`` names the item's id field (a feed's order after ``modified_at``, a scan's order),
    ``learner_key`` the one holding the item's learner. The envelope is checked as strictly as
    ``parse_page`` does; an item whose own place is unreadable is still a ``MalformedItem``,
    without it.
    """
    raw_items, envelope = _envelope(data)
    items: list[T | MalformedItem] = []
    for raw in raw_items:
        try:
            items.append(from_wire(item_cls, raw))
            continue
        except WireFormatError as exc:
            error = str(exc)
        if not isinstance(raw, dict):
            items.append(
                MalformedItem(
                    raw=raw, error=error, modified_at=None, smart_assessor_id=None, learner_id=None
                )
            )
            continue
        modified_at = _readable_field(item_cls, raw, "modified_at")
        smart_assessor_id = _readable_field(item_cls, raw, key)
        learner_id = _readable_field(item_cls, raw, learner_key)
        (key_field,) = (f for f in _wire_fields(item_cls) if f.name == key)
        items.append(
            MalformedItem(
                raw=raw,
                error=error,
                modified_at=modified_at,
                smart_assessor_id=smart_assessor_id,
                learner_id=learner_id,
                sent_id=raw.get(key_field.wire),
            )
        )
    return Page(
        items=tuple(items),
        page=envelope["Page"],
        page_size=envelope["PageSize"],
        total_count=envelope["TotalCount"],
    )


# --- Resources (what the server answers) ----------------------------------------------------
# Fields the contract requires on create may still be empty on records people made in Smart
# Assessor itself (the MIS ids above all); those are read as optional so that one such record
# cannot stop a whole page from being read. Lengths are the contract's (§7), which the columns
# that store them share.


@dataclass_transform(frozen_default=True, kw_only_default=True)
def _resource(cls: type[T]) -> type[T]:
    return dataclasses.dataclass(frozen=True, kw_only=True, slots=True)(cls)


@_resource
class AccessToken:
    access_token: Annotated[str, _length(4096)] = dataclasses.field(repr=False)
    token_type: _CODE
    expires_in: Annotated[int, _ID]


@_resource
class Course:
    smart_assessor_id: CourseId
    qan_code: Annotated[str, _length(20)]
    qualification_title: Annotated[str, _length(255)]
    is_active: bool


@_resource
class Employer:
    smart_assessor_id: EmployerId
    mis_employer_id: Annotated[str, _length(32)] | None
    name: Annotated[str, _length(100)]
    eds_id: Annotated[str, _length(9)] | None
    address_line1: Annotated[str, _length(50)] | None
    address_line2: Annotated[str, _length(50)] | None
    address_line3: Annotated[str, _length(50)] | None
    address_line4: Annotated[str, _length(50)] | None
    address_post_code: Annotated[str, _length(8)] | None
    telephone: Annotated[str, _length(20)] | None
    website: Annotated[str, _length(255)] | None
    employer_size: Annotated[str, _length(20)] | None
    modified_at: dt.datetime


@_resource
class Assessor:
    smart_assessor_id: AssessorId
    mis_assessor_id: Annotated[str, _length(32)] | None
    first_name: Annotated[str, _length(50)]
    last_name: Annotated[str, _length(50)]
    email: Annotated[str, _length(128)] | None
    telephone: Annotated[str, _length(20)] | None
    mobile: Annotated[str, _length(20)] | None
    modified_at: dt.datetime


@_resource
class Learner:
    smart_assessor_id: LearnerId
    mis_learner_id: Annotated[str, _length(32)] | None
    student_id: Annotated[str, _length(20)] | None
    given_names: Annotated[str, _length(50)]
    family_name: Annotated[str, _length(50)]
    date_of_birth: dt.date | None
    sex: _CODE | None
    uln: Annotated[str, _length(10)] | None
    ni_number: Annotated[str, _length(9)] | None
    email: Annotated[str, _length(128)] | None
    telephone: Annotated[str, _length(20)] | None
    mobile: Annotated[str, _length(20)] | None
    address_line1: Annotated[str, _length(50)] | None
    address_line2: Annotated[str, _length(50)] | None
    address_line3: Annotated[str, _length(50)] | None
    address_line4: Annotated[str, _length(50)] | None
    address_post_code: Annotated[str, _length(8)] | None
    start_date: dt.date | None
    employer_smart_assessor_id: EmployerId | None
    assessor_smart_assessor_id: AssessorId | None
    status: _CODE
    modified_at: dt.datetime


@_resource
class LearnerCourse:
    smart_assessor_id: LearnerCourseId
    learner_smart_assessor_id: LearnerId
    course_smart_assessor_id: CourseId
    qan_code: Annotated[str, _length(20)] | None
    primary_assessor_smart_assessor_id: AssessorId | None
    secondary_assessor_smart_assessor_id: AssessorId | None
    start_date: dt.date
    planned_end_date: dt.date
    status: _CODE
    progress_percent: Annotated[float, _PERCENT]
    assessed_percent: Annotated[float, _PERCENT]
    mapped_percent: Annotated[float, _PERCENT]
    timeline_percent: Annotated[float, _PERCENT]
    actual_end_date: dt.date | None
    # Contract 1.1; a server that predates it leaves them out, and they read as None.
    break_start_date: dt.date | None
    off_the_job_hours_planned: Annotated[float, _PLANNED_HOURS] | None
    off_the_job_hours_actual: Annotated[float, _LOGGED_HOURS] | None
    modified_at: dt.datetime


@_resource
class Session:
    smart_assessor_id: SessionId
    learner_smart_assessor_id: LearnerId
    assessor_smart_assessor_id: AssessorId | None
    course_smart_assessor_id: CourseId | None
    event_type: Annotated[str, _length(10)]
    planned_start: dt.datetime
    actual_start: dt.datetime | None
    duration_minutes: Annotated[int, _COUNT] | None
    attendance: _CODE | None
    feedback: Annotated[str, _length(4000)] | None
    modified_at: dt.datetime


@_resource
class EventType:
    code: Annotated[str, _length(10)]
    name: Annotated[str, _length(100)]


@_resource
class SmartCoachScore:
    learner_smart_assessor_id: LearnerId
    score: Annotated[float, Bounds(minimum=0, maximum=1)]
    band: _CODE
    modified_at: dt.datetime


# --- Payloads (what the client sends) -------------------------------------------------------


@dataclass_transform(frozen_default=True, kw_only_default=True)
def _payload(cls: type[T]) -> type[T]:
    return dataclasses.dataclass(frozen=True, kw_only=True)(cls)


@_payload
class EmployerInput:
    """Body of ``POST /employers`` and ``PUT /employers/{id}`` (PUT nulls what is None)."""

    mis_employer_id: str
    name: str
    eds_id: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    address_line4: str | None = None
    address_post_code: str
    telephone: str | None = None
    website: str | None = None
    employer_size: str | None = None


@_payload
class AssessorInput:
    """Body of ``POST /assessors`` and ``PUT /assessors/{id}``."""

    mis_assessor_id: str
    first_name: str
    last_name: str
    email: str
    telephone: str | None = None
    mobile: str | None = None


@_payload
class LearnerInput:
    """Body of ``POST /learners`` (``SendWelcomeEmail`` is an argument of the create call)."""

    mis_learner_id: str
    student_id: str | None = None
    given_names: str
    family_name: str
    date_of_birth: dt.date
    sex: str | None = None
    uln: str | None = None
    ni_number: str | None = None
    email: str
    telephone: str | None = None
    mobile: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    address_line4: str | None = None
    address_post_code: str | None = None
    start_date: dt.date
    employer_smart_assessor_id: EmployerId | None = None
    assessor_smart_assessor_id: AssessorId | None = None


@_payload
class LearnerChanges:
    """Body of ``PATCH /learners/{id}``: only the fields given are sent; None clears one."""

    student_id: str | _Unset | None = UNSET
    given_names: str | _Unset = UNSET
    family_name: str | _Unset = UNSET
    date_of_birth: dt.date | _Unset = UNSET
    sex: str | _Unset | None = UNSET
    uln: str | _Unset | None = UNSET
    ni_number: str | _Unset | None = UNSET
    email: str | _Unset = UNSET
    telephone: str | _Unset | None = UNSET
    mobile: str | _Unset | None = UNSET
    address_line1: str | _Unset | None = UNSET
    address_line2: str | _Unset | None = UNSET
    address_line3: str | _Unset | None = UNSET
    address_line4: str | _Unset | None = UNSET
    address_post_code: str | _Unset | None = UNSET
    start_date: dt.date | _Unset = UNSET
    employer_smart_assessor_id: EmployerId | _Unset | None = UNSET
    assessor_smart_assessor_id: AssessorId | _Unset | None = UNSET

    def __bool__(self) -> bool:
        """False when nothing would be sent."""
        return any(getattr(self, f.name) is not UNSET for f in dataclasses.fields(self))


@_payload
class LearnerCourseInput:
    """Body of ``POST /learners/{id}/courses``."""

    course_smart_assessor_id: CourseId
    primary_assessor_smart_assessor_id: AssessorId | None = None
    secondary_assessor_smart_assessor_id: AssessorId | None = None
    start_date: dt.date
    planned_end_date: dt.date
    # Left out of the body unless set, so a server that predates contract 1.1 is not sent it.
    off_the_job_hours_planned: float | _Unset | None = UNSET


@_payload
class LearnerCourseChanges:
    """Body of ``PATCH /learners/{id}/courses/{id}`` (contract 1.1): only the fields given are
    sent. ``status`` and ``status_date`` go together."""

    planned_end_date: dt.date | _Unset = UNSET
    primary_assessor_smart_assessor_id: AssessorId | _Unset | None = UNSET
    secondary_assessor_smart_assessor_id: AssessorId | _Unset | None = UNSET
    off_the_job_hours_planned: float | _Unset | None = UNSET
    status: str | _Unset = UNSET
    status_date: dt.date | _Unset = UNSET

    def __post_init__(self) -> None:
        if (self.status is UNSET) != (self.status_date is UNSET):
            raise ValueError("a status is sent with the date it took effect, and only with it")

    def __bool__(self) -> bool:
        """False when nothing would be sent."""
        return any(getattr(self, f.name) is not UNSET for f in dataclasses.fields(self))
