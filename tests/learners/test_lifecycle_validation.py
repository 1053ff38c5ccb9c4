"""The rules of breaks in learning, off-the-job hours and ended records, as ``full_clean()``
gives them to a person entering data; the last tests check the database refuses what skips
validation."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from learners.models import BreakInLearning, LearnerQualification, QualificationStatus
from tests.factories import (
    BreakInLearningFactory,
    LearnerFactory,
    LearnerQualificationFactory,
    QualificationFactory,
)

pytestmark = pytest.mark.django_db

D = datetime.date


def validation_errors(instance) -> dict[str, list[str]]:
    try:
        instance.full_clean()
    except ValidationError as error:
        return error.message_dict
    return {}


@pytest.fixture
def entry():
    """A qualification from 1 Sep 2026, on a break from 5 to 9 Oct 2026 once."""
    learner_qualification = LearnerQualificationFactory(start_date=D(2026, 9, 1))
    BreakInLearningFactory(
        learner_qualification=learner_qualification,
        start_date=D(2026, 10, 5),
        end_date=D(2026, 10, 9),
    )
    return learner_qualification


def plan_entry(**values) -> LearnerQualification:
    """An unsaved qualification on a saved learner's plan, its other fields valid."""
    return LearnerQualificationFactory.build(
        learner=LearnerFactory(), qualification=QualificationFactory(), **values
    )


def a_break(entry, start, end=None) -> BreakInLearning:
    return BreakInLearning(learner_qualification=entry, start_date=start, end_date=end)


# --- Breaks in learning ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (D(2026, 9, 1), D(2026, 10, 4)),  # from the qualification's first day, to the day before
        (D(2026, 10, 10), None),  # from the day after the return, still going on
        (D(2026, 11, 2), D(2026, 11, 2)),  # one day
    ],
)
def test_a_break_beside_the_others_within_the_qualification_is_accepted(entry, start, end):
    assert validation_errors(a_break(entry, start, end)) == {}


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (D(2026, 10, 9), None, "start_date"),  # starts on the other's return day
        (D(2026, 10, 7), D(2026, 10, 20), "start_date"),  # starts inside the other
        (D(2026, 9, 20), D(2026, 10, 5), "end_date"),  # returns on the other's first day
        (D(2026, 9, 20), D(2026, 10, 20), "end_date"),  # spans the other
        (D(2026, 9, 20), None, "start_date"),  # still going on, the other after its start
    ],
)
def test_a_break_overlapping_another_is_refused(entry, start, end, field):
    assert validation_errors(a_break(entry, start, end)) == {
        field: ["This break overlaps another, from 5 Oct 2026 to 9 Oct 2026."]
    }


def test_a_break_of_another_qualification_is_no_overlap(entry):
    other = LearnerQualificationFactory(learner=entry.learner)

    assert validation_errors(a_break(other, D(2026, 10, 6))) == {}


def test_a_second_break_without_a_return_is_refused(entry):
    BreakInLearningFactory(learner_qualification=entry, start_date=D(2026, 11, 2))

    assert validation_errors(a_break(entry, D(2026, 11, 20))) == {
        "__all__": [
            "The qualification is on a break already: record the return before a new break."
        ]
    }


def test_a_break_cannot_start_before_the_qualification(entry):
    assert validation_errors(a_break(entry, D(2026, 8, 31), D(2026, 9, 10))) == {
        "start_date": ["A break cannot start before the qualification does, on 1 Sep 2026."]
    }


def test_a_break_cannot_go_past_the_qualifications_actual_end(entry):
    entry.actual_end_date = D(2026, 11, 10)

    after = a_break(entry, D(2026, 11, 11))
    returning_after = a_break(entry, D(2026, 11, 2), D(2026, 11, 11))
    within = a_break(entry, D(2026, 11, 2), D(2026, 11, 10))

    assert validation_errors(after) == {
        "start_date": ["The qualification ended on 10 Nov 2026: a break cannot start after that."]
    }
    assert validation_errors(returning_after) == {
        "end_date": ["The qualification ended on 10 Nov 2026: the return cannot be after that."]
    }
    assert validation_errors(within) == {}


def test_a_break_cannot_start_or_end_in_the_future(entry):
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)

    assert validation_errors(a_break(entry, tomorrow)) == {
        "start_date": ["A break cannot start in the future."]
    }
    assert validation_errors(a_break(entry, D(2026, 11, 2), tomorrow)) == {
        "end_date": ["The return cannot be in the future."]
    }
    assert validation_errors(a_break(entry, D(2026, 11, 2), today)) == {}


def test_a_return_before_the_start_of_the_break_is_refused(entry):
    assert validation_errors(a_break(entry, D(2026, 11, 2), D(2026, 11, 1))) == {
        "end_date": ["The return cannot be before the start of the break."]
    }


def test_a_break_saved_again_is_no_overlap_with_itself(entry):
    saved = entry.breaks.get()

    assert validation_errors(saved) == {}


