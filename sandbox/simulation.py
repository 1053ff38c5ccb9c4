"""How the sandbox's simulated world moves on: course progress, review sessions, Smart Coach.

Every figure is a pure function of an enrolment's id, its dates and the simulated day, so
advancing time in one step or in several lands in the same place, and a reset replays the same
story. Paces, breaks and withdrawals are drawn from a hash of the enrolment id: some learners
run ahead of their timeline, some fall behind, a few take a break in learning or withdraw.

A session's attendance is known only once it is over on the real clock too: the MIS lives on
the real clock, so a session the simulated clock has passed but the real one has not stays
booked, rather than reaching the MIS as attended on a day still to come there.
"""

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

NAMESPACE = uuid.UUID("0b6c6f0e-3f2a-4c59-9a57-5a1d1f3c2e10")

BREAK_SHARE = 0.15
BREAK_DAYS = 42
WITHDRAW_SHARE = 0.06
REVIEW_EVERY = timedelta(weeks=12)
VISIBLE_AHEAD = timedelta(days=14)
# Apprentices spend at least 20 % of their paid hours off the job: 6 hours of a 30-hour week.
DEFAULT_WEEKLY_HOURS = 6.0
FIGURES = (
    "ProgressPercent",
    "AssessedPercent",
    "MappedPercent",
    "TimelinePercent",
    "OffTheJobHoursActual",
)
NONE_YET = dict.fromkeys(FIGURES, 0.0)
# A completed course has every criterion signed off and its planned time used; the hours stay
# what the learner logged.
COMPLETE = {
    "ProgressPercent": 100.0,
    "AssessedPercent": 100.0,
    "MappedPercent": 100.0,
    "TimelinePercent": 100.0,
}

FEEDBACK = (
    "Good progress since the last review; evidence for two criteria mapped.",
    "Off-the-job hours are behind plan: agreed a catch-up plan with the line manager.",
    "Observed in the workplace; professional discussion booked for next month.",
    "Portfolio up to date. Next step: plan the end-point assessment project.",
    "Learner confident with the new tasks; targets set for the next 12 weeks.",
)
GIVEN_NAMES = (
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Muhammad",
    "Freya",
    "Jack",
    "Aisha",
    "Harry",
    "Sophie",
    "Leo",
    "Priya",
)
FAMILY_NAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "Khan",
    "Hughes",
)
POSTCODES = ("LS1 4AP", "M1 1AE", "B1 1BB", "S1 2AB", "NE1 4ST", "BS1 4DJ", "L1 8JQ", "NG1 5FS")
SEXES = ("Female", "Male", "Female", "Male", "Other", "NotKnown")


def fraction(key: str, salt: str) -> float:
    """A stable number in [0, 1) for a key (Python's own hash() changes between runs)."""
    digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def stable_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts)))


