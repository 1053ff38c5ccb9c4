"""§7.5 of the contract: an enrolment's status moves by ``PATCH`` with ``Status`` and
``StatusDate``, along the contract's transitions only, and ``advance`` respects what the MIS
set: a break freezes the figures and the off-the-job hours until the MIS ends it."""

from datetime import date, timedelta

import pytest

from .helpers import problems, today

STATUSES = ["AwaitingInduction", "InTraining", "BreakInLearning", "Completed", "Withdrawn"]
# The contract's table, written out again so that the sandbox's copy is checked against it.
ALLOWED = {
    ("AwaitingInduction", "InTraining"),
    ("AwaitingInduction", "BreakInLearning"),
    ("AwaitingInduction", "Withdrawn"),
    ("InTraining", "BreakInLearning"),
    ("InTraining", "Withdrawn"),
    ("InTraining", "Completed"),
    ("BreakInLearning", "InTraining"),
    ("BreakInLearning", "Withdrawn"),
}
# How to bring a new enrolment to each status, one PATCH a step.
ROUTE_TO = {
    "AwaitingInduction": [],
    "InTraining": ["InTraining"],
    "BreakInLearning": ["BreakInLearning"],
    "Completed": ["InTraining", "Completed"],
    "Withdrawn": ["Withdrawn"],
}
MOVES = [(start, end) for start in STATUSES for end in STATUSES if start != end]
# 365 planned days from 100 days ago, 365 hours planned: one hour a day at the plan's rate.
START, PLANNED_END, PLANNED_HOURS = -100, 265, 365
FIGURES = ["ProgressPercent", "AssessedPercent", "MappedPercent", "TimelinePercent"]


def day(offset: int) -> str:
    """The date ``offset`` days from today, as the contract writes dates."""
    return (today() + timedelta(days=offset)).isoformat()


def timeline(days: int) -> float:
    return round(100 * days / (PLANNED_END - START), 1)


@pytest.fixture
def learner(api):
    return api.learner(StartDate=day(START))["SmartAssessorId"]


@pytest.fixture
def enrolment(api, learner):
    return api.enrol(
        learner,
        StartDate=day(START),
        PlannedEndDate=day(PLANNED_END),
        OffTheJobHoursPlanned=PLANNED_HOURS,
    )


def _path(enrolment):
    return f"/learners/{enrolment['LearnerSmartAssessorId']}/courses/{enrolment['SmartAssessorId']}"


def move(api, enrolment, status, status_date, **fields):
    return api.patch(_path(enrolment), {"Status": status, "StatusDate": status_date, **fields})


def moved(api, enrolment, status, status_date, **fields):
    response = move(api, enrolment, status, status_date, **fields)
    assert response.status_code == 200, response.text
    return response.json()


def bring_to(api, enrolment, status):
    for step, target in enumerate(ROUTE_TO[status]):
        enrolment = moved(api, enrolment, target, day(START + 10 + 10 * step))
    return enrolment


def stored(api, enrolment):
    items = api.get(f"/learners/{enrolment['LearnerSmartAssessorId']}/courses").json()["Items"]
    return next(item for item in items if item["SmartAssessorId"] == enrolment["SmartAssessorId"])


def _move_id(pair):
    return "-to-".join(pair)


