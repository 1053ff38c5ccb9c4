"""MIS records ↔ Smart Assessor payloads: one table of field mappings per exchange.

The same tables build what is sent at enrolment, drive what the synchronisation reads and
writes, and render the Data Exchange page (F11), so the page cannot drift from what is sent.
"""

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from learners.models import (
    Attendance,
    Learner,
    LearnerQualification,
    Officer,
    Organisation,
    QualificationStatus,
    RiskBand,
    Sex,
)

from .client import types as sa

TO_SA = "MIS → Smart Assessor"
FROM_SA = "Smart Assessor → MIS"
BY_MODE = "MIS ↔ Smart Assessor, by mode"

ALWAYS = "always"
STUDENT_ID_SETTING = "Set Student ID to LRN"
WELCOME_SETTING = "Send Learner Welcome Email"
LEARNER_MODE_SETTING = "Learner Demographics Mode"
GENDER_SETTING = "Learner Demographics Mode and Update Learner Gender"
OFFICER_MODE_SETTING = "Officer Demographics Mode"
RISK_SETTING = "Update Risk from Smart Coach Score"
SECOND_ASSESSOR_SETTING = "Qualification Second Assessor Role"
REVIEW_MAPPING_SETTING = "review type mapping (Summary page)"
LIFECYCLE_SETTING = "Always, except while a change of it made in the MIS waits to be sent"

SEX_TO_SA = {
    Sex.MALE: "Male",
    Sex.FEMALE: "Female",
    Sex.OTHER: "Other",
    Sex.NOT_KNOWN: "NotKnown",
}
SEX_FROM_SA = {value: key for key, value in SEX_TO_SA.items()}
COURSE_STATUS_FROM_SA = {
    "AwaitingInduction": QualificationStatus.NOT_STARTED,
    "InTraining": QualificationStatus.IN_PROGRESS,
    "BreakInLearning": QualificationStatus.BREAK_IN_LEARNING,
    "Completed": QualificationStatus.COMPLETED,
    "Withdrawn": QualificationStatus.WITHDRAWN,
}
# The statuses a change in the MIS sends (contract 1.1): no enrolment goes back to Not started.
COURSE_STATUS_TO_SA = {
    QualificationStatus.IN_PROGRESS: "InTraining",
    QualificationStatus.BREAK_IN_LEARNING: "BreakInLearning",
    QualificationStatus.COMPLETED: "Completed",
    QualificationStatus.WITHDRAWN: "Withdrawn",
}
ATTENDANCE_FROM_SA = {
    None: Attendance.UNKNOWN,
    "Attended": Attendance.ATTENDED,
    "NotAttended": Attendance.NOT_ATTENDED,
    "Cancelled": Attendance.CANCELLED,
}
RISK_FROM_SA = {"Low": RiskBand.LOW, "Medium": RiskBand.MEDIUM, "High": RiskBand.HIGH}


@dataclasses.dataclass(frozen=True)
class FieldMap:
    """One field of an exchange: where it comes from, where it goes, and what governs it."""

    sa_attr: str
    mis_field: str
    direction: str
    setting: str = ALWAYS
    value: Callable[[Any], Any] | None = None

    @property
    def sa_field(self) -> str:
        return sa.wire_name(self.sa_attr)


@dataclasses.dataclass(frozen=True)
class Exchange:
    title: str
    endpoint: str
    fields: tuple[FieldMap, ...]


def _text(attr: str) -> Callable[[Any], str]:
    return lambda record: getattr(record, attr)


# --- Enrolment (MIS → SA) -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LearnerSource:
    learner: Learner
    set_student_id_to_lrn: bool
    employer_id: int | None
    assessor_id: int | None


@dataclasses.dataclass(frozen=True)
class CourseSource:
    learner_qualification: LearnerQualification
    course_id: int
    primary_assessor_id: int | None
    secondary_assessor_id: int | None


def hours_to_sa(hours: Decimal | None) -> float | None:
    return None if hours is None else float(hours)


def hours_from_sa(hours: float | None) -> Decimal | None:
    return None if hours is None else Decimal(str(round(hours, 1)))


def _learner(attr: str) -> Callable[[LearnerSource], Any]:
    return lambda source: getattr(source.learner, attr)


