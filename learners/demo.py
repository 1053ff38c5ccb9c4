"""The demo data: a small training provider with its officers, employers, catalogue and learners.

Everything comes from the tables below, so every load gives the same data. Loading is
idempotent: records are found by their natural keys (Learner Ident, qualification reference,
officer email, EDRS number, role and review type names) and created only when missing. An
existing record is left as it is, with its plan, placements and reviews, because `make run`
seeds on every start and whatever was changed while trying the demo (including progress pulled
from Smart Assessor) must survive a restart.

Contact details cannot reach anyone: email domains are reserved `.example` ones and phone
numbers come from the ranges Ofcom keeps for drama (0113 496 0xxx, 07700 900xxx, ...), so a
welcome email or a call made from the demo goes nowhere.
"""

import calendar
import datetime
import json
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models, transaction

from picsweb import roles
from picsweb.errors import ApplicationError

from . import employers
from .models import (
    Attendance,
    BreakInLearning,
    EmployerSize,
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    LearnerStatus,
    Officer,
    OfficerRole,
    Organisation,
    Placement,
    Qualification,
    QualificationStatus,
    Review,
    ReviewType,
    RiskBand,
    Sex,
)
from .validators import uln_is_valid

# The day the demo describes: timelines, progress and which reviews have taken place are as
# at this day, so the data is the same whenever it is loaded.
AS_AT = datetime.date(2026, 11, 28)
UK = ZoneInfo("Europe/London")

ASSESSOR = "Assessor"
TRAINING_ADVISER = "Training Adviser"
INTERNAL_VERIFIER = "Internal Verifier"
MENTOR = "Mentor"
SECOND_ASSESSOR = "Second Assessor"
OFFICER_ROLES = (ASSESSOR, TRAINING_ADVISER, INTERNAL_VERIFIER, MENTOR, SECOND_ASSESSOR)

PROGRESS_REVIEW = "Progress Review"
INDUCTION = "Induction"
ASSESSMENT_VISIT = "Assessment Visit"
GATEWAY = "End Point Assessment Gateway"
EXIT_REVIEW = "Exit Review"
REVIEW_TYPES = (PROGRESS_REVIEW, INDUCTION, ASSESSMENT_VISIT, GATEWAY, EXIT_REVIEW)

PROGRAMME_AIM = "ZPROG001"


@dataclass(frozen=True)
class DemoQualification:
    reference: str
    title: str
    awarding_body: str
    level: int | None
    months: int
    """Typical time from start to planned end, end-point assessment included."""


QUALIFICATIONS = {
    q.reference: q
    for q in (
        DemoQualification("ST0070", "Business Administrator", "City & Guilds", 3, 18),
        DemoQualification("ST0072", "Customer Service Practitioner", "Highfield Assessment", 2, 12),
        DemoQualification(
            "ST0384", "Team Leader or Supervisor", "Chartered Management Institute", 3, 15
        ),
        DemoQualification(
            "ST0385", "Operations or Departmental Manager", "Chartered Management Institute", 5, 30
        ),
        DemoQualification(
            "ST0116", "Software Developer", "BCS, The Chartered Institute for IT", 4, 24
        ),
        DemoQualification("ST0118", "Data Analyst", "BCS, The Chartered Institute for IT", 4, 24),
        DemoQualification(
            "ST0122", "Digital Marketer", "BCS, The Chartered Institute for IT", 3, 18
        ),
        DemoQualification(
            "ST0125", "Infrastructure Technician", "BCS, The Chartered Institute for IT", 3, 15
        ),
        DemoQualification("ST0005", "Adult Care Worker", "Highfield Assessment", 2, 15),
        DemoQualification("ST0006", "Lead Adult Care Worker", "NCFE", 3, 18),
        DemoQualification("ST0135", "Early Years Educator", "NCFE CACHE", 3, 18),
        DemoQualification("ST0228", "Commis Chef", "City & Guilds", 2, 12),
        DemoQualification("ST0213", "Hair Professional", "VTCT", 2, 24),
        DemoQualification(
            "ST0310", "Associate Project Manager", "Association for Project Management", 4, 21
        ),
        # The ILR's programme aim that accompanies every standard: no awarding body, no level.
        DemoQualification(PROGRAMME_AIM, "Apprenticeship programme aim", "", None, 18),
    )
}


@dataclass(frozen=True)
class DemoOfficer:
    title: str
    forenames: str
    surname: str
    job_title: str
    phone: str
    mobile: str
    roles: tuple[str, ...]
    is_active: bool = True

    @property
    def email(self) -> str:
        return f"{self.forenames}.{self.surname}@provider.example".lower()