class TestTransitions:
    @pytest.mark.parametrize(("start", "end"), sorted(ALLOWED), ids=map(_move_id, sorted(ALLOWED)))
    def test_each_move_of_the_table_is_made_with_its_dates(self, api, enrolment, start, end):
        before = bring_to(api, enrolment, start)

        after = moved(api, before, end, day(-50))

        assert after["Status"] == end
        assert after["BreakStartDate"] == (day(-50) if end == "BreakInLearning" else None)
        ends = end in ("Completed", "Withdrawn")
        assert after["ActualEndDate"] == (day(-50) if ends else None)
        assert after["ModifiedAt"] > before["ModifiedAt"]
        assert {name: after[name] for name in FIGURES} == {name: before[name] for name in FIGURES}
        assert stored(api, enrolment) == after

    @pytest.mark.parametrize(
        ("start", "end"),
        [pair for pair in MOVES if pair not in ALLOWED],
        ids=map(_move_id, [pair for pair in MOVES if pair not in ALLOWED]),
    )
    def test_every_other_move_is_an_invalid_transition(self, api, enrolment, start, end):
        before = bring_to(api, enrolment, start)

        response = move(api, before, end, day(-50))

        assert response.status_code == 409
        assert problems(response) == [("invalid_transition", "Status")]
        message = response.json()["Errors"][0]["Message"]
        assert start in message
        assert end in message
        assert stored(api, enrolment) == before

    def test_awaiting_induction_cannot_be_sent_again(self, api, enrolment):
        response = move(api, enrolment, "AwaitingInduction", day(START))

        assert response.status_code == 409
        assert problems(response) == [("invalid_transition", "Status")]

    def test_a_learner_may_take_a_second_break(self, api, enrolment):
        first = moved(api, enrolment, "BreakInLearning", day(-80))
        moved(api, first, "InTraining", day(-60))

        second = moved(api, first, "BreakInLearning", day(-40))

        assert second["BreakStartDate"] == day(-40)

    def test_a_return_clears_the_break_and_a_withdrawal_from_one_too(self, api, learner, enrolment):
        on_break = moved(api, enrolment, "BreakInLearning", day(-80))
        back = moved(api, on_break, "InTraining", day(-60))
        other = api.enrol(
            learner, CourseSmartAssessorId=103, StartDate=day(START), PlannedEndDate=day(200)
        )
        moved(api, other, "BreakInLearning", day(-70))
        withdrawn = moved(api, other, "Withdrawn", day(-30))

        assert (back["Status"], back["BreakStartDate"], back["ActualEndDate"]) == (
            "InTraining",
            None,
            None,
        )
        assert (withdrawn["BreakStartDate"], withdrawn["ActualEndDate"]) == (None, day(-30))

    def test_the_status_may_move_with_other_fields_in_one_patch(self, api, enrolment):
        after = moved(api, enrolment, "InTraining", day(-90), PlannedEndDate=day(300))

        assert (after["Status"], after["PlannedEndDate"]) == ("InTraining", day(300))


class TestRepeats:
    """A status sent again is a safe retry when it matches what is recorded."""

    @pytest.mark.parametrize("status", ["BreakInLearning", "Completed", "Withdrawn"])
    def test_the_same_status_on_the_recorded_date_changes_nothing(self, api, enrolment, status):
        before = bring_to(api, enrolment, status)
        recorded = before["BreakStartDate"] or before["ActualEndDate"]

        again = move(api, before, status, recorded)

        assert again.status_code == 200
        assert again.json() == before
        assert api.feed("/learner-courses", since=before["ModifiedAt"]) == [before]

    @pytest.mark.parametrize("status", ["BreakInLearning", "Completed", "Withdrawn"])
    def test_the_same_status_on_another_date_is_an_invalid_transition(self, api, enrolment, status):
        before = bring_to(api, enrolment, status)

        response = move(api, before, status, day(-5))

        assert response.status_code == 409
        assert problems(response) == [("invalid_transition", "Status")]
        assert status in response.json()["Errors"][0]["Message"]
        assert stored(api, enrolment) == before

    @pytest.mark.parametrize("status_date", [day(-90), day(-1), day(START - 30), day(30)], ids=str)
    def test_in_training_again_changes_nothing_whatever_its_date(self, api, enrolment, status_date):
        before = moved(api, enrolment, "InTraining", day(-95))

        again = move(api, before, "InTraining", status_date)

        assert again.status_code == 200
        assert again.json() == before

    def test_a_repeat_may_come_with_a_real_change(self, api, enrolment):
        before = bring_to(api, enrolment, "Withdrawn")

        after = moved(api, before, "Withdrawn", before["ActualEndDate"], OffTheJobHoursPlanned=1)

        assert after["OffTheJobHoursPlanned"] == 1
        assert after["ModifiedAt"] > before["ModifiedAt"]