@dataclass(frozen=True)
class Plan:
    """One enrolment's path through its course."""

    start: date
    planned_end: date
    pace: float
    hours_pace: float
    daily_hours: float
    """The off-the-job hours a day in training asks for: the planned hours spread over the
    planned days, or the default weekly rate when none are planned."""
    break_start: date | None
    withdraw_on: date | None

    @classmethod
    def of(cls, course: dict[str, Any]) -> "Plan":
        key = course["SmartAssessorId"]
        start = date.fromisoformat(course["StartDate"])
        planned_end = date.fromisoformat(course["PlannedEndDate"])
        length = (planned_end - start).days
        break_start = None
        if fraction(key, "break") < BREAK_SHARE and length > 3 * BREAK_DAYS:
            break_start = start + timedelta(days=round(length * 0.4))
        withdraw_on = None
        if fraction(key, "withdraw") < WITHDRAW_SHARE:
            withdraw_on = start + timedelta(days=round(length * 0.55))
        planned_hours = course["OffTheJobHoursPlanned"]
        return cls(
            start,
            planned_end,
            0.7 + 0.6 * fraction(key, "pace"),
            0.8 + 0.4 * fraction(key, "hours"),
            DEFAULT_WEEKLY_HOURS / 7 if planned_hours is None else planned_hours / length,
            break_start,
            withdraw_on,
        )

    @property
    def length(self) -> int:
        return (self.planned_end - self.start).days

    @property
    def stops_on(self) -> date:
        return self.withdraw_on or self.planned_end

    def on_break(self, day: date) -> bool:
        return self.break_start is not None and 0 <= (day - self.break_start).days < BREAK_DAYS

    def training_days(self, day: date) -> int:
        """The days from the start to ``day`` that were not on the break."""
        elapsed = max(0, (day - self.start).days)
        paused = 0
        if self.break_start is not None:
            paused = min(max(0, (day - self.break_start).days), BREAK_DAYS)
        return elapsed - paused

    def figures(self, days: int, base: dict[str, float] = NONE_YET) -> dict[str, float]:
        """The progress figures and off-the-job hours after ``days`` days in training more
        than ``base``."""
        share = 100 * days / self.length
        progress = min(99.0, base["ProgressPercent"] + share * self.pace)
        gained = progress - base["ProgressPercent"]
        return {
            "ProgressPercent": round(progress, 1),
            "AssessedPercent": round(base["AssessedPercent"] + gained * 0.8, 1),
            "MappedPercent": round(min(99.0, base["MappedPercent"] + gained * 1.1), 1),
            "TimelinePercent": round(min(100.0, base["TimelinePercent"] + share), 1),
            "OffTheJobHoursActual": round(
                base["OffTheJobHoursActual"] + days * self.daily_hours * self.hours_pace, 1
            ),
        }


def course_state(
    course: dict[str, Any], story: dict[str, Any] | None, today: date
) -> dict[str, Any]:
    """The server-set fields of an enrolment on a given day, given the ``story_after`` of the
    last status the MIS gave it (None when it gave none)."""
    plan = Plan.of(course)
    if story is not None:
        return _state_after_a_change(plan, story, today)
    if today <= plan.start:
        return {
            "Status": "AwaitingInduction",
            **plan.figures(0),
            "ActualEndDate": None,
            "BreakStartDate": None,
        }
    if plan.withdraw_on and today >= plan.withdraw_on:
        return {
            "Status": "Withdrawn",
            **plan.figures(plan.training_days(plan.withdraw_on)),
            "ActualEndDate": plan.withdraw_on.isoformat(),
            "BreakStartDate": None,
        }
    if today >= plan.planned_end:
        return {
            "Status": "Completed",
            **plan.figures(plan.training_days(plan.planned_end)),
            **COMPLETE,
            "ActualEndDate": plan.planned_end.isoformat(),
            "BreakStartDate": None,
        }
    figures = plan.figures(plan.training_days(today))
    if plan.break_start is not None and plan.on_break(today):
        return {
            "Status": "BreakInLearning",
            **figures,
            "ActualEndDate": None,
            "BreakStartDate": plan.break_start.isoformat(),
        }
    return {"Status": "InTraining", **figures, "ActualEndDate": None, "BreakStartDate": None}


def story_after(
    course: dict[str, Any], status: str, day: date, simulated_day: date | None
) -> dict[str, Any]:
    """What the simulation keeps when the MIS moves an enrolment to ``status`` on ``day``: the
    figures as they stand, and, into training, the day from which they grow again.

    The figures do not go back to ``day``: they already hold what the learner did, and a day
    the sandbox has simulated is not simulated again, so a return counts from its date or from
    the last simulated day, whichever is later. An induction counts from its own date: until
    then the enrolment was awaiting induction, with nothing simulated."""
    story: dict[str, Any] = {"Status": status, "Base": {name: course[name] for name in FIGURES}}
    if status == "InTraining":
        since = day
        if course["Status"] == "BreakInLearning" and simulated_day is not None:
            since = max(day, simulated_day)
        story["From"] = since.isoformat()
    return story


def _state_after_a_change(plan: Plan, story: dict[str, Any], today: date) -> dict[str, Any]:
    """Once the MIS has set its status, an enrolment follows the MIS: no break or withdrawal
    is drawn for it any more, one on a break stays there until the MIS ends it, and one in
    training completes on its planned end date (or on the day it came back, if later)."""
    if story["Status"] != "InTraining":
        return {}
    since = date.fromisoformat(story["From"])
    ends = max(plan.planned_end, since)
    if today >= ends:
        return {
            "Status": "Completed",
            **plan.figures((ends - since).days, story["Base"]),
            **COMPLETE,
            "ActualEndDate": ends.isoformat(),
            "BreakStartDate": None,
        }
    return {
        "Status": "InTraining",
        **plan.figures((today - since).days, story["Base"]),
        "ActualEndDate": None,
        "BreakStartDate": None,
    }