OFFICERS = {
    "whitaker": DemoOfficer(
        "Mrs",
        "Helen",
        "Whitaker",
        "Lead Assessor",
        "0113 496 0210",
        "07700 900010",
        (ASSESSOR, INTERNAL_VERIFIER),
    ),
    "okafor": DemoOfficer(
        "Mr",
        "Daniel",
        "Okafor",
        "Assessor",
        "0113 496 0211",
        "07700 900011",
        (ASSESSOR, SECOND_ASSESSOR),
    ),
    "sharma": DemoOfficer(
        "Ms",
        "Priya",
        "Sharma",
        "Training Adviser",
        "0113 496 0212",
        "07700 900012",
        (TRAINING_ADVISER, ASSESSOR),
    ),
    "llewellyn": DemoOfficer(
        "Mr",
        "Gareth",
        "Llewellyn",
        "Assessor",
        "0113 496 0213",
        "07700 900013",
        (ASSESSOR, SECOND_ASSESSOR, INTERNAL_VERIFIER),
    ),
    "barker": DemoOfficer(
        "Miss",
        "Chloe",
        "Barker",
        "Apprenticeship Mentor",
        "0113 496 0214",
        "07700 900014",
        (MENTOR, TRAINING_ADVISER),
    ),
    # Left the provider; still the main officer of a learner who completed with him.
    "marsden": DemoOfficer(
        "Mr", "Ian", "Marsden", "Assessor", "0113 496 0215", "", (ASSESSOR,), is_active=False
    ),
}


@dataclass(frozen=True)
class DemoEmployer:
    name: str
    edrs_number: str
    address: tuple[str, str, str, str]
    postcode: str
    phone: str
    website: str
    size_band: str

    @property
    def area_code(self) -> str:
        """The dialling code and exchange of the employer's number, for its learners' phones."""
        return self.phone.rsplit(" ", 1)[0]


EMPLOYERS = {
    "aire": DemoEmployer(
        "Aire Valley Logistics Ltd",
        "104582311",
        ("Unit 7 Cross Green Industrial Estate", "Cross Green Lane", "Leeds", "West Yorkshire"),
        "LS9 0SG",
        "0113 496 0120",
        "https://www.airevalleylogistics.example",
        EmployerSize.LARGE,
    ),
    "irwell": DemoEmployer(
        "Irwell Digital Ltd",
        "105337904",
        ("Floor 3, 42 Dale Street", "Northern Quarter", "Manchester", "Greater Manchester"),
        "M1 1JW",
        "0161 496 0345",
        "https://www.irwelldigital.example",
        EmployerSize.MEDIUM,
    ),
    "heartlands": DemoEmployer(
        "Heartlands Care Homes Ltd",
        "106874452",
        ("Heartlands House", "210 Coventry Road", "Birmingham", "West Midlands"),
        "B10 0UG",
        "0121 496 0567",
        "https://www.heartlandscare.example",
        EmployerSize.LARGE,
    ),
    "acorns": DemoEmployer(
        "Little Acorns Day Nurseries Ltd",
        "107205816",
        ("Acorn House", "15 Cheltenham Road", "Bristol", ""),
        "BS6 5QX",
        "0117 496 0789",
        "https://www.littleacornsnurseries.example",
        EmployerSize.SMALL,
    ),
    "southbank": DemoEmployer(
        "Southbank Brasserie Ltd",
        "108119643",
        ("27 Upper Ground", "", "London", ""),
        "SE1 9PP",
        "020 7946 0832",
        "https://www.southbankbrasserie.example",
        EmployerSize.SMALL,
    ),
    "quayside": DemoEmployer(
        "Quayside Hair Studio",
        "109640275",
        ("12 Dean Street", "", "Newcastle upon Tyne", "Tyne and Wear"),
        "NE1 1PG",
        "0191 498 0154",
        "https://www.quaysidehair.example",
        EmployerSize.MICRO,
    ),
}


@dataclass(frozen=True)
class DemoLearner:
    number: int
    first_name: str
    surname: str
    sex: str
    date_of_birth: datetime.date
    street: str
    town: str
    postcode: str
    employer: str
    standard: str
    start: datetime.date
    officer: str | None
    status: LearnerStatus = LearnerStatus.IN_LEARNING
    ended: datetime.date | None = None
    """The actual end date of a learner who completed or withdrew."""
    risk: str = RiskBand.NOT_SET
    pace: int = 0
    """Progress points ahead of (+) or behind (-) the time elapsed: the figures a learner who
    withdrew left with, and, for one in learning, the story Smart Assessor is expected to tell
    (the sandbox draws its own)."""
    second_assessor: str | None = None
    mentor: str | None = None
    completed_earlier: str | None = None
    """A standard finished before the current one on the same programme."""
    moved_from: tuple[str, datetime.date] | None = None
    """An earlier employer and the day the learner moved to the current one."""
    # The problems a real office has, each held by one learner:
    has_email: bool = True
    plan_set_up: bool = True
    programme_aim: bool = True
    placement_ended: datetime.date | None = None

    @property
    def ident(self) -> str:
        return f"PW{self.number:06d}"

    @property
    def end(self) -> datetime.date:
        """The end date of a learner who completed or withdrew (every such learner has one)."""
        if self.ended is None:
            raise ValueError(f"The demo learner {self.ident} has no end date.")
        return self.ended

    @property
    def email(self) -> str:
        if not self.has_email:
            return ""
        local = re.sub(r"[^a-z.]", "", f"{self.first_name}.{self.surname}".lower())
        return f"{local}@mail.example"