class TestStatusDate:
    def test_status_needs_a_status_date_and_the_other_way_round(self, api, enrolment):
        alone = api.patch(_path(enrolment), {"Status": "InTraining"})
        date_alone = api.patch(_path(enrolment), {"StatusDate": day(-1)})

        assert problems(alone) == [("validation", "StatusDate")]
        assert problems(date_alone) == [("validation", "Status")]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("Status", "Paused"),
            ("Status", "inTraining"),
            ("Status", None),
            ("Status", 2),
            ("StatusDate", "2026-02-30"),
            ("StatusDate", "01/09/2025"),
            ("StatusDate", f"{day(-1)}T00:00:00Z"),
            ("StatusDate", None),
        ],
        ids=str,
    )
    def test_each_must_be_well_formed(self, api, enrolment, field, value):
        body = {"Status": "InTraining", "StatusDate": day(-1), field: value}

        response = api.patch(_path(enrolment), body)

        assert response.status_code == 400
        assert problems(response) == [("validation", field)]

    def test_it_may_be_the_start_date_but_not_before(self, api, enrolment):
        before = move(api, enrolment, "InTraining", day(START - 1))
        on_the_day = move(api, enrolment, "InTraining", day(START))

        assert problems(before) == [("validation", "StatusDate")]
        assert day(START) in before.json()["Errors"][0]["Message"]
        assert on_the_day.status_code == 200

    def test_it_may_be_today_but_not_later(self, api, enrolment):
        tomorrow = move(api, enrolment, "BreakInLearning", day(1))
        today_ = move(api, enrolment, "BreakInLearning", day(0))

        assert problems(tomorrow) == [("validation", "StatusDate")]
        assert today_.status_code == 200

    def test_today_is_the_simulated_day(self, api, sandbox, enrolment):
        assert move(api, enrolment, "Withdrawn", day(5)).status_code == 400

        sandbox.advance(5)

        assert moved(api, enrolment, "Withdrawn", day(5))["ActualEndDate"] == day(5)

    def test_a_return_may_not_come_before_its_break(self, api, enrolment):
        on_break = moved(api, enrolment, "BreakInLearning", day(-60))

        early = move(api, on_break, "InTraining", day(-61))
        on_the_day = move(api, on_break, "InTraining", day(-60))

        assert problems(early) == [("validation", "StatusDate")]
        assert "BreakStartDate" in early.json()["Errors"][0]["Message"]
        assert on_the_day.status_code == 200

    def test_a_withdrawal_from_a_break_may_be_dated_before_it(self, api, enrolment):
        on_break = moved(api, enrolment, "BreakInLearning", day(-60))

        withdrawn = move(api, on_break, "Withdrawn", day(-61))

        assert withdrawn.status_code == 200

    def test_a_refused_patch_changes_nothing_and_names_every_problem(self, api, enrolment):
        response = move(
            api, enrolment, "InTraining", day(1), PlannedEndDate=day(400), OffTheJobHoursPlanned=-1
        )

        assert sorted(problems(response)) == [
            ("validation", "OffTheJobHoursPlanned"),
            ("validation", "StatusDate"),
        ]
        assert stored(api, enrolment) == enrolment

    def test_a_bad_request_is_refused_before_an_invalid_move(self, api, enrolment):
        withdrawn = moved(api, enrolment, "Withdrawn", day(-50))

        response = move(api, withdrawn, "InTraining", day(1))

        assert response.status_code == 400
        assert problems(response) == [("validation", "StatusDate")]


