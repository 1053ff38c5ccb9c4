"""Sessions the simulated clock has passed but the real one (the MIS's) has not stay booked."""

from datetime import UTC, date, datetime, timedelta

from sandbox import simulation

from .helpers import today


def _learner_and_course(start: date) -> tuple[dict, dict]:
    learner = {
        "SmartAssessorId": "learner-1",
        "StartDate": start.isoformat(),
        "AssessorSmartAssessorId": 7,
    }
    course = {
        "SmartAssessorId": "course-1",
        "CourseSmartAssessorId": 3001,
        "PrimaryAssessorSmartAssessorId": 7,
        "StartDate": start.isoformat(),
        "PlannedEndDate": (start + timedelta(days=540)).isoformat(),
        "OffTheJobHoursPlanned": None,
    }
    return learner, course


def test_no_session_is_attended_after_the_real_now():
    real_now = datetime.now(UTC)
    learner, course = _learner_and_course(real_now.date() - timedelta(days=200))
    simulated_now = real_now + timedelta(days=120)

    sessions = simulation.learner_sessions(learner, [course], simulated_now, real_now=real_now)

    def ends(session: dict) -> datetime:
        return datetime.fromisoformat(session["PlannedStart"]) + timedelta(
            minutes=session["DurationMinutes"]
        )

    past = [session for session in sessions if ends(session) <= real_now]
    ahead = [session for session in sessions if ends(session) > real_now]
    assert past and ahead  # the simulated 120 days hold sessions that are still to come
    assert all(session["Attendance"] is not None for session in past)
    assert all(session["Attendance"] is None for session in ahead)
    assert all(session["ActualStart"] is None for session in ahead)
    assert any(session["Attendance"] == "Attended" for session in past)


def test_without_a_real_now_the_simulated_clock_decides_as_before():
    now = datetime.now(UTC)
    learner, course = _learner_and_course(now.date() - timedelta(days=200))

    assert simulation.learner_sessions(learner, [course], now) == simulation.learner_sessions(
        learner, [course], now, real_now=now + timedelta(days=30)
    )


def test_the_sandbox_keeps_sessions_ahead_of_the_real_clock_booked(api, sandbox):
    start = (today() - timedelta(days=150)).isoformat()
    learner = api.learner(StartDate=start)
    api.enrol(
        learner["SmartAssessorId"],
        StartDate=start,
        PlannedEndDate=(date.fromisoformat(start) + timedelta(days=540)).isoformat(),
    )

    sandbox.advance(100)
    sessions = api.get(f"/learners/{learner['SmartAssessorId']}/sessions").json()["Items"]

    real_now = datetime.now(UTC)
    attended = [
        datetime.fromisoformat(session["ActualStart"])
        for session in sessions
        if session["Attendance"] == "Attended"
    ]
    assert attended
    assert max(attended) <= real_now
    assert any(
        session["Attendance"] is None
        and datetime.fromisoformat(session["PlannedStart"]) < real_now + timedelta(days=100)
        and datetime.fromisoformat(session["PlannedStart"]) > real_now
        for session in sessions
    )


def test_a_test_may_let_the_simulated_clock_alone_hold_sessions(api, sandbox):
    start = (today() - timedelta(days=150)).isoformat()
    learner = api.learner(StartDate=start)
    api.enrol(
        learner["SmartAssessorId"],
        StartDate=start,
        PlannedEndDate=(date.fromisoformat(start) + timedelta(days=540)).isoformat(),
    )

    now = datetime.fromisoformat(sandbox.advance(100, real_clock_sessions=False)["Now"])
    sessions = api.get(f"/learners/{learner['SmartAssessorId']}/sessions").json()["Items"]

    held_later = [
        session
        for session in sessions
        if datetime.fromisoformat(session["PlannedStart"]) > datetime.now(UTC)
        and datetime.fromisoformat(session["PlannedStart"])
        + timedelta(minutes=session["DurationMinutes"])
        <= now
    ]
    assert held_later
    assert all(session["Attendance"] is not None for session in held_later)


def test_the_advance_refuses_a_real_clock_setting_that_is_not_true_or_false(sandbox):
    import requests

    answer = requests.post(
        f"{sandbox.url}/_sandbox/advance",
        json={"Days": 1, "RealClockSessions": "no"},
        timeout=10,
    )

    assert answer.status_code == 400
    assert "RealClockSessions must be true or false." in answer.text
