"""Readiness (F34): what blocks or weakens the learners who would be enrolled next, and those
the synchronisation covers. Each group is counted in one query, whatever the number of
learners; each problem's learners are listed by the same conditions.
"""

import dataclasses
import datetime as dt

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Mod, Substr
from django.utils import timezone

from learners.models import Learner, LearnerQualification, LearnerStatus

from ..models import Enrolment
from ..services.sync.scope import sync_scope

# Smart Assessor takes learners from 14 to 100 years old on the day (contract §7.4).
YOUNGEST_YEARS = 14
OLDEST_YEARS = 100
# The ILR's ULN for a learner who has none yet: never a real learner's.
TEMPORARY_ULN = "9999999999"

WOULD_ENROL = "enrol"
SYNCED = "sync"
GROUPS = {
    WOULD_ENROL: "Would be enrolled (in learning, not yet in Smart Assessor)",
    SYNCED: "Covered by the synchronisation",
}


@dataclasses.dataclass(frozen=True)
class Problem:
    key: str
    label: str
    count: int


def _years_ago(years: int, today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


ULN_DIGITS = r"^[0-9]{10}$"


def _uln_digit(place: int) -> Cast:
    return Cast(Substr("uln", place, 1), IntegerField())


def _with_uln_check(learners: QuerySet[Learner]) -> QuerySet[Learner]:
    """The ULN's check digit (§8), worked out in SQL: the first nine digits weighted 10 to 2;
    10 minus their sum modulo 11 must be the tenth, and is never 10. Only a ULN of ten digits
    is cast (PostgreSQL refuses to cast anything else), and tested once a learner."""
    weighted = sum((_uln_digit(place) * (11 - place) for place in range(1, 10)), Value(0))
    ten_digits = Q(uln__regex=ULN_DIGITS)
    return learners.annotate(
        uln_check=Case(
            When(ten_digits, then=10 - Mod(weighted, 11)),
            default=Value(10),
            output_field=IntegerField(),
        ),
        uln_last=Case(
            When(ten_digits, then=_uln_digit(10)), default=Value(0), output_field=IntegerField()
        ),
    )


def _conditions(today: dt.date) -> dict[str, tuple[str, Q]]:
    available = LearnerQualification.objects.filter(
        learner=OuterRef("pk"), qualification__smartassessor_link__isnull=False
    )
    return {
        "no_email": ("No email (their Smart Assessor login)", Q(email="")),
        # As the learner list shows it (learners.employers keeps it).
        "no_employer": ("No current employer", Q(current_employer__isnull=True)),
        "no_officer": ("No main officer", Q(main_officer__isnull=True)),
        "no_qualification": ("No qualification Smart Assessor offers", ~Q(Exists(available))),
        "bad_uln": (
            "A bad ULN, or the temporary 9999999999",
            Q(uln=TEMPORARY_ULN)
            | (
                ~Q(uln="")
                & (
                    ~Q(uln__regex=r"^[1-9][0-9]{9}$")
                    | Q(uln_check=10)
                    | ~Q(uln_check=F("uln_last"))
                )
            ),
        ),
        "age": (
            f"A date of birth that makes them under {YOUNGEST_YEARS} or over {OLDEST_YEARS}",
            Q(date_of_birth__gt=_years_ago(YOUNGEST_YEARS, today))
            | Q(date_of_birth__lt=_years_ago(OLDEST_YEARS, today)),
        ),
    }


def _group(group: str) -> QuerySet[Learner]:
    if group == WOULD_ENROL:
        enrolled = Enrolment.objects.filter(learner=OuterRef("pk"), is_current=True)
        learners = Learner.objects.filter(status=LearnerStatus.IN_LEARNING).exclude(
            Exists(enrolled)
        )
    else:
        learners = Learner.objects.filter(pk__in=sync_scope().values("learner_id"))
    return _with_uln_check(learners)


def readiness_counts() -> dict[str, tuple[int, list[Problem]]]:
    """Per group: how many learners it holds, and how many have each problem."""
    today = timezone.localdate()
    conditions = _conditions(today)
    result = {}
    for group in GROUPS:
        counts = _group(group).aggregate(
            total=Count("pk"),
            **{key: Count("pk", filter=condition) for key, (_, condition) in conditions.items()},
        )
        result[group] = (
            counts["total"],
            [Problem(key, label, counts[key]) for key, (label, _) in conditions.items()],
        )
    return result


def readiness_learners(*, group: str, problem: str) -> tuple[str, QuerySet[Learner]]:
    """The label of a problem, and the learners of the group who have it, by name."""
    label, condition = _conditions(timezone.localdate())[problem]
    learners = (
        _group(group)
        .filter(condition)
        .select_related("main_officer")
        .order_by("surname", "first_name", "pk")
    )
    return label, learners