LEARNER_AT_ENROLMENT = Exchange(
    "Learner, sent at enrolment",
    "POST /learners",
    (
        FieldMap("mis_learner_id", "Learner Ident", TO_SA, value=_learner("ident")),
        FieldMap(
            "student_id",
            "LRN (empty when the setting is off)",
            TO_SA,
            STUDENT_ID_SETTING,
            value=lambda s: s.learner.lrn if s.set_student_id_to_lrn else None,
        ),
        FieldMap("given_names", "First name", TO_SA, value=_learner("first_name")),
        FieldMap("family_name", "Surname", TO_SA, value=_learner("surname")),
        FieldMap("date_of_birth", "Date of birth", TO_SA, value=_learner("date_of_birth")),
        FieldMap("sex", "Sex", TO_SA, value=lambda s: SEX_TO_SA[s.learner.sex]),
        FieldMap("uln", "ULN", TO_SA, value=_learner("uln")),
        FieldMap("ni_number", "NI number", TO_SA, value=_learner("ni_number")),
        FieldMap("email", "Email", TO_SA, value=_learner("email")),
        FieldMap("telephone", "Phone", TO_SA, value=_learner("phone")),
        FieldMap("mobile", "Mobile", TO_SA, value=_learner("mobile")),
        *(
            FieldMap(
                f"address_line{n}", f"Address line {n}", TO_SA, value=_learner(f"address_line{n}")
            )
            for n in range(1, 5)
        ),
        FieldMap("address_post_code", "Postcode", TO_SA, value=_learner("postcode")),
        FieldMap("start_date", "Programme start date", TO_SA, value=_learner("start_date")),
        FieldMap(
            "employer_smart_assessor_id",
            "Current placement's organisation (its SA employer id)",
            TO_SA,
            value=lambda s: s.employer_id,
        ),
        FieldMap(
            "assessor_smart_assessor_id",
            "Main officer (their SA assessor id)",
            TO_SA,
            value=lambda s: s.assessor_id,
        ),
        FieldMap("send_welcome_email", "(the setting itself)", TO_SA, WELCOME_SETTING, value=None),
    ),
)

EMPLOYER_AT_ENROLMENT = Exchange(
    "Employer, sent when it is created at enrolment",
    "POST /employers",
    (
        FieldMap("mis_employer_id", "Organisation id", TO_SA, value=lambda o: str(o.pk)),
        FieldMap("name", "Name", TO_SA, value=_text("name")),
        FieldMap("eds_id", "EDRS number", TO_SA, value=_text("edrs_number")),
        *(
            FieldMap(
                f"address_line{n}", f"Address line {n}", TO_SA, value=_text(f"address_line{n}")
            )
            for n in range(1, 5)
        ),
        FieldMap("address_post_code", "Postcode", TO_SA, value=_text("postcode")),
        FieldMap("telephone", "Phone", TO_SA, value=_text("phone")),
        FieldMap("website", "Website", TO_SA, value=_text("website")),
        FieldMap("employer_size", "Employer size", TO_SA, value=_text("size_band")),
    ),
)

ASSESSOR_AT_ENROLMENT = Exchange(
    "Assessor, sent when it is created at enrolment",
    "POST /assessors",
    (
        FieldMap("mis_assessor_id", "Officer id", TO_SA, value=lambda o: str(o.pk)),
        FieldMap("first_name", "Forenames", TO_SA, value=_text("forenames")),
        FieldMap("last_name", "Surname", TO_SA, value=_text("surname")),
        FieldMap("email", "Email", TO_SA, value=_text("email")),
        FieldMap("telephone", "Phone", TO_SA, value=_text("phone")),
        FieldMap("mobile", "Mobile", TO_SA, value=_text("mobile")),
    ),
)

COURSE_AT_ENROLMENT = Exchange(
    "Course enrolment, one for each qualification Smart Assessor offers",
    "POST /learners/{id}/courses",
    (
        FieldMap(
            "course_smart_assessor_id",
            "Qualification (its linked SA course)",
            TO_SA,
            value=lambda s: s.course_id,
        ),
        FieldMap(
            "primary_assessor_smart_assessor_id",
            "Main officer (their SA assessor id)",
            TO_SA,
            value=lambda s: s.primary_assessor_id,
        ),
        FieldMap(
            "secondary_assessor_smart_assessor_id",
            "The learner's officer in the second assessor role",
            TO_SA,
            SECOND_ASSESSOR_SETTING,
            value=lambda s: s.secondary_assessor_id,
        ),
        FieldMap(
            "start_date",
            "Qualification start date",
            TO_SA,
            value=lambda s: s.learner_qualification.start_date,
        ),
        FieldMap(
            "planned_end_date",
            "Qualification planned end date",
            TO_SA,
            value=lambda s: s.learner_qualification.planned_end_date,
        ),
        FieldMap(
            "off_the_job_hours_planned",
            "Planned off-the-job hours (left out when not recorded)",
            TO_SA,
            value=lambda s: (
                sa.UNSET
                if s.learner_qualification.off_the_job_hours_planned is None
                else hours_to_sa(s.learner_qualification.off_the_job_hours_planned)
            ),
        ),
    ),
)