M, F, X = Sex.MALE, Sex.FEMALE, Sex.NOT_KNOWN
BREAK, DONE, GONE = (
    LearnerStatus.BREAK_IN_LEARNING,
    LearnerStatus.COMPLETED,
    LearnerStatus.WITHDRAWN,
)
LOW, MEDIUM, HIGH = RiskBand.LOW, RiskBand.MEDIUM, RiskBand.HIGH
D = datetime.date

# fmt: off
LEARNERS = (
    # Aire Valley Logistics, Leeds
    DemoLearner(101, "Olivia", "Hughes", F, D(2005, 3, 12), "14 Kirkstall Road", "Leeds",
                "LS3 1JL", "aire", "ST0070", D(2025, 9, 1), "whitaker", risk=LOW, pace=3),
    DemoLearner(102, "Mohammed", "Hussain", M, D(1998, 7, 22), "82 Roundhay Road", "Leeds",
                "LS8 5AQ", "aire", "ST0384", D(2025, 11, 3), "whitaker", pace=-4,
                second_assessor="okafor", mentor="barker"),
    DemoLearner(103, "Jessica", "Wood", F, D(2003, 11, 5), "5 Town Street", "Horsforth",
                "LS18 4RJ", "aire", "ST0072", D(2025, 2, 3), "marsden", status=DONE,
                ended=D(2026, 3, 20), risk=LOW),
    DemoLearner(104, "Liam", "O'Connor", M, D(2006, 1, 30), "41 Dewsbury Road", "Leeds",
                "LS11 5DE", "aire", "ST0072", D(2026, 3, 2), "whitaker", risk=MEDIUM, pace=-12,
                has_email=False),
    DemoLearner(105, "Amelia", "Clarke", F, D(1990, 4, 17), "9 Otley Road", "Leeds",
                "LS6 2AL", "aire", "ST0385", D(2025, 1, 6), "sharma", pace=2,
                second_assessor="llewellyn", completed_earlier="ST0384"),
    DemoLearner(106, "Ryan", "Walsh", M, D(2001, 9, 9), "120 York Road", "Leeds",
                "LS9 9DL", "aire", "ST0070", D(2026, 1, 5), "sharma", status=BREAK, risk=HIGH,
                pace=-15),
    DemoLearner(107, "Grace", "Thompson", F, D(2007, 6, 14), "3 Selby Road", "Leeds",
                "LS15 0AA", "aire", "ST0072", D(2026, 9, 7), "whitaker", pace=1),
    DemoLearner(108, "Harry", "Robinson", M, D(1985, 2, 26), "17 Wakefield Road", "Rothwell",
                "LS26 0RS", "aire", "ST0385", D(2026, 2, 2), "sharma",
                second_assessor="okafor"),
    DemoLearner(109, "Sophie", "Bennett", F, D(1995, 12, 3), "28 Kirkgate", "Wakefield",
                "WF1 1HR", "aire", "ST0310", D(2025, 10, 6), "whitaker", pace=11),
    # Second assessor and main officer are the same person: the enrolment preview warns.
    DemoLearner(110, "Callum", "Fraser", M, D(2004, 8, 19), "66 Harrogate Road", "Leeds",
                "LS7 4LA", "aire", "ST0384", D(2026, 5, 11), "okafor", pace=-3,
                second_assessor="okafor"),
    DemoLearner(111, "Aisha", "Begum", F, D(2002, 2, 11), "19 Leeds Road", "Bradford",
                "BD3 9LU", "aire", "ST0070", D(2026, 6, 1), "whitaker", pace=-8,
                mentor="barker"),
    DemoLearner(112, "Jack", "Sutcliffe", M, D(2009, 4, 2), "7 Bradford Road", "Pudsey",
                "LS28 6AR", "aire", "ST0072", D(2026, 10, 5), "okafor"),
    DemoLearner(113, "Ellie", "Marshall", F, D(1999, 10, 28), "55 Headingley Lane", "Leeds",
                "LS6 1BN", "aire", "ST0384", D(2025, 12, 1), "whitaker", pace=5,
                second_assessor="llewellyn"),
    DemoLearner(114, "Arjun", "Patel", M, D(1993, 5, 6), "31 Hyde Park Road", "Leeds",
                "LS6 1AG", "aire", "ST0070", D(2026, 7, 6), "sharma", pace=1),
    # Irwell Digital, Manchester
    DemoLearner(115, "Ethan", "Roberts", M, D(2003, 1, 15), "12 Wilmslow Road", "Manchester",
                "M14 5TQ", "irwell", "ST0116", D(2025, 9, 8), "llewellyn", risk=LOW, pace=6,
                second_assessor="okafor"),
    DemoLearner(116, "Zara", "Ahmed", F, D(2001, 6, 21), "48 Oldham Road", "Manchester",
                "M4 6BF", "irwell", "ST0118", D(2026, 1, 5), "llewellyn", status=BREAK,
                risk=MEDIUM, pace=-9),
    DemoLearner(117, "Thomas", "Wright", M, D(1997, 3, 3), "7 Chorlton Road", "Manchester",
                "M15 4JG", "irwell", "ST0116", D(2025, 9, 8), "llewellyn", status=GONE,
                ended=D(2026, 2, 13), risk=HIGH, pace=-20),
    DemoLearner(118, "Megan", "Lloyd", F, D(2000, 9, 30), "90 Stockport Road", "Manchester",
                "M19 3AB", "irwell", "ST0122", D(2025, 11, 3), "sharma", risk=HIGH, pace=-10,
                placement_ended=D(2026, 8, 28)),
    DemoLearner(119, "Kieran", "Doyle", M, D(2005, 12, 12), "23 Ashton Old Road", "Manchester",
                "M11 2DE", "irwell", "ST0125", D(2026, 2, 2), "llewellyn",
                programme_aim=False),
    DemoLearner(120, "Hannah", "Price", F, D(1996, 8, 8), "16 Chapel Street", "Salford",
                "M3 5DW", "irwell", "ST0118", D(2025, 10, 6), "llewellyn", pace=12,
                second_assessor="okafor"),
    DemoLearner(121, "Oliver", "Nowak", M, D(2002, 4, 25), "5 Princess Road", "Manchester",
                "M15 5AS", "irwell", "ST0122", D(2026, 4, 13), "sharma", pace=2,
                mentor="barker"),
    DemoLearner(122, "Isla", "Campbell", F, D(2004, 7, 7), "38 Bury New Road", "Prestwich",
                "M25 1AJ", "irwell", "ST0116", D(2026, 9, 7), "llewellyn"),
    DemoLearner(123, "Samuel", "Adeyemi", M, D(1988, 11, 11), "61 Palatine Road",
                "Manchester", "M20 3LJ", "irwell", "ST0116", D(2025, 12, 1), "llewellyn",
                pace=-5, moved_from=("aire", D(2026, 4, 1))),
    # Heartlands Care Homes, Birmingham
    DemoLearner(124, "Paige", "Evans", F, D(1992, 1, 20), "44 Coventry Road", "Birmingham",
                "B10 0RX", "heartlands", "ST0005", D(2025, 6, 2), "okafor", status=DONE,
                ended=D(2026, 10, 30), risk=LOW),
    DemoLearner(125, "Imran", "Ali", M, D(1987, 8, 14), "103 Soho Road", "Birmingham",
                "B21 9SP", "heartlands", "ST0006", D(2025, 1, 6), "okafor", pace=-2,
                second_assessor="llewellyn", completed_earlier="ST0005"),
    DemoLearner(126, "Lucy", "Jenkins", F, D(1983, 3, 29), "8 Alcester Road", "Birmingham",
                "B13 8AP", "heartlands", "ST0005", D(2026, 4, 13), None),
    DemoLearner(127, "Bethany", "Collins", F, D(2006, 10, 2), "27 Bristol Road", "Birmingham",
                "B29 6BD", "heartlands", "ST0005", D(2026, 1, 5), "okafor", risk=MEDIUM,
                pace=-7, mentor="barker"),
    DemoLearner(128, "Grace", "Okonkwo", F, D(1981, 12, 19), "5 Stratford Road", "Birmingham",
                "B11 1AR", "heartlands", "ST0006", D(2025, 11, 3), "okafor", pace=4,
                second_assessor="llewellyn"),
    DemoLearner(129, "Nathan", "Hall", M, D(1994, 6, 6), "70 Walsall Road", "Birmingham",
                "B42 1TN", "heartlands", "ST0005", D(2026, 7, 6), "okafor", pace=1),
    DemoLearner(130, "Rebecca", "Morris", F, D(1989, 9, 17), "12 Warwick Road", "Solihull",
                "B91 3DA", "heartlands", "ST0070", D(2025, 10, 6), "whitaker", pace=-1),
    # Little Acorns Day Nurseries, Bristol
    DemoLearner(131, "Emily", "Davies", F, D(2004, 2, 9), "21 Gloucester Road", "Bristol",
                "BS7 8AA", "acorns", "ST0135", D(2025, 9, 1), "sharma", status=BREAK,
                risk=MEDIUM, pace=-6),
    DemoLearner(132, "Poppy", "Harris", F, D(2007, 5, 23), "6 North Street", "Bristol",
                "BS3 1HT", "acorns", "ST0135", D(2026, 3, 2), "sharma", pace=3,
                mentor="barker"),
    DemoLearner(133, "Freya", "Morgan", F, D(2008, 8, 30), "49 Fishponds Road", "Bristol",
                "BS5 6SE", "acorns", "ST0135", D(2026, 9, 7), "sharma"),
    DemoLearner(134, "Ruby", "Taylor", X, D(2000, 12, 1), "13 Whiteladies Road", "Bristol",
                "BS8 2PH", "acorns", "ST0135", D(2025, 11, 3), "sharma", risk=MEDIUM,
                pace=-11, second_assessor="okafor"),
    # Southbank Brasserie, London
    DemoLearner(135, "Marcus", "Johnson", M, D(2005, 4, 4), "18 Walworth Road", "London",
                "SE17 1JE", "southbank", "ST0228", D(2025, 4, 7), "llewellyn", status=DONE,
                ended=D(2026, 5, 29), risk=LOW),
    DemoLearner(136, "Sofia", "Rossi", F, D(2006, 7, 11), "40 Lower Marsh", "London",
                "SE1 7RG", "southbank", "ST0228", D(2026, 2, 2), "whitaker", pace=-3),
    DemoLearner(137, "Tyler", "Green", M, D(2003, 3, 16), "9 Old Kent Road", "London",
                "SE1 4NL", "southbank", "ST0072", D(2026, 1, 5), "okafor", pace=4),
    # Quayside Hair Studio, Newcastle
    DemoLearner(138, "Holly", "Robson", F, D(2007, 9, 4), "25 Shields Road",
                "Newcastle upon Tyne", "NE6 1DL", "quayside", "ST0213", D(2025, 10, 6),
                "whitaker", status=GONE, ended=D(2026, 6, 19), risk=HIGH, pace=-18),
    DemoLearner(139, "Leah", "Armstrong", F, D(2008, 1, 27), "3 Westgate Road",
                "Newcastle upon Tyne", "NE4 6XB", "quayside", "ST0213", D(2026, 11, 16),
                "whitaker"),
    # A new starter whose plan is not set up yet.
    DemoLearner(140, "Noah", "Edwards", M, D(2010, 5, 14), "2 Coronation Road", "Bristol",
                "BS3 1AS", "acorns", "ST0135", D(2026, 11, 16), "sharma", plan_set_up=False),
)
# fmt: on

