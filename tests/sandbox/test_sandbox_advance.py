"""``POST /_sandbox/advance``: simulated time moves the world on, with real changes to read."""

from datetime import UTC, date, datetime, timedelta

import pytest

from .helpers import EPOCH, SPACED_COURSE_ID, today

BANDS = (("Low", 0, 0.34), ("Medium", 0.34, 0.67), ("High", 0.67, 1.01))


def _days_ago(days: int) -> str:
    return (today() - timedelta(days=days)).isoformat()


@pytest.fixture
def enrolled(api):
    """A learner 100 days into a one-year course: in training for the next 45 days whatever
    pace, break or withdrawal the sandbox draws for the enrolment."""
    learner = api.learner(StartDate=_days_ago(100))
    course = api.enrol(
        learner["SmartAssessorId"],
        StartDate=_days_ago(100),
        PlannedEndDate=(date.fromisoformat(_days_ago(100)) + timedelta(days=365)).isoformat(),
    )
    return learner, course


def test_advance_answers_the_new_simulated_time_and_what_changed(api, sandbox, enrolled):
    answer = sandbox.advance(30)

    assert answer["Now"].startswith((today() + timedelta(days=30)).isoformat())
    assert answer["Changed"]["LearnerCourses"] == 1
    assert answer["Changed"]["Sessions"] > 0
    assert answer["Changed"]["SmartCoach"] == 1


def test_courses_progress_with_the_timeline_and_get_a_new_modified_at(api, sandbox, enrolled):
    learner, course = enrolled

    sandbox.advance(30)
    moved = api.get(f"/learners/{learner['SmartAssessorId']}/courses").json()["Items"][0]

    assert moved["ModifiedAt"] > course["ModifiedAt"]
    assert moved["Status"] == "InTraining"
    assert moved["TimelinePercent"] == pytest.approx(130 / 365 * 100, abs=0.1)
    assert 0 < moved["ProgressPercent"] < 100
    assert moved["AssessedPercent"] <= moved["ProgressPercent"] <= moved["MappedPercent"]


def test_a_course_completes_on_its_planned_end_date(api, sandbox):
    ends = (today() + timedelta(days=10)).isoformat()
    for _ in range(10):
        learner = api.learner(StartDate=_days_ago(100))["SmartAssessorId"]
        api.enrol(learner, StartDate=_days_ago(100), PlannedEndDate=ends)

    sandbox.advance(9)
    day_before = api.feed("/learner-courses")
    sandbox.advance(1)
    on_the_day = api.feed("/learner-courses")

    assert "Completed" not in {course["Status"] for course in day_before}
    completed = [course for course in on_the_day if course["Status"] == "Completed"]
    assert completed
    assert {course["ActualEndDate"] for course in completed} == {ends}
    assert {course["Status"] for course in on_the_day} <= {"Completed", "Withdrawn"}


def test_courses_end_completed_at_their_planned_end_or_withdrawn_before(api, sandbox):
    sandbox.seed(60, courses_per_learner=2, prefix="END")

    sandbox.advance(700)
    courses = api.feed("/learner-courses")

    completed = [course for course in courses if course["Status"] == "Completed"]
    withdrawn = [course for course in courses if course["Status"] == "Withdrawn"]
    assert len(completed) + len(withdrawn) == len(courses) == 120
    assert completed and withdrawn
    for course in completed:
        assert course["ActualEndDate"] == course["PlannedEndDate"]
        assert course["ProgressPercent"] == course["TimelinePercent"] == 100
    for course in withdrawn:
        assert course["StartDate"] < course["ActualEndDate"] < course["PlannedEndDate"]
        assert course["ProgressPercent"] < 100


def test_a_course_awaits_induction_until_it_starts(api, sandbox):
    learner = api.learner(StartDate=(today() + timedelta(days=10)).isoformat())
    course = api.enrol(
        learner["SmartAssessorId"],
        StartDate=(today() + timedelta(days=10)).isoformat(),
        PlannedEndDate=(today() + timedelta(days=400)).isoformat(),
    )
    path = f"/learners/{learner['SmartAssessorId']}/courses"

    sandbox.advance(5)
    waiting = api.get(path).json()["Items"][0]
    sandbox.advance(10)
    started = api.get(path).json()["Items"][0]

    assert waiting["Status"] == "AwaitingInduction"
    assert waiting["ModifiedAt"] == course["ModifiedAt"]
    assert started["Status"] == "InTraining"


