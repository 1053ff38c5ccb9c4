"""The plain HTML page at ``/``: what arrived in the sandbox, for a person to look at.

No JavaScript; every value from the store is escaped.
"""

import json
from datetime import date, datetime
from html import escape
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; }
table { border-collapse: collapse; margin-bottom: 1.5rem; }
th, td { border: 1px solid #b1b4b6; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f2f1; }
.muted { color: #505a5f; }
progress { width: 6rem; }
pre { white-space: pre-wrap; margin: 0; }
"""


def uk_date(value: str | date | None) -> str:
    """28 Nov 2026, from a date or the date part of a contract date or date-time."""
    if value is None:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(value[:10])
    return f"{day.day} {day:%b %Y}"


def uk_time(value: str | None) -> str:
    if not value:
        return ""
    return f"{uk_date(value)} {value[11:19]} UTC"


def _cell(value: Any) -> str:
    return f"<td>{escape('' if value is None else str(value))}</td>"


def _table(caption: str, headings: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f"<h2>{escape(caption)}</h2><p class='muted'>{escape(empty)}</p>"
    head = "".join(f"<th scope='col'>{escape(heading)}</th>" for heading in headings)
    return (
        f"<h2>{escape(caption)}</h2><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _enrolments(enrolments: list[dict[str, Any]], titles: dict[int, str]) -> str:
    if not enrolments:
        return "<span class='muted'>No courses</span>"
    items = []
    for enrolment in enrolments:
        title = titles.get(enrolment["CourseSmartAssessorId"], "")
        figures = " · ".join(
            f"{label} {enrolment[name]:g}%"
            for label, name in (
                ("Assessed", "AssessedPercent"),
                ("Mapped", "MappedPercent"),
                ("Timeline", "TimelinePercent"),
            )
        )
        ended = (
            f", ended {uk_date(enrolment['ActualEndDate'])}" if enrolment["ActualEndDate"] else ""
        )
        if enrolment["BreakStartDate"]:
            ended = f", on a break since {uk_date(enrolment['BreakStartDate'])}"
        hours = f"off the job {enrolment['OffTheJobHoursActual']:g} h"
        if enrolment["OffTheJobHoursPlanned"] is not None:
            hours += f" of {enrolment['OffTheJobHoursPlanned']:g} h planned"
        items.append(
            f"<li>{escape(enrolment['QANCode'])} {escape(title)}: "
            f"<strong>{escape(enrolment['Status'])}</strong>{escape(ended)}<br>"
            f"<label>Progress <progress max='100' value='{enrolment['ProgressPercent']:g}'>"
            f"</progress> {enrolment['ProgressPercent']:g}%</label> "
            f"<span class='muted'>{escape(figures)}; {escape(hours)}; planned "
            f"{escape(uk_date(enrolment['StartDate']))} to "
            f"{escape(uk_date(enrolment['PlannedEndDate']))}</span></li>"
        )
    return f"<ul>{''.join(items)}</ul>"


def render(
    overview: dict[str, Any], faults: dict[str, Any], now: datetime, *, feeds: bool = True
) -> str:
    counts = overview["counts"]
    employers = {employer["SmartAssessorId"]: employer for employer in overview["employers"]}
    assessors = {assessor["SmartAssessorId"]: assessor for assessor in overview["assessors"]}
    titles = {
        course["SmartAssessorId"]: course["QualificationTitle"] for course in overview["courses"]
    }

    learner_rows = []
    for learner in overview["learners"]:
        courses = _enrolments(overview["enrolments"].get(learner["SmartAssessorId"], []), titles)
        employer = employers.get(learner["EmployerSmartAssessorId"])
        assessor = assessors.get(learner["AssessorSmartAssessorId"])
        learner_rows.append(
            "<tr>"
            + _cell(f"{learner['GivenNames']} {learner['FamilyName']}")
            + _cell(learner["MISLearnerId"])
            + _cell(learner["SmartAssessorId"])
            + _cell(learner["Email"])
            + _cell(uk_date(learner["DateOfBirth"]))
            + _cell(learner["Status"])
            + _cell(employer["Name"] if employer else learner["EmployerSmartAssessorId"])
            + _cell(
                f"{assessor['FirstName']} {assessor['LastName']}"
                if assessor
                else learner["AssessorSmartAssessorId"]
            )
            + f"<td>{courses}</td>"
            + _cell(uk_time(learner["ModifiedAt"]))
            + "</tr>"
        )
    shown = len(overview["learners"])
    learners_note = (
        f"<p class='muted'>Showing the {shown} most recently changed of {counts['learners']} "
        "learners.</p>"
        if shown < counts["learners"]
        else ""
    )

    employer_rows = [
        "<tr>"
        + "".join(
            _cell(employer[name])
            for name in ("SmartAssessorId", "MISEmployerId", "Name", "EdsId", "AddressPostCode")
        )
        + _cell(uk_time(employer["ModifiedAt"]))
        + "</tr>"
        for employer in overview["employers"]
    ]
    assessor_rows = [
        "<tr>"
        + "".join(
            _cell(assessor[name])
            for name in ("SmartAssessorId", "MISAssessorId", "FirstName", "LastName", "Email")
        )
        + _cell(uk_time(assessor["ModifiedAt"]))
        + "</tr>"
        for assessor in overview["assessors"]
    ]
    course_rows = [
        "<tr>"
        + _cell(course["SmartAssessorId"])
        + _cell(course["QANCode"])
        + _cell(course["QualificationTitle"])
        + _cell("Active" if course["IsActive"] else "Inactive")
        + "</tr>"
        for course in overview["courses"]
    ]
    outbox_rows = [
        "<tr>"
        + _cell(uk_time(email["SentAt"]))
        + _cell(email["To"])
        + _cell(email["Subject"])
        + f"<td><pre>{escape(email['Body'])}</pre></td>"
        + "</tr>"
        for email in overview["outbox"]
    ]
    fault_rows = [
        "<tr>" + _cell(name) + _cell(json.dumps(value)) + "</tr>" for name, value in faults.items()
    ]

    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Smart Assessor sandbox</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Smart Assessor sandbox</h1>"
        f"<p>Simulated date: <strong>{escape(uk_date(now.date()))}</strong> "
        f"({escape(now.strftime('%H:%M'))} UTC). {counts['learners']} learners, "
        f"{counts['employers']} employers, {counts['assessors']} assessors, "
        f"{counts['outbox']} welcome emails. The API is under <code>/api/v1</code>; the "
        "sandbox controls under <code>/_sandbox/</code>.</p>"
        + (
            "<p>Change feeds: <strong>on</strong> (the feed endpoints take "
            "<code>ModifiedSince</code> and <code>AfterId</code>).</p>"
            if feeds
            else "<p>Change feeds: <strong>off</strong> (<code>ModifiedSince</code> and "
            "<code>AfterId</code> are unknown query parameters, as on a Smart Assessor without "
            "feeds: only the paged lists).</p>"
        )
        + _table(
            "Learners",
            [
                "Name",
                "MISLearnerId",
                "SmartAssessorId",
                "Email",
                "Date of birth",
                "Status",
                "Employer",
                "Assessor",
                "Courses and progress",
                "Modified",
            ],
            learner_rows,
            "No learners yet: create one through the API.",
        )
        + learners_note
        + _table(
            "Employers",
            ["SmartAssessorId", "MISEmployerId", "Name", "EdsId", "Postcode", "Modified"],
            employer_rows,
            "No employers.",
        )
        + _table(
            "Assessors",
            ["SmartAssessorId", "MISAssessorId", "First name", "Last name", "Email", "Modified"],
            assessor_rows,
            "No assessors.",
        )
        + _table(
            "Welcome-email outbox",
            ["Sent", "To", "Subject", "Body"],
            outbox_rows,
            "No welcome emails sent.",
        )
        + _table("Current faults", ["Setting", "Value"], fault_rows, "")
        + _table("Courses", ["SmartAssessorId", "QANCode", "Title", "State"], course_rows, "")
        + "</body></html>"
    )