NI_PREFIXES = ("JT", "NH", "PB", "SK", "WE", "AB", "CE", "EH", "GY", "HR", "JA", "KM", "LP")


def _uln(number: int) -> str:
    """A ULN with a correct check digit, made from the learner's number."""
    stem = 480_000_000 + number * 10_007
    while True:
        for check_digit in "0123456789":
            if uln_is_valid(f"{stem}{check_digit}"):
                return f"{stem}{check_digit}"
        stem += 1  # no digit fits this stem (the check would be 10)


def _ni_number(number: int) -> str:
    digits = (number * 7_919) % 1_000_000
    return f"{NI_PREFIXES[number % len(NI_PREFIXES)]}{digits:06d}{'ABCD'[number % 4]}"


def _add_months(day: datetime.date, months: int) -> datetime.date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _weekday_on_or_before(day: datetime.date, weekday: int) -> datetime.date:
    return day - datetime.timedelta(days=(day.weekday() - weekday) % 7)


def _percent(value: float) -> Decimal:
    return Decimal(round(min(100.0, max(0.0, value))))


# --- Loading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoDataTotals:
    learners: int
    employers: int
    officers: int
    qualifications: int


Record = TypeVar("Record", bound=models.Model)


def _saved(instance: Record) -> Record:
    instance.full_clean()
    instance.save()
    return instance


