"""The contract's formats and rules (§1, §7, §8), written again for the sandbox on purpose.

The product has its own copy of these rules; keeping two readings of the contract means that a
misreading on one side is caught by the other, so nothing here may be imported from the product.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .errors import ApiError, Problem

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DATE_FORMAT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
DATETIME_FORMAT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$")
GUID_FORMAT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

POSTCODE = re.compile(r"^(?:[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}|GIR 0AA)$")
NI_NUMBER = re.compile(r"^[A-Z]{2}[0-9]{6}[A-D]$")
NI_BAD_FIRST_LETTERS = frozenset("DFIQUV")
NI_BAD_SECOND_LETTERS = frozenset("DFIOQUV")
NI_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
SEX_VALUES = ("Male", "Female", "Other", "NotKnown")
MIN_AGE, MAX_AGE = 14, 100
MAX_OFF_THE_JOB_HOURS = 5000
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 500, 100

Check = Callable[[str, Any], str | None]


# Dates and times -------------------------------------------------------------------------------


def parse_date(value: str) -> date | None:
    match = DATE_FORMAT.match(value)
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def parse_timestamp(value: str) -> int | None:
    """A contract date-time (UTC, ``Z``, up to 6 fractional digits) as microseconds since 1970."""
    match = DATETIME_FORMAT.match(value)
    if not match:
        return None
    *parts, fraction = match.groups()
    try:
        moment = datetime(*(int(part) for part in parts), tzinfo=UTC)
    except ValueError:
        return None
    micros = int((fraction or "").ljust(6, "0"))
    return (moment - EPOCH) // timedelta(microseconds=1) + micros


def format_timestamp(micros: int) -> str:
    """Always 6 fractional digits, as ModifiedAt must be."""
    return (EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def timestamp_date(micros: int) -> date:
    return (EPOCH + timedelta(microseconds=micros)).date()


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# §8 rules: each returns the message for a bad value, or None -----------------------------------


def uln_problem(name: str, value: str) -> str | None:
    if not re.fullmatch(r"[1-9][0-9]{9}", value):
        return f"{name} must be 10 digits, the first of them 1-9."
    weighted = sum(
        int(digit) * weight for digit, weight in zip(value[:9], range(10, 1, -1), strict=True)
    )
    expected = 10 - weighted % 11
    if expected == 10 or expected != int(value[9]):
        return f"{name} fails the ULN check digit test: check it with the Learner Record Service."
    return None


def ni_number_problem(name: str, value: str) -> str | None:
    if not NI_NUMBER.match(value):
        return (
            f"{name} must be a National Insurance number like AB123456C: two letters, six "
            "digits and A, B, C or D, in upper case without spaces."
        )
    if value[0] in NI_BAD_FIRST_LETTERS or value[1] in NI_BAD_SECOND_LETTERS:
        return f"{name} starts with letters no National Insurance number uses."
    if value[:2] in NI_BAD_PREFIXES:
        return f"{name} cannot start with {value[:2]}: that prefix is never issued."
    return None


def postcode_problem(name: str, value: str) -> str | None:
    if not POSTCODE.match(value):
        return f"{name} must be a UK postcode in upper case with one space, like S1 2AB."
    return None


def email_problem(name: str, value: str) -> str | None:
    local, _, domain = value.partition("@")
    if (
        value.count("@") != 1
        or not local
        or any(character.isspace() for character in value)
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
    ):
        return f"{name} must be an email address with one @, a dot in the domain and no spaces."
    return None


def digits_problem(name: str, value: str) -> str | None:
    if not re.fullmatch(r"[0-9]+", value):
        return f"{name} must be digits only."
    return None


# Field kinds ----------------------------------------------------------------------------------


def text(max_length: int, rule: Callable[[str, str], str | None] | None = None) -> Check:
    def check(name: str, value: Any) -> str | None:
        if not isinstance(value, str):
            return f"{name} must be a string."
        if value == "":
            return f"{name} must not be empty: send null to leave it blank."
        if value != value.strip():
            return f"{name} must not start or end with spaces."
        if len(value) > max_length:
            return f"{name} must be at most {max_length} characters (it has {len(value)})."
        return rule(name, value) if rule else None

    return check


def integer(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{name} must be a whole number."
    return None


def hours(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} must be a number of hours."
    if not 0 <= value <= MAX_OFF_THE_JOB_HOURS:
        return f"{name} must be from 0 to {MAX_OFF_THE_JOB_HOURS} hours."
    # A float written with one decimal place is the float nearest that decimal, and rounding it
    # to one place gives it back; any finer value comes back changed.
    if round(value, 1) != value:
        return f"{name} must have at most one decimal place."
    return None


def boolean(name: str, value: Any) -> str | None:
    if not isinstance(value, bool):
        return f"{name} must be true or false."
    return None


def a_date(name: str, value: Any) -> str | None:
    if not isinstance(value, str) or parse_date(value) is None:
        return f"{name} must be a date written YYYY-MM-DD."
    return None


def one_of(*choices: str) -> Check:
    def check(name: str, value: Any) -> str | None:
        if value not in choices:
            return f"{name} must be one of {', '.join(choices)}."
        return None

    return check


@dataclass(frozen=True)
class Field:
    name: str
    check: Check
    required: bool = False


@dataclass(frozen=True)
class Schema:
    """The writable fields of a request body, and the server-set ones it may carry but that
    are ignored (§7)."""

    fields: tuple[Field, ...]
    server_set: frozenset[str] = field(default_factory=frozenset)

    def known(self) -> set[str]:
        return {item.name for item in self.fields} | self.server_set

    def extended(self, *extra: Field) -> "Schema":
        return Schema(self.fields + extra, self.server_set)


def _address(max_length: int = 50) -> tuple[Field, ...]:
    return tuple(Field(f"AddressLine{n}", text(max_length)) for n in range(1, 5))


EMPLOYER = Schema(
    (
        Field("MISEmployerId", text(32), required=True),
        Field("Name", text(100), required=True),
        Field("EdsId", text(9, digits_problem)),
        *_address(),
        Field("AddressPostCode", text(8, postcode_problem), required=True),
        Field("Telephone", text(20)),
        Field("Website", text(255)),
        Field("EmployerSize", text(20)),
    ),
    frozenset({"SmartAssessorId", "ModifiedAt"}),
)

ASSESSOR = Schema(
    (
        Field("MISAssessorId", text(32), required=True),
        Field("FirstName", text(50), required=True),
        Field("LastName", text(50), required=True),
        Field("Email", text(128, email_problem), required=True),
        Field("Telephone", text(20)),
        Field("Mobile", text(20)),
    ),
    frozenset({"SmartAssessorId", "ModifiedAt"}),
)

LEARNER = Schema(
    (
        Field("MISLearnerId", text(32), required=True),
        Field("StudentId", text(20)),
        Field("GivenNames", text(50), required=True),
        Field("FamilyName", text(50), required=True),
        Field("DateOfBirth", a_date, required=True),
        Field("Sex", one_of(*SEX_VALUES)),
        Field("ULN", text(10, uln_problem)),
        Field("NINumber", text(9, ni_number_problem)),
        Field("Email", text(128, email_problem), required=True),
        Field("Telephone", text(20)),
        Field("Mobile", text(20)),
        *_address(),
        Field("AddressPostCode", text(8, postcode_problem)),
        Field("StartDate", a_date, required=True),
        Field("EmployerSmartAssessorId", integer),
        Field("AssessorSmartAssessorId", integer),
    ),
    frozenset({"SmartAssessorId", "Status", "ModifiedAt"}),
)
LEARNER_CREATE = LEARNER.extended(Field("SendWelcomeEmail", boolean))

LEARNER_COURSE = Schema(
    (
        Field("CourseSmartAssessorId", integer, required=True),
        Field("PrimaryAssessorSmartAssessorId", integer),
        Field("SecondaryAssessorSmartAssessorId", integer),
        Field("StartDate", a_date, required=True),
        Field("PlannedEndDate", a_date, required=True),
        Field("OffTheJobHoursPlanned", hours),
    ),
    frozenset(
        {
            "SmartAssessorId",
            "LearnerSmartAssessorId",
            "QANCode",
            "Status",
            "ProgressPercent",
            "AssessedPercent",
            "MappedPercent",
            "TimelinePercent",
            "ActualEndDate",
            "BreakStartDate",
            "OffTheJobHoursActual",
            "ModifiedAt",
        }
    ),
)

ENROLMENT_STATUSES = (
    "AwaitingInduction",
    "InTraining",
    "Completed",
    "Withdrawn",
    "BreakInLearning",
)
TRANSITIONS = {
    "AwaitingInduction": ("InTraining", "BreakInLearning", "Withdrawn"),
    "InTraining": ("BreakInLearning", "Withdrawn", "Completed"),
    "BreakInLearning": ("InTraining", "Withdrawn"),
    "Completed": (),
    "Withdrawn": (),
}
# Where an enrolment keeps the StatusDate that put it in each status that records one.
STATUS_DATE_FIELDS = {
    "BreakInLearning": "BreakStartDate",
    "Completed": "ActualEndDate",
    "Withdrawn": "ActualEndDate",
}

# What PATCH may change on an enrolment. It lists no server-set fields: on this PATCH they are
# refused as unknown, not ignored (§7.5).
LEARNER_COURSE_CHANGE = Schema(
    (
        Field("PlannedEndDate", a_date, required=True),
        Field("PrimaryAssessorSmartAssessorId", integer),
        Field("SecondaryAssessorSmartAssessorId", integer),
        Field("OffTheJobHoursPlanned", hours),
        Field("Status", one_of(*ENROLMENT_STATUSES), required=True),
        Field("StatusDate", a_date, required=True),
    )
)

TOKEN_REQUEST = Schema(
    (
        Field("Username", text(256), required=True),
        Field("Password", text(256), required=True),
        Field("ClientKey", text(256), required=True),
    )
)


def reject_unknown(names: list[str], what: str) -> None:
    if names:
        raise ApiError(
            400,
            [Problem("unknown_field", f"{name} is not a known {what}.", name) for name in names],
        )


def clean(
    body: dict[str, Any], schema: Schema, *, partial: bool = False
) -> tuple[dict[str, Any], list[Problem]]:
    """Check a body against a schema.

    Unknown fields fail at once; every other problem is collected so the client can show each
    message next to its field. The values returned leave out server-set fields and fields with a
    problem; unless ``partial`` (PATCH), every writable field is there, omitted ones as None, so
    a PUT replaces the whole object.
    """
    known = schema.known()
    reject_unknown([name for name in body if name not in known], "field")
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for item in schema.fields:
        if partial and item.name not in body:
            continue
        value = body.get(item.name)
        if value is None:
            if item.required:
                problems.append(Problem("validation", f"{item.name} is required.", item.name))
            else:
                values[item.name] = None
            continue
        message = item.check(item.name, value)
        if message:
            problems.append(Problem("validation", message, item.name))
        else:
            values[item.name] = value
    return values, problems


def age_problem(born_text: str, today: date) -> Problem | None:
    age = age_on(date.fromisoformat(born_text), today)
    if MIN_AGE <= age <= MAX_AGE:
        return None
    return Problem(
        "validation",
        f"DateOfBirth gives an age of {age} on {today.isoformat()}: a learner must be "
        f"{MIN_AGE} to {MAX_AGE} years old.",
        "DateOfBirth",
    )


def status_date_problem(
    enrolment: dict[str, Any], wanted: str, day: date, today: date
) -> Problem | None:
    """What is wrong with ``day`` as the StatusDate of moving ``enrolment`` to ``wanted``."""
    status = enrolment["Status"]
    if status == wanted == "InTraining":
        return None  # a retried induction or return changes nothing, whatever its date says
    if day < date.fromisoformat(enrolment["StartDate"]):
        message = (
            f"StatusDate must not be before the enrolment's StartDate, {enrolment['StartDate']}."
        )
    elif day > today:
        message = f"StatusDate must not be after today, {today.isoformat()}."
    elif (status, wanted) == ("BreakInLearning", "InTraining") and day < date.fromisoformat(
        enrolment["BreakStartDate"]
    ):
        message = (
            "StatusDate of a return must not be before the break started, on "
            f"{enrolment['BreakStartDate']} (BreakStartDate)."
        )
    else:
        return None
    return Problem("validation", message, "StatusDate")


def status_change(enrolment: dict[str, Any], wanted: str, day: str) -> dict[str, Any]:
    """The fields that moving ``enrolment`` to ``wanted`` on ``day`` sets, none when it is
    there already; ``409 invalid_transition`` for a move the contract does not make."""
    status = enrolment["Status"]
    recorded_in = STATUS_DATE_FIELDS.get(status)
    if status == wanted and (
        status == "InTraining" or (recorded_in and enrolment[recorded_in] == day)
    ):
        return {}
    if status == wanted and recorded_in:
        message = (
            f"The enrolment is already {status}, with {recorded_in} {enrolment[recorded_in]}: it "
            f"cannot move from {status} to {status} again on {day}."
        )
    elif wanted not in TRANSITIONS[status]:
        onward = TRANSITIONS[status]
        message = f"An enrolment cannot move from {status} to {wanted}: " + (
            f"from {status} it can move to {', '.join(onward)}."
            if onward
            else f"{status} is final."
        )
    else:
        return {
            "Status": wanted,
            "BreakStartDate": day if wanted == "BreakInLearning" else None,
            "ActualEndDate": day if wanted in ("Completed", "Withdrawn") else None,
        }
    raise ApiError.of(409, "invalid_transition", message, "Status")


# Query parameters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """What a list or feed request asks for, once its query parameters are checked."""

    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    modified_since: int | None = None
    after_id: str | None = None
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def is_feed(self) -> bool:
        return self.modified_since is not None


def query_text(name: str, value: str, max_length: int) -> str:
    message = text(max_length)(name, value)
    if message:
        raise ApiError.of(400, "validation", message, name)
    return value


def _query_number(name: str, value: str, lowest: int, highest: int | None) -> int:
    bounds = f"from {lowest} to {highest}" if highest else f"{lowest} or more"
    if not re.fullmatch(r"[0-9]{1,18}", value) or not (
        lowest <= int(value) <= (highest or int(value))
    ):
        raise ApiError.of(400, "validation", f"{name} must be a whole number {bounds}.", name)
    return int(value)


def listing(query: dict[str, str], *, feed: bool, filters: dict[str, int] | None = None) -> Listing:
    """Parse the paging, feed and filter parameters of a list endpoint (§4).

    ``filters`` names the endpoint's other parameters and their maximum lengths. Feed
    parameters on an endpoint that is not a feed are unknown parameters, like any other.
    """
    filters = filters or {}
    allowed = {"Page", "PageSize", *filters}
    if feed:
        allowed |= {"ModifiedSince", "AfterId"}
    reject_unknown(sorted(name for name in query if name not in allowed), "query parameter")

    page_size = DEFAULT_PAGE_SIZE
    if "PageSize" in query:
        page_size = _query_number("PageSize", query["PageSize"], 1, MAX_PAGE_SIZE)
    page = _query_number("Page", query["Page"], 1, None) if "Page" in query else 1

    modified_since = None
    if "ModifiedSince" in query:
        modified_since = parse_timestamp(query["ModifiedSince"])
        if modified_since is None:
            raise ApiError.of(
                400,
                "validation",
                "ModifiedSince must be a UTC date-time like 2026-11-28T09:30:00Z "
                "(up to 6 fractional digits, Z suffix).",
                "ModifiedSince",
            )
        if "Page" in query:
            raise ApiError.of(
                400,
                "validation",
                "Page cannot be combined with ModifiedSince: read a feed by keyset "
                "(ModifiedSince and AfterId of the last item).",
                "Page",
            )
    after_id = None
    if "AfterId" in query:
        if modified_since is None:
            raise ApiError.of(400, "validation", "AfterId needs ModifiedSince.", "AfterId")
        after_id = query["AfterId"].lower()
        if not GUID_FORMAT.match(after_id):
            raise ApiError.of(400, "validation", "AfterId must be a GUID.", "AfterId")
    chosen = {
        name: query_text(name, query[name], max_length)
        for name, max_length in filters.items()
        if name in query
    }
    return Listing(page, page_size, modified_since, after_id, chosen)