def test_the_qualifications_dates_must_still_hold_its_breaks(entry):
    entry.start_date = D(2026, 10, 6)
    entry.actual_end_date = D(2026, 10, 8)

    assert validation_errors(entry) == {
        "start_date": [
            "A break in learning starts on 5 Oct 2026: the start date cannot be after it."
        ],
        "actual_end_date": [
            "A break in learning goes on until 9 Oct 2026: the actual end date cannot be before it."
        ],
    }


# --- Ended records need their actual end date --------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("completed", "A completed qualification needs its actual end date."),
        ("withdrawn", "A withdrawn qualification needs its actual end date."),
    ],
)
def test_an_ended_qualification_needs_its_actual_end_date(status, message):
    entry = plan_entry(status=status)

    assert validation_errors(entry) == {"actual_end_date": [message]}
    entry.actual_end_date = D(2026, 11, 30)
    assert validation_errors(entry) == {}


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("completed", "A completed learner needs their actual end date."),
        ("withdrawn", "A withdrawn learner needs their actual end date."),
    ],
)
def test_an_ended_learner_needs_their_actual_end_date(status, message):
    learner = LearnerFactory.build(main_officer=None, status=status)

    assert validation_errors(learner) == {"actual_end_date": [message]}
    learner.actual_end_date = D(2026, 11, 30)
    assert validation_errors(learner) == {}


# --- Off-the-job hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("planned", "errors"),
    [
        ("0", {}),
        ("5000", {}),
        ("120.5", {}),
        (
            "5000.1",
            {"off_the_job_hours_planned": ["Ensure this value is less than or equal to 5000."]},
        ),
        ("-1", {"off_the_job_hours_planned": ["Ensure this value is greater than or equal to 0."]}),
        (
            "12.25",
            {"off_the_job_hours_planned": ["Ensure that there are no more than 1 decimal place."]},
        ),
    ],
)
def test_planned_off_the_job_hours_are_up_to_5000_to_one_decimal_place(planned, errors):
    entry = plan_entry(off_the_job_hours_planned=Decimal(planned))

    assert validation_errors(entry) == errors


@pytest.mark.parametrize(
    ("planned", "actual", "timeline", "pace"),
    [
        ("200", "100", 50, "on track"),  # 50% done, half the time gone
        ("200", "81", 50, "on track"),  # 40.5%: within 10 points
        ("200", "79", 50, "behind"),  # 39.5%
        ("200", "121", 50, "ahead"),  # 60.5%
        ("200", "0", 0, "on track"),
        (None, "100", 50, None),  # nothing to compare with
        ("200", None, 50, None),  # not recorded yet
        ("0", "10", 50, None),  # nothing planned
    ],
)
def test_the_off_the_job_pace_compares_the_share_of_hours_done_with_the_timeline(
    planned, actual, timeline, pace
):
    entry = LearnerQualification(
        off_the_job_hours_planned=planned and Decimal(planned),
        off_the_job_hours_actual=actual and Decimal(actual),
        timeline_percent=Decimal(timeline),
    )

    assert entry.off_the_job_pace == pace


def test_open_break_and_can_start_break_follow_the_breaks_and_the_status(entry):
    assert entry.open_break is None
    assert entry.can_start_break

    ongoing = BreakInLearningFactory(learner_qualification=entry, start_date=D(2026, 11, 2))
    entry.status = QualificationStatus.BREAK_IN_LEARNING

    assert entry.open_break == ongoing
    assert not entry.can_start_break
    for status in ("completed", "withdrawn"):
        ended = LearnerQualificationFactory(status=status, actual_end_date=D(2026, 11, 1))
        assert not ended.can_start_break


# --- The database refuses what skips validation ------------------------------------------------


def assert_refused_by_the_database(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_the_database_refuses_a_second_open_break(entry):
    BreakInLearning.objects.create(learner_qualification=entry, start_date=D(2026, 11, 2))

    assert_refused_by_the_database(
        lambda: BreakInLearning.objects.create(
            learner_qualification=entry, start_date=D(2026, 11, 20)
        )
    )


def test_the_database_refuses_a_return_before_the_start(entry):
    assert_refused_by_the_database(
        lambda: BreakInLearning.objects.create(
            learner_qualification=entry, start_date=D(2026, 11, 2), end_date=D(2026, 11, 1)
        )
    )


@pytest.mark.parametrize(
    "hours",
    [
        {"off_the_job_hours_planned": Decimal("5000.1")},
        {"off_the_job_hours_planned": Decimal("-0.1")},
        {"off_the_job_hours_actual": Decimal("-0.1")},
    ],
)
def test_the_database_refuses_off_the_job_hours_out_of_bounds(hours):
    learner = LearnerFactory()
    assert_refused_by_the_database(lambda: LearnerQualificationFactory(learner=learner, **hours))


def test_valid_breaks_and_hours_are_accepted_by_the_database(entry):
    """The refusals above come from the constraints, not from rows broken in another way."""
    BreakInLearning.objects.create(learner_qualification=entry, start_date=D(2026, 11, 2))
    BreakInLearning.objects.create(
        learner_qualification=entry, start_date=D(2026, 9, 2), end_date=D(2026, 9, 2)
    )
    LearnerQualificationFactory(
        off_the_job_hours_planned=Decimal("5000"), off_the_job_hours_actual=Decimal("0")
    )

    assert entry.breaks.count() == 3