def _find_or_create(
    model: type[Record], lookup: dict[str, Any], **values: Any
) -> tuple[Record, bool]:
    existing = model._default_manager.filter(**lookup).order_by("pk").first()
    if existing is not None:
        return existing, False
    return _saved(model(**lookup, **values)), True


@transaction.atomic
def demo_data_load() -> DemoDataTotals:
    """Create whatever demo records are missing; return the totals now in the database."""
    role_by_name = {name: _find_or_create(OfficerRole, {"name": name})[0] for name in OFFICER_ROLES}
    review_type_by_name = {
        name: _find_or_create(ReviewType, {"name": name})[0] for name in REVIEW_TYPES
    }
    qualification_by_reference = {
        ref: _find_or_create(
            Qualification,
            {"reference": ref},
            title=q.title,
            awarding_body=q.awarding_body,
            level=q.level,
        )[0]
        for ref, q in QUALIFICATIONS.items()
    }
    officer_by_key = {key: _officer_load(o, role_by_name) for key, o in OFFICERS.items()}
    organisation_by_key = {key: _employer_load(e) for key, e in EMPLOYERS.items()}

    existing_idents = set(
        Learner.objects.filter(ident__in=[s.ident for s in LEARNERS]).values_list(
            "ident", flat=True
        )
    )
    for spec in LEARNERS:
        if spec.ident not in existing_idents:
            _learner_create(
                spec,
                officers=officer_by_key,
                organisations=organisation_by_key,
                qualifications=qualification_by_reference,
                roles=role_by_name,
                review_types=review_type_by_name,
            )
    return DemoDataTotals(
        learners=Learner.objects.count(),
        employers=Organisation.objects.count(),
        officers=Officer.objects.count(),
        qualifications=Qualification.objects.count(),
    )


def _officer_load(spec: DemoOfficer, role_by_name: dict[str, OfficerRole]) -> Officer:
    officer, created = _find_or_create(
        Officer,
        {"email": spec.email},
        title=spec.title,
        forenames=spec.forenames,
        surname=spec.surname,
        job_title=spec.job_title,
        phone=spec.phone,
        mobile=spec.mobile,
        is_active=spec.is_active,
    )
    if created:
        officer.roles.set([role_by_name[name] for name in spec.roles])
    return officer