def test_off_the_job_hours_accrue_in_training_at_the_planned_rate(api, sandbox):
    learner = api.learner(StartDate=_days_ago(100))["SmartAssessorId"]
    year = {"StartDate": _days_ago(100), "PlannedEndDate": _days_ago(100 - 365)}
    planned = api.enrol(learner, OffTheJobHoursPlanned=1000, **year)["SmartAssessorId"]
    unplanned = api.enrol(learner, CourseSmartAssessorId=SPACED_COURSE_ID, **year)
    path = f"/learners/{learner}/courses"

    sandbox.advance(10)
    first = {item["SmartAssessorId"]: item for item in api.get(path).json()["Items"]}
    sandbox.advance(10)
    second = {item["SmartAssessorId"]: item for item in api.get(path).json()["Items"]}

    # 110 days, then 120, into a 365-day course: in training whatever the sandbox draws.
    for rate, enrolment in ((1000 / 365, planned), (6 / 7, unplanned["SmartAssessorId"])):
        hours = first[enrolment]["OffTheJobHoursActual"]
        assert 0.8 * rate * 110 <= hours <= 1.2 * rate * 110
        assert second[enrolment]["OffTheJobHoursActual"] == pytest.approx(
            hours * 120 / 110, abs=0.1
        )
        assert second[enrolment]["ModifiedAt"] > first[enrolment]["ModifiedAt"]


def test_a_break_in_learning_freezes_the_figures_and_the_hours(api, sandbox):
    sandbox.seed(300, courses_per_learner=2, prefix="BRK")
    sandbox.advance(60)
    courses = api.feed("/learner-courses")
    week_later = today() + timedelta(days=60 + 7)
    on_break = [
        course
        for course in courses
        if course["Status"] == "BreakInLearning"
        and date.fromisoformat(course["BreakStartDate"]) + timedelta(days=42) > week_later
    ]

    sandbox.advance(7)
    after = {course["SmartAssessorId"]: course for course in api.feed("/learner-courses")}

    assert on_break
    for course in courses:
        assert (course["BreakStartDate"] is not None) == (course["Status"] == "BreakInLearning")
    for course in on_break:
        assert course["BreakStartDate"] <= (today() + timedelta(days=60)).isoformat()
        assert after[course["SmartAssessorId"]] == course


def test_off_the_job_hours_stop_when_a_course_ends(api, sandbox):
    ends = (today() + timedelta(days=10)).isoformat()
    for _ in range(10):
        learner = api.learner(StartDate=_days_ago(100))["SmartAssessorId"]
        api.enrol(learner, StartDate=_days_ago(100), PlannedEndDate=ends, OffTheJobHoursPlanned=110)

    sandbox.advance(9)
    day_before = {item["SmartAssessorId"]: item for item in api.feed("/learner-courses")}
    sandbox.advance(1)
    ended = api.feed("/learner-courses")
    sandbox.advance(30)

    assert api.feed("/learner-courses") == ended
    for course in ended:
        before = day_before[course["SmartAssessorId"]]
        if course["Status"] == "Completed":
            assert course["OffTheJobHoursActual"] > before["OffTheJobHoursActual"]
            assert 0.8 * 110 <= course["OffTheJobHoursActual"] <= 1.2 * 110
        else:
            assert course["OffTheJobHoursActual"] == before["OffTheJobHoursActual"]