class TestTheLearnerFollows:
    def test_the_learner_status_follows_its_courses_and_moves_its_modified_at(
        self, api, learner, enrolment
    ):
        before = api.get(f"/learners/{learner}").json()

        moved(api, enrolment, "BreakInLearning", day(-10))
        on_break = api.get(f"/learners/{learner}").json()
        moved(api, enrolment, "Withdrawn", day(-5))
        withdrawn = api.get(f"/learners/{learner}").json()

        assert before["Status"] == "Active"
        assert on_break["Status"] == "BreakInLearning"
        assert withdrawn["Status"] == "Withdrawn"
        assert withdrawn["ModifiedAt"] > on_break["ModifiedAt"] > before["ModifiedAt"]
        assert api.feed("/learners", since=on_break["ModifiedAt"]) == [withdrawn]

    def test_a_move_the_learner_status_does_not_see_leaves_the_learner(
        self, api, learner, enrolment
    ):
        before = api.get(f"/learners/{learner}").json()

        moved(api, enrolment, "InTraining", day(-10))

        assert api.get(f"/learners/{learner}").json() == before

    def test_a_patched_status_comes_back_in_the_feed(self, api, learner, enrolment):
        later = api.enrol(learner, CourseSmartAssessorId=103)

        patched = moved(api, enrolment, "BreakInLearning", day(-1))

        fed = api.feed(
            "/learner-courses", since=later["ModifiedAt"], after_id=later["SmartAssessorId"]
        )
        assert fed == [patched]