COURSE_CHANGES = Exchange(
    "Changes to a qualification, pushed within a minute of being saved (contract 1.1)",
    "PATCH /learners/{id}/courses/{id}",
    (
        FieldMap(
            "status",
            "Status: In progress → InTraining, Break in learning → BreakInLearning, "
            "Completed, Withdrawn (never back to Not started)",
            TO_SA,
        ),
        FieldMap(
            "status_date",
            "When it took effect: the break's start date, the return date, or the actual end date",
            TO_SA,
        ),
        FieldMap("planned_end_date", "Qualification planned end date", TO_SA),
        FieldMap("off_the_job_hours_planned", "Planned off-the-job hours", TO_SA),
        FieldMap(
            "primary_assessor_smart_assessor_id", "Main officer (their SA assessor id)", TO_SA
        ),
        FieldMap(
            "secondary_assessor_smart_assessor_id",
            "The learner's officer in the second assessor role",
            TO_SA,
            SECOND_ASSESSOR_SETTING,
        ),
    ),
)


def _build(payload_cls: type, exchange: Exchange, source: Any) -> Any:
    """The payload from the exchange's fields; fields without a value are call arguments."""
    return payload_cls(**{m.sa_attr: m.value(source) for m in exchange.fields if m.value})


def learner_payload(source: LearnerSource) -> sa.LearnerInput:
    return _build(sa.LearnerInput, LEARNER_AT_ENROLMENT, source)


def employer_payload(organisation: Organisation) -> sa.EmployerInput:
    return _build(sa.EmployerInput, EMPLOYER_AT_ENROLMENT, organisation)


def assessor_payload(officer: Officer) -> sa.AssessorInput:
    return _build(sa.AssessorInput, ASSESSOR_AT_ENROLMENT, officer)


def course_payload(source: CourseSource) -> sa.LearnerCourseInput:
    return _build(sa.LearnerCourseInput, COURSE_AT_ENROLMENT, source)


# --- Synchronisation (SA → MIS, and details by mode) -----------------------------------------