def _employer_load(spec: DemoEmployer) -> Organisation:
    line1, line2, line3, line4 = spec.address
    return _find_or_create(
        Organisation,
        {"edrs_number": spec.edrs_number},
        name=spec.name,
        address_line1=line1,
        address_line2=line2,
        address_line3=line3,
        address_line4=line4,
        postcode=spec.postcode,
        phone=spec.phone,
        website=spec.website,
        size_band=spec.size_band,
    )[0]


def _learner_create(
    spec: DemoLearner,
    *,
    officers: dict[str, Officer],
    organisations: dict[str, Organisation],
    qualifications: dict[str, Qualification],
    roles: dict[str, OfficerRole],
    review_types: dict[str, ReviewType],
) -> None:
    main_standard = QUALIFICATIONS[spec.standard]
    standard_start = spec.start
    if spec.completed_earlier:
        earlier_standard = QUALIFICATIONS[spec.completed_earlier]
        earlier_planned_end = _add_months(spec.start, earlier_standard.months)
        earlier_end = _weekday_on_or_before(
            earlier_planned_end + datetime.timedelta(weeks=3), calendar.FRIDAY
        )
        standard_start = earlier_end + datetime.timedelta(days=3)
    planned_end = _add_months(standard_start, main_standard.months)
    employer = EMPLOYERS[spec.employer]
    main_officer = officers[spec.officer] if spec.officer else None

    learner = _saved(
        Learner(
            ident=spec.ident,
            lrn=f"{spec.start.year % 100}{spec.number:06d}",
            uln=_uln(spec.number),
            first_name=spec.first_name,
            surname=spec.surname,
            date_of_birth=spec.date_of_birth,
            sex=spec.sex,
            ni_number=_ni_number(spec.number),
            email=spec.email,
            address_line1=spec.street,
            address_line2=spec.town,
            postcode=spec.postcode,
            phone=f"{employer.area_code} 0{spec.number + 400}" if spec.number % 3 == 0 else "",
            mobile=f"07700 900{spec.number:03d}",
            start_date=spec.start,
            planned_end_date=planned_end,
            actual_end_date=spec.ended,
            status=spec.status,
            risk_band=spec.risk,
            main_officer=main_officer,
        )
    )

    current_start = spec.start
    if spec.moved_from:
        earlier_employer, moved_on = spec.moved_from
        _saved(
            Placement(
                learner=learner,
                organisation=organisations[earlier_employer],
                start_date=spec.start,
                end_date=moved_on - datetime.timedelta(days=1),
            )
        )
        current_start = moved_on
    _saved(
        Placement(
            learner=learner,
            organisation=organisations[spec.employer],
            start_date=current_start,
            end_date=spec.placement_ended or spec.ended,
        )
    )

    if spec.plan_set_up:
        if spec.completed_earlier:
            _saved(
                LearnerQualification(
                    learner=learner,
                    qualification=qualifications[spec.completed_earlier],
                    start_date=spec.start,
                    planned_end_date=earlier_planned_end,
                    actual_end_date=earlier_end,
                    status=QualificationStatus.COMPLETED,
                    **_all_percent(100),
                )
            )
        _current_plan_entry_saved(
            LearnerQualification(
                learner=learner,
                qualification=qualifications[spec.standard],
                start_date=standard_start,
                planned_end_date=planned_end,
                off_the_job_hours_planned=_off_the_job_hours(standard_start, planned_end),
                **_progress(spec, standard_start, planned_end),
            )
        )
        if spec.programme_aim:
            _current_plan_entry_saved(
                LearnerQualification(
                    learner=learner,
                    qualification=qualifications[PROGRAMME_AIM],
                    start_date=spec.start,
                    planned_end_date=planned_end,
                    **_progress(spec, spec.start, planned_end),
                )
            )

    for role_name, officer_key in ((SECOND_ASSESSOR, spec.second_assessor), (MENTOR, spec.mentor)):
        if officer_key:
            _saved(
                LearnerOfficerRole(
                    learner=learner, officer=officers[officer_key], role=roles[role_name]
                )
            )

    for index, (day, type_name) in enumerate(_review_schedule(spec, planned_end)):
        _saved(_review(spec, learner, index, day, review_types[type_name], reviewer=main_officer))


# Apprentices spend a fifth of a 30-hour week off the job: 6 hours a week, planned.
OFF_THE_JOB_HOURS_A_WEEK = 6
# A learner on a break began it this long before the demo's day.
BREAK_BEGAN_BEFORE_AS_AT = datetime.timedelta(weeks=5)