class TestAdvance:
    """What ``advance`` makes of the statuses the MIS set."""

    def test_an_induction_starts_the_figures_and_hours_from_its_date(self, api, sandbox, enrolment):
        moved(api, enrolment, "InTraining", day(-10))

        sandbox.advance(10)
        first = stored(api, enrolment)
        sandbox.advance(10)
        second = stored(api, enrolment)

        # 20 days in training, then 30: counted from the induction, not the start date.
        assert first["TimelinePercent"] == timeline(20)
        assert second["TimelinePercent"] == timeline(30)
        assert 0.8 * 20 <= first["OffTheJobHoursActual"] <= 1.2 * 20
        hours = first["OffTheJobHoursActual"]
        assert second["OffTheJobHoursActual"] == pytest.approx(hours * 1.5, abs=0.2)
        assert 0 < first["ProgressPercent"] < second["ProgressPercent"]
        assert second["ModifiedAt"] > first["ModifiedAt"]

    def test_an_induction_after_an_advance_still_counts_from_its_date(self, api, sandbox):
        sandbox.advance(10)
        learner = api.learner(StartDate=day(START))["SmartAssessorId"]
        enrolment = api.enrol(learner, StartDate=day(START), PlannedEndDate=day(PLANNED_END))
        moved(api, enrolment, "InTraining", day(-10))

        sandbox.advance(10)

        assert stored(api, enrolment)["TimelinePercent"] == timeline(30)

    def test_a_break_freezes_everything_until_the_mis_ends_it(self, api, sandbox, enrolment):
        moved(api, enrolment, "InTraining", day(START))
        sandbox.advance(0)
        training = stored(api, enrolment)
        on_break = moved(api, enrolment, "BreakInLearning", day(0))

        sandbox.advance(30)
        a_month_on = stored(api, enrolment)
        sandbox.advance(60)
        three_months_on = stored(api, enrolment)

        assert training["TimelinePercent"] == timeline(100)
        assert training["OffTheJobHoursActual"] > 0
        assert on_break["OffTheJobHoursActual"] == training["OffTheJobHoursActual"]
        assert a_month_on == three_months_on == on_break
        assert three_months_on["Status"] == "BreakInLearning"

    def test_a_return_counts_from_the_last_simulated_day_when_dated_before_it(
        self, api, sandbox, enrolment
    ):
        moved(api, enrolment, "InTraining", day(START))
        sandbox.advance(0)
        training = stored(api, enrolment)
        moved(api, enrolment, "BreakInLearning", day(0))
        sandbox.advance(60)
        moved(api, enrolment, "InTraining", day(55))

        sandbox.advance(10)
        back = stored(api, enrolment)

        assert back["Status"] == "InTraining"
        assert back["BreakStartDate"] is None
        # 100 days before the break and 10 since the last simulated day, not 15 since the return.
        assert back["TimelinePercent"] == round(timeline(100) + 100 * 10 / 365, 1)
        rate = training["OffTheJobHoursActual"] / 100
        assert back["OffTheJobHoursActual"] == pytest.approx(
            training["OffTheJobHoursActual"] + 10 * rate, abs=0.15
        )
        assert back["ProgressPercent"] > training["ProgressPercent"]

    def test_a_return_completes_on_the_planned_end_date_and_stops_there(
        self, api, sandbox, enrolment
    ):
        moved(api, enrolment, "BreakInLearning", day(-50))
        moved(api, enrolment, "InTraining", day(-20))

        sandbox.advance(PLANNED_END + 30)
        completed = stored(api, enrolment)
        sandbox.advance(30)

        assert completed["Status"] == "Completed"
        assert completed["ActualEndDate"] == day(PLANNED_END)
        assert {completed[name] for name in FIGURES} == {100}
        # Trained from the return to the planned end: 285 of the 365 planned days.
        assert 0.8 * 285 <= completed["OffTheJobHoursActual"] <= 1.2 * 285
        assert stored(api, enrolment) == completed

    def test_an_enrolment_the_mis_ended_stays_as_it_ended(self, api, sandbox, learner):
        withdrawn = api.enrol(
            learner,
            StartDate=day(START),
            PlannedEndDate=day(PLANNED_END),
            CourseSmartAssessorId=101,
        )
        completed = api.enrol(
            learner,
            StartDate=day(START),
            PlannedEndDate=day(PLANNED_END),
            CourseSmartAssessorId=103,
        )
        moved(api, withdrawn, "InTraining", day(START))
        moved(api, completed, "InTraining", day(START))
        sandbox.advance(0)
        withdrawn = moved(api, withdrawn, "Withdrawn", day(-3))
        completed = moved(api, completed, "Completed", day(0))

        sandbox.advance(PLANNED_END + 30)

        assert stored(api, withdrawn) == withdrawn
        assert stored(api, completed) == completed
        assert withdrawn["OffTheJobHoursActual"] > 0
        assert completed["ProgressPercent"] < 100

    def test_a_break_from_awaiting_induction_is_not_undone_by_the_start(self, api, sandbox):
        learner = api.learner(StartDate=day(-5))["SmartAssessorId"]
        enrolment = api.enrol(learner, StartDate=day(-5), PlannedEndDate=day(360))
        on_break = moved(api, enrolment, "BreakInLearning", day(-5))

        sandbox.advance(50)

        assert stored(api, enrolment) == on_break
        assert {on_break[name] for name in [*FIGURES, "OffTheJobHoursActual"]} == {0}

    def test_the_mis_can_end_a_break_the_sandbox_drew(self, api, sandbox):
        sandbox.seed(300, courses_per_learner=2, prefix="DRAWN")
        sandbox.advance(60)
        drawn = next(
            course
            for course in api.feed("/learner-courses")
            if course["Status"] == "BreakInLearning"
            and date.fromisoformat(course["BreakStartDate"]) + timedelta(days=42)
            > today() + timedelta(days=70)
        )

        repeat = move(api, drawn, "BreakInLearning", drawn["BreakStartDate"])
        back = moved(api, drawn, "InTraining", drawn["BreakStartDate"])
        sandbox.advance(7)
        later = stored(api, drawn)

        assert repeat.json() == drawn
        assert back["BreakStartDate"] is None
        assert later["Status"] == "InTraining"
        assert later["OffTheJobHoursActual"] > drawn["OffTheJobHoursActual"]
        assert later["TimelinePercent"] > drawn["TimelinePercent"]