def _percent(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


@dataclasses.dataclass(frozen=True)
class SyncField:
    """A field the synchronisation compares: the MIS attribute and the conversions."""

    sa_attr: str
    mis_attr: str
    mis_field: str
    direction: str
    setting: str = ALWAYS
    from_sa: Callable[[Any], Any] = lambda value: value
    to_sa: Callable[[Any], Any] = lambda value: value

    @property
    def sa_field(self) -> str:
        return sa.wire_name(self.sa_attr)


PROGRESS_FIELDS = (
    SyncField("progress_percent", "progress_percent", "Progress %", FROM_SA, from_sa=_percent),
    SyncField("assessed_percent", "assessed_percent", "Assessed %", FROM_SA, from_sa=_percent),
    SyncField("mapped_percent", "mapped_percent", "Mapped %", FROM_SA, from_sa=_percent),
    SyncField("timeline_percent", "timeline_percent", "Timeline %", FROM_SA, from_sa=_percent),
    SyncField(
        "status",
        "status",
        "Status",
        FROM_SA,
        LIFECYCLE_SETTING,
        from_sa=COURSE_STATUS_FROM_SA.__getitem__,
    ),
    SyncField("actual_end_date", "actual_end_date", "Actual end date", FROM_SA, LIFECYCLE_SETTING),
    SyncField(
        "off_the_job_hours_actual",
        "off_the_job_hours_actual",
        "Off-the-job hours logged",
        FROM_SA,
        from_sa=hours_from_sa,
    ),
)
# What the MIS decides (F30): while a change of it waits to be sent, or was refused, the
# synchronisation keeps the MIS's values of these.
LIFECYCLE_ATTRS = ("status", "actual_end_date")

REVIEW_FIELDS = (
    SyncField("event_type", "review_type", "Review type", FROM_SA, REVIEW_MAPPING_SETTING),
    SyncField("planned_start", "proposed_at", "Proposed date and time", FROM_SA),
    SyncField("actual_start", "actual_at", "Actual date and time", FROM_SA),
    SyncField("assessor_smart_assessor_id", "reviewer", "Reviewer (the linked officer)", FROM_SA),
    SyncField(
        "attendance", "attendance", "Attendance", FROM_SA, from_sa=ATTENDANCE_FROM_SA.__getitem__
    ),
    SyncField("feedback", "notes", "Notes", FROM_SA, from_sa=lambda value: value or ""),
)


def _blank_to_none(value: str) -> str | None:
    return value or None


def _none_to_blank(value: str | None) -> str:
    return value or ""


def _detail(sa_attr: str, mis_attr: str, label: str, setting: str, **kwargs: Any) -> SyncField:
    kwargs.setdefault("from_sa", _none_to_blank)
    kwargs.setdefault("to_sa", _blank_to_none)
    return SyncField(sa_attr, mis_attr, label, BY_MODE, setting, **kwargs)


LEARNER_DETAIL_FIELDS = (
    _detail("given_names", "first_name", "First name", LEARNER_MODE_SETTING),
    _detail("family_name", "surname", "Surname", LEARNER_MODE_SETTING),
    _detail(
        "date_of_birth",
        "date_of_birth",
        "Date of birth",
        LEARNER_MODE_SETTING,
        from_sa=lambda value: value,
        to_sa=lambda value: value,
    ),
    _detail(
        "sex",
        "sex",
        "Sex",
        GENDER_SETTING,
        from_sa=lambda value: SEX_FROM_SA.get(value, Sex.NOT_KNOWN),
        to_sa=SEX_TO_SA.__getitem__,
    ),
    _detail("ni_number", "ni_number", "NI number", LEARNER_MODE_SETTING),
    _detail("email", "email", "Email", LEARNER_MODE_SETTING),
    _detail("telephone", "phone", "Phone", LEARNER_MODE_SETTING),
    _detail("mobile", "mobile", "Mobile", LEARNER_MODE_SETTING),
    *(
        _detail(f"address_line{n}", f"address_line{n}", f"Address line {n}", LEARNER_MODE_SETTING)
        for n in range(1, 5)
    ),
    _detail("address_post_code", "postcode", "Postcode", LEARNER_MODE_SETTING),
    # ULN is only ever pushed: Smart Assessor is never the source of a learner's ULN.
    SyncField(
        "uln", "uln", "ULN", TO_SA, LEARNER_MODE_SETTING + " (push only)", to_sa=_blank_to_none
    ),
)

OFFICER_DETAIL_FIELDS = (
    _detail("first_name", "forenames", "Forenames", OFFICER_MODE_SETTING),
    _detail("last_name", "surname", "Surname", OFFICER_MODE_SETTING),
    _detail("email", "email", "Email", OFFICER_MODE_SETTING),
    _detail("telephone", "phone", "Phone", OFFICER_MODE_SETTING),
    _detail("mobile", "mobile", "Mobile", OFFICER_MODE_SETTING),
)

RISK_FIELDS = (
    SyncField("band", "risk_band", "Risk band", FROM_SA, RISK_SETTING, from_sa=RISK_FROM_SA.get),
)


@dataclasses.dataclass(frozen=True)
class SyncExchange:
    title: str
    endpoint: str
    fields: tuple[SyncField, ...]


DATA_EXCHANGE = (
    LEARNER_AT_ENROLMENT,
    EMPLOYER_AT_ENROLMENT,
    ASSESSOR_AT_ENROLMENT,
    COURSE_AT_ENROLMENT,
    COURSE_CHANGES,
    SyncExchange(
        "Qualification progress, read by every synchronisation",
        "GET /learner-courses (feed)",
        PROGRESS_FIELDS,
    ),
    SyncExchange("Reviews, read by every synchronisation", "GET /sessions (feed)", REVIEW_FIELDS),
    SyncExchange(
        "Learner details, compared by every synchronisation; in Push mode also pushed within a "
        "minute of being saved",
        "GET /learners (feed), PATCH /learners/{id}",
        LEARNER_DETAIL_FIELDS,
    ),
    SyncExchange(
        "Officer details, compared for linked officers",
        "GET /assessors/{id}, PUT /assessors/{id}",
        OFFICER_DETAIL_FIELDS,
    ),
    SyncExchange("Risk, from Smart Coach", "GET /smart-coach (feed)", RISK_FIELDS),
)