def _off_the_job_hours(start: datetime.date, planned_end: datetime.date) -> Decimal:
    return Decimal(OFF_THE_JOB_HOURS_A_WEEK * (planned_end - start).days // 7)


def _current_plan_entry_saved(entry: LearnerQualification) -> None:
    """The learner's current qualification; one on a break has its break recorded."""
    _saved(entry)
    if entry.status == QualificationStatus.BREAK_IN_LEARNING:
        _saved(
            BreakInLearning(
                learner_qualification=entry,
                start_date=max(entry.start_date, AS_AT - BREAK_BEGAN_BEFORE_AS_AT),
            )
        )


def _all_percent(value: float) -> dict[str, Decimal]:
    figure = _percent(value)
    return {
        "progress_percent": figure,
        "assessed_percent": figure,
        "mapped_percent": figure,
        "timeline_percent": figure,
    }


def _induction_day(spec: DemoLearner) -> datetime.date:
    return spec.start + datetime.timedelta(weeks=2)


def _progress(spec: DemoLearner, start: datetime.date, planned_end: datetime.date) -> dict:
    """Status, end and progress figures of the learner's current standard.

    Progress comes from the ePortfolio, and no demo learner is in Smart Assessor yet: a learner
    still in learning (or on a break) has no figures, all 0, until Smart Assessor sends them.
    Were they made up here, enrolling the learner would bring Smart Assessor's 0 % of a new
    enrolment back over them. Only the programmes that ended keep the figures they ended with.
    """
    if spec.status == LearnerStatus.COMPLETED:
        return {
            "status": QualificationStatus.COMPLETED,
            "actual_end_date": spec.ended,
            **_all_percent(100),
        }
    if spec.status != LearnerStatus.WITHDRAWN:
        started = _induction_day(spec) <= AS_AT
        return {
            "status": {
                LearnerStatus.IN_LEARNING: QualificationStatus.IN_PROGRESS
                if started
                else QualificationStatus.NOT_STARTED,
                LearnerStatus.BREAK_IN_LEARNING: QualificationStatus.BREAK_IN_LEARNING,
            }[spec.status],
            **_all_percent(0),
        }
    timeline = 100 * (spec.end - start).days / (planned_end - start).days
    progress = timeline + spec.pace
    return {
        "status": QualificationStatus.WITHDRAWN,
        "actual_end_date": spec.ended,
        "progress_percent": _percent(progress),
        # Evidence is mapped ahead of sign-off, so mapped leads and assessed lags.
        "assessed_percent": _percent(progress - 6),
        "mapped_percent": _percent(progress + 7),
        "timeline_percent": _percent(timeline),
    }


def _review_schedule(
    spec: DemoLearner, planned_end: datetime.date
) -> list[tuple[datetime.date, str]]:
    """Induction two weeks after the start, then a visit or a review every six weeks.

    It ends with the gateway and an exit review for a learner who completed, an exit review
    for one who withdrew, and the next booking (plus the gateway when it is near) for one
    in learning. A learner on a break has nothing booked.
    """
    gateway = _weekday_on_or_before(planned_end - datetime.timedelta(weeks=4), calendar.MONDAY)
    if spec.status == LearnerStatus.COMPLETED:
        last_regular = gateway - datetime.timedelta(days=1)
    elif spec.status == LearnerStatus.WITHDRAWN:
        last_regular = spec.end
    else:
        last_regular = AS_AT
    schedule = []
    day, type_name = _induction_day(spec), INDUCTION
    while day <= last_regular:
        schedule.append((day, type_name))
        day += datetime.timedelta(weeks=6)
        type_name = ASSESSMENT_VISIT if type_name != ASSESSMENT_VISIT else PROGRESS_REVIEW
    if spec.status == LearnerStatus.COMPLETED:
        schedule += [(gateway, GATEWAY), (spec.end, EXIT_REVIEW)]
    elif spec.status == LearnerStatus.WITHDRAWN:
        schedule.append((spec.end, EXIT_REVIEW))
    elif spec.status == LearnerStatus.IN_LEARNING:
        schedule.append((day, type_name))
        if AS_AT < gateway <= AS_AT + datetime.timedelta(weeks=13):
            schedule.append((gateway, GATEWAY))
    return schedule


NOTES = {
    INDUCTION: "Apprenticeship agreement, commitment statement and training plan signed; "
    "the ePortfolio explained.",
    ASSESSMENT_VISIT: "Observed at work; evidence mapped to the portfolio and next tasks set.",
    PROGRESS_REVIEW: "Progress against the knowledge, skills and behaviours reviewed with the "
    "learner and line manager; off-the-job hours checked.",
    GATEWAY: "Employer, learner and provider agree the learner is ready for end-point assessment.",
}
EXIT_NOTES = {
    LearnerStatus.COMPLETED: "Apprenticeship achieved; next steps discussed.",
    LearnerStatus.WITHDRAWN: "Learner withdrawn from the programme; reasons recorded.",
}


def _review(
    spec: DemoLearner,
    learner: Learner,
    index: int,
    day: datetime.date,
    review_type: ReviewType,
    *,
    reviewer: Officer | None,
) -> Review:
    proposed_at = datetime.datetime.combine(
        day, datetime.time(10 if index % 2 == 0 else 14), tzinfo=UK
    )
    review = Review(
        learner=learner, review_type=review_type, proposed_at=proposed_at, reviewer=reviewer
    )
    if day > AS_AT:
        return review
    # A fixed pattern of missed and cancelled sessions, as every real office has; the
    # milestones (induction, gateway, exit) always took place.
    is_regular = review_type.name in (ASSESSMENT_VISIT, PROGRESS_REVIEW)
    if is_regular and (spec.number * 3 + index) % 11 == 0:
        review.attendance = Attendance.CANCELLED
        review.notes = "Cancelled by the employer; rebooked."
    elif is_regular and (spec.number + index) % 7 == 0:
        review.attendance = Attendance.NOT_ATTENDED
        review.notes = "The learner did not attend; rebooked with the employer."
    else:
        review.attendance = Attendance.ATTENDED
        review.actual_at = proposed_at
        review.notes = (
            EXIT_NOTES[spec.status] if review_type.name == EXIT_REVIEW else NOTES[review_type.name]
        )
    return review


# --- Demo logins -----------------------------------------------------------------------------

DEMO_USERS = (
    ("staff", roles.STAFF),
    ("support", roles.SUPPORT),
    ("integration-admin", roles.INTEGRATION_ADMIN),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    group: str
    password_changed: bool = False
    """The user changed the password since it was recorded, so the recorded one is wrong."""


def demo_logins_ensure(*, logins_file: Path) -> list[DemoLogin]:
    """One user per group, with a password generated once and kept in ``logins_file``.

    A user already in the database keeps its password as long as the file records one for it;
    without the file (a new checkout, or deleted to start again) the password is reset and
    recorded.
    """
    recorded = _recorded_passwords(logins_file)
    User = get_user_model()
    logins = []
    with transaction.atomic():
        for username, group_name in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            user.groups.add(Group.objects.get(name=group_name))
            password = recorded.get(username)
            changed = False
            if password is None or created:
                password = password or secrets.token_urlsafe(12)
                user.set_password(password)
                user.save(update_fields=["password"])
            else:
                changed = not user.check_password(password)
            logins.append(DemoLogin(username, password, group_name, changed))
        passwords = {login.username: login.password for login in logins}
        if passwords != recorded:
            # Written inside the transaction: if it fails, no password changes unrecorded.
            _record_passwords(logins_file, passwords)
    return logins


def _recorded_passwords(logins_file: Path) -> dict[str, str]:
    if not logins_file.exists():
        return {}
    try:
        recorded = json.loads(logins_file.read_text())
    except json.JSONDecodeError as error:
        raise ApplicationError(
            f"{logins_file} is not valid JSON ({error}). Delete it to reset the demo passwords."
        ) from error
    if not isinstance(recorded, dict):
        raise ApplicationError(
            f"{logins_file} should map user names to passwords. Delete it to reset the demo "
            "passwords."
        )
    return recorded


def _record_passwords(logins_file: Path, passwords: dict[str, str]) -> None:
    logins_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = logins_file.with_suffix(".tmp")
    temporary.touch(mode=0o600)
    temporary.write_text(json.dumps(passwords, indent=2) + "\n")
    temporary.replace(logins_file)


# --- Learners for load runs and benchmarks ----------------------------------------------------

LOAD_START = datetime.date(2026, 9, 1)
LOAD_PLANNED_END = datetime.date(2028, 3, 1)
LOAD_COURSES = (
    ("ST0070", "Business Administrator"),
    ("ST0072", "Customer Service Practitioner"),
    ("ZPROG001", "Apprenticeship programme aim"),
)


def load_learners(*, idents: list[str], label: str) -> list[Learner]:
    """Learners for a load run or a benchmark, named after ``label``: each needs a Smart
    Assessor learner, an employer (6 in all), an assessor (4 in all) and 1 to 3 of three
    courses. Makes the qualifications, which are not linked to Smart Assessor yet."""
    organisations = Organisation.objects.bulk_create(
        Organisation(name=f"{label} Employer {n}", address_line1="1 Mill Lane", postcode="LS1 4AP")
        for n in range(6)
    )
    officers = Officer.objects.bulk_create(
        Officer(forenames=f"Assessor{n}", surname=label, email=f"assessor{n}@provider.example")
        for n in range(4)
    )
    offered = [
        Qualification.objects.create(reference=reference, title=title)
        for reference, title in LOAD_COURSES
    ]
    learners = Learner.objects.bulk_create(
        Learner(
            ident=ident,
            first_name=f"{label}{n}",
            surname="Learner",
            date_of_birth=datetime.date(2000, 1, 1) + datetime.timedelta(days=n),
            email=f"{label.lower()}{n}@learner.example",
            start_date=LOAD_START,
            planned_end_date=LOAD_PLANNED_END,
            main_officer=officers[n % len(officers)],
        )
        for n, ident in enumerate(idents)
    )
    Placement.objects.bulk_create(
        Placement(
            learner=learner,
            organisation=organisations[n % len(organisations)],
            start_date=LOAD_START,
        )
        for n, learner in enumerate(learners)
    )
    employers.current_employers_refresh(learner_ids=[learner.pk for learner in learners])
    LearnerQualification.objects.bulk_create(
        LearnerQualification(
            learner=learner,
            qualification=qualification,
            start_date=LOAD_START,
            planned_end_date=LOAD_PLANNED_END,
        )
        for n, learner in enumerate(learners)
        for qualification in offered[: 1 + n % 3]
    )
    return learners