def test_sessions_appear_and_past_ones_carry_their_attendance(api, sandbox, enrolled):
    learner, _ = enrolled

    now = datetime.fromisoformat(sandbox.advance(30)["Now"])
    real_now = datetime.now(UTC)
    sessions = api.get(f"/learners/{learner['SmartAssessorId']}/sessions").json()["Items"]

    codes = {session["EventType"] for session in sessions}
    assert {"IND", "PR", "AV"} <= codes
    for session in sessions:
        assert session["LearnerSmartAssessorId"] == learner["SmartAssessorId"]
        ends = datetime.fromisoformat(session["PlannedStart"]) + timedelta(
            minutes=session["DurationMinutes"]
        )
        # Over on the simulated clock and on the real one, the MIS's.
        if ends <= min(now, real_now):
            assert session["Attendance"] in ("Attended", "NotAttended", "Cancelled")
            assert (session["ActualStart"] is not None) == (session["Attendance"] == "Attended")
        else:
            assert session["Attendance"] is None
            assert session["ActualStart"] is None
    event_types = {item["Code"] for item in api.get("/event-types").json()["Items"]}
    assert codes <= event_types


def test_smart_coach_scores_appear_with_a_band_that_matches(api, sandbox, enrolled):
    learner, _ = enrolled

    sandbox.advance(1)
    score = api.get(f"/learners/{learner['SmartAssessorId']}/smart-coach").json()

    assert score["LearnerSmartAssessorId"] == learner["SmartAssessorId"]
    assert 0 <= score["Score"] <= 1
    low, high = next((low, high) for band, low, high in BANDS if band == score["Band"])
    assert low <= score["Score"] < high


def test_advancing_again_without_time_passing_changes_nothing(api, sandbox, enrolled):
    sandbox.advance(30)
    before = api.feed("/learner-courses") + api.feed("/sessions") + api.feed("/smart-coach")

    answer = sandbox.advance(0)

    assert answer["Changed"] == {"LearnerCourses": 0, "Sessions": 0, "SmartCoach": 0}
    after = api.feed("/learner-courses") + api.feed("/sessions") + api.feed("/smart-coach")
    assert after == before


def test_many_learners_show_every_kind_of_progress(api, sandbox):
    sandbox.seed(300, courses_per_learner=2, prefix="MIX")

    sandbox.advance(60)
    courses = api.feed("/learner-courses")
    learners = api.feed("/learners")
    scores = api.feed("/smart-coach")

    statuses = {course["Status"] for course in courses}
    assert {"InTraining", "Completed", "BreakInLearning", "Withdrawn"} <= statuses
    training = [course for course in courses if course["Status"] == "InTraining"]
    assert any(course["ProgressPercent"] > course["TimelinePercent"] + 10 for course in training)
    assert any(course["ProgressPercent"] < course["TimelinePercent"] - 10 for course in training)
    assert {"Active", "BreakInLearning", "Completed"} <= {item["Status"] for item in learners}
    assert {"Low", "Medium", "High"} <= {score["Band"] for score in scores}
    for course in courses:
        if course["Status"] in ("Completed", "Withdrawn"):
            assert course["ActualEndDate"] is not None
        else:
            assert course["ActualEndDate"] is None


def test_the_story_is_the_same_in_one_step_or_many(api, sandbox):
    sandbox.seed(40, courses_per_learner=2, prefix="STEP")
    sandbox.advance(10)
    sandbox.advance(20)
    stepped = [_without_stamp(item) for item in api.feed("/learner-courses")]

    sandbox.reset()
    sandbox.faults(RateLimitPerSecond=None)
    api.authenticate()
    sandbox.seed(40, courses_per_learner=2, prefix="STEP")
    sandbox.advance(30)
    direct = [_without_stamp(item) for item in api.feed("/learner-courses")]

    assert sorted(stepped, key=str) == sorted(direct, key=str)


def _without_stamp(item: dict) -> dict:
    return {name: value for name, value in item.items() if name != "ModifiedAt"}


def test_feeds_after_an_advance_return_exactly_what_changed(api, sandbox, enrolled):
    sandbox.advance(1)
    watermark = api.feed("/learner-courses")[-1]["ModifiedAt"]

    answer = sandbox.advance(7)
    changed = api.feed("/learner-courses", since=watermark)

    fresh = [item for item in changed if item["ModifiedAt"] > watermark]
    assert len(fresh) == answer["Changed"]["LearnerCourses"]


def test_the_feed_watermark_of_an_empty_site_is_the_epoch(api):
    assert api.feed("/sessions", since=EPOCH) == []