def learner_status(course_statuses: list[str], current: str) -> str:
    if not course_statuses:
        return current
    if "BreakInLearning" in course_statuses:
        return "BreakInLearning"
    if all(status == "Withdrawn" for status in course_statuses):
        return "Withdrawn"
    if all(status in ("Completed", "Withdrawn") for status in course_statuses):
        return "Completed"
    return "Active"


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _every_12_weeks(first: date, stop: date, horizon: datetime) -> Iterator[date]:
    day = first
    while day < stop and _at(day, 0) <= horizon:
        yield day
        day += REVIEW_EVERY


def learner_sessions(
    learner: dict[str, Any],
    courses: list[dict[str, Any]],
    now: datetime,
    *,
    real_now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The sessions that exist by ``now``: an induction, progress reviews and assessment visits
    every 12 weeks, a gateway review before each course ends and an exit review. They appear
    two weeks before they are due; those over by ``now`` and by ``real_now`` (the real clock,
    the MIS's; ``now`` when not given) carry their attendance."""
    held_by = now if real_now is None else min(now, real_now)
    if not courses:
        return []
    plans = [Plan.of(course) for course in courses]
    learner_id = learner["SmartAssessorId"]
    start = date.fromisoformat(learner["StartDate"])
    stop = max(plan.stops_on for plan in plans)
    horizon = now + VISIBLE_AHEAD
    assessor = learner["AssessorSmartAssessorId"] or courses[0]["PrimaryAssessorSmartAssessorId"]

    planned: list[tuple[str, str, datetime, int, int | None]] = [
        ("IND", "IND", _at(start, 10), 90, None)
    ]
    for number, day in enumerate(_every_12_weeks(start + REVIEW_EVERY, stop, horizon), 1):
        planned.append((f"PR/{number}", "PR", _at(day, 14), 60, None))
    for number, day in enumerate(_every_12_weeks(start + REVIEW_EVERY / 2, stop, horizon)):
        course_id = courses[number % len(courses)]["CourseSmartAssessorId"]
        planned.append((f"AV/{number}", "AV", _at(day, 10, 30), 120, course_id))
    for course, plan in zip(courses, plans, strict=True):
        gateway = plan.planned_end - timedelta(days=28)
        if plan.withdraw_on is None and gateway > start:
            planned.append(
                (
                    f"GW/{course['SmartAssessorId']}",
                    "GW",
                    _at(gateway, 9),
                    45,
                    course["CourseSmartAssessorId"],
                )
            )
    planned.append(("EXIT", "EXIT", _at(stop, 11), 30, None))

    sessions = []
    for key, code, planned_start, minutes, course_id in planned:
        if planned_start > horizon:
            continue
        session_id = stable_id(learner_id, key)
        attendance = actual_start = feedback = None
        if planned_start + timedelta(minutes=minutes) <= held_by:
            attendance = _attendance(session_id, planned_start.date(), plans)
            if attendance == "Attended":
                draw = fraction(session_id, "late")
                actual_start = _iso(planned_start + timedelta(minutes=5 * int(draw * 4)))
                feedback = FEEDBACK[int(draw * len(FEEDBACK))]
        sessions.append(
            {
                "SmartAssessorId": session_id,
                "LearnerSmartAssessorId": learner_id,
                "AssessorSmartAssessorId": assessor,
                "CourseSmartAssessorId": course_id,
                "EventType": code,
                "PlannedStart": _iso(planned_start),
                "ActualStart": actual_start,
                "DurationMinutes": minutes,
                "Attendance": attendance,
                "Feedback": feedback,
            }
        )
    return sessions


def _attendance(session_id: str, day: date, plans: list[Plan]) -> str:
    if any(plan.on_break(day) for plan in plans):
        return "Cancelled"
    draw = fraction(session_id, "attendance")
    if draw < 0.85:
        return "Attended"
    return "NotAttended" if draw < 0.95 else "Cancelled"


def smart_coach(learner_id: str, states: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A withdrawal-risk score once the learner has started; None before that (no score yet)."""
    started = [state for state in states if state["Status"] != "AwaitingInduction"]
    if not started:
        return None
    live = [state for state in started if state["Status"] in ("InTraining", "BreakInLearning")]
    if live:
        behind = sum(state["TimelinePercent"] - state["ProgressPercent"] for state in live)
        score = 0.15 + 0.3 * fraction(learner_id, "coach") + 1.5 * behind / len(live) / 100
        if any(state["Status"] == "BreakInLearning" for state in live):
            score += 0.2
    elif any(state["Status"] == "Completed" for state in started):
        score = 0.05
    else:
        score = 0.95
    score = round(min(0.99, max(0.01, score)), 2)
    band = "Low" if score < 0.34 else "Medium" if score < 0.67 else "High"
    return {"LearnerSmartAssessorId": learner_id, "Score": score, "Band": band}


def _valid_uln(number: int) -> str:
    for last in range(10):
        nine = f"{100_000_000 + number * 10 + last:09d}"
        total = sum(
            int(digit) * weight for digit, weight in zip(nine, range(10, 1, -1), strict=True)
        )
        check = 10 - total % 11
        if check != 10:
            return nine + str(check)
    raise AssertionError("one of ten consecutive numbers always has a check digit")


def bulk_learner(
    prefix: str,
    number: int,
    today: date,
    employers: list[int],
    assessors: list[int],
) -> dict[str, Any]:
    """The writable fields of bulk-seeded learner ``number``: valid, varied and repeatable."""
    given = GIVEN_NAMES[number % len(GIVEN_NAMES)]
    family = FAMILY_NAMES[(number // len(GIVEN_NAMES)) % len(FAMILY_NAMES)]
    born = date(today.year - 18 - number % 27, 1 + number % 12, 1 + number % 28)
    return {
        "MISLearnerId": f"{prefix}{number:06d}",
        "StudentId": None,
        "GivenNames": given,
        "FamilyName": family,
        "DateOfBirth": born.isoformat(),
        "Sex": SEXES[number % len(SEXES)],
        "ULN": _valid_uln(number),
        "NINumber": None,
        "Email": f"{prefix.lower()}{number:06d}@learners.example",
        "Telephone": None,
        "Mobile": f"07700 {number % 1_000_000:06d}",
        "AddressLine1": f"{1 + number % 200} High Street",
        "AddressLine2": None,
        "AddressLine3": None,
        "AddressLine4": None,
        "AddressPostCode": POSTCODES[number % len(POSTCODES)],
        "StartDate": (today - timedelta(days=(number * 37) % 540)).isoformat(),
        "EmployerSmartAssessorId": employers[number % len(employers)] if employers else None,
        "AssessorSmartAssessorId": assessors[number % len(assessors)] if assessors else None,
    }


def bulk_enrolments(
    learner: dict[str, Any],
    number: int,
    per_learner: int,
    active_courses: list[int],
    assessors: list[int],
) -> list[dict[str, Any]]:
    """The writable fields of the learner's enrolments: distinct active courses, 1-2 years,
    with off-the-job hours planned at the default weekly rate for three learners in four."""
    start = date.fromisoformat(learner["StartDate"])
    second = None
    if len(assessors) > 1 and number % 4 == 0:
        second = assessors[(number + 1) % len(assessors)]
    enrolments = []
    for offset in range(per_learner):
        days = 365 + 91 * ((number + offset) % 4)
        planned_hours = None
        if number % 4 != 3:
            planned_hours = round(DEFAULT_WEEKLY_HOURS * days / 7)
        enrolments.append(
            {
                "CourseSmartAssessorId": active_courses[(number + offset) % len(active_courses)],
                "PrimaryAssessorSmartAssessorId": learner["AssessorSmartAssessorId"],
                "SecondaryAssessorSmartAssessorId": second,
                "StartDate": start.isoformat(),
                "PlannedEndDate": (start + timedelta(days=days)).isoformat(),
                "OffTheJobHoursPlanned": planned_hours,
            }
        )
    return enrolments
