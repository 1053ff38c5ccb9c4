"""The learner's pages in words a person reads (issue 15): no raw "None", a refresh summed up in
a line, "Fix it" at the field and back to the plan, and the dialogs opening from local data."""

import re

import pytest
from django.urls import reverse

from learners.models import Learner
from smartassessor.in_words import change_in_words, changes_for_people, refresh_summary
from smartassessor.models import OfficerLink, QualificationLink, SyncChange, SyncRun
from smartassessor.selectors.enrolment_preview import enrolment_preview
from smartassessor.services import sync
from smartassessor.services.sync.planning import ADOPT_COURSE, CREATE_REVIEW, ENROL_COURSE
from smartassessor.templatetags.smartassessor_extras import sentence
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    PlacementFactory,
    QualificationFactory,
)

from .client import wire
from .sync_helpers import enrolled_learner, map_event_types

pytestmark = pytest.mark.django_db

QUALIFICATION = SyncChange.Target.QUALIFICATION
REVIEW = SyncChange.Target.REVIEW


def _change(target, record, field="", old="", new="", attr="", record_id=None, pk=None):
    return SyncChange(
        pk=pk,
        target=target,
        record=record,
        field=field,
        attr=attr,
        old_value=old,
        new_value=new,
        record_id=record_id,
    )


def test_a_refresh_is_summed_up_in_a_line():
    changes = [
        _change(
            QUALIFICATION,
            "ST0070 Business Administrator",
            "Status",
            "Not started",
            "In progress",
            "status",
            1,
        ),
        _change(
            QUALIFICATION,
            "ST0070 Business Administrator",
            "Progress %",
            "0",
            "56.5",
            "progress_percent",
            1,
        ),
        _change(
            QUALIFICATION,
            "ST0072 Customer Service",
            "Progress %",
            "10",
            "20",
            "progress_percent",
            2,
        ),
        _change(
            QUALIFICATION,
            "ST0073 Team Leader",
            "Course enrolment",
            "",
            "Enrolled in Smart Assessor",
            ENROL_COURSE,
            3,
        ),
        _change(
            REVIEW,
            "Progress Review, 7 Feb 2027 14:00",
            "Review",
            "",
            "Created from Smart Assessor",
            CREATE_REVIEW,
            pk=11,
        ),
        _change(
            REVIEW,
            "Progress Review, 15 Nov 2026 14:00",
            "Review",
            "",
            "Created from Smart Assessor",
            CREATE_REVIEW,
            pk=12,
        ),
        _change(
            REVIEW, "Induction, 1 Sep 2026 10:00", "Actual", "", "1 Sep 2026 10:30", "actual_at", 5
        ),
        _change(SyncChange.Target.RISK, "Risk", "Risk band", "Low", "Medium", "risk_band"),
    ]

    assert refresh_summary(changes) == (
        "2 qualifications updated, 1 qualification enrolled, 2 reviews added, 1 review updated, "
        "risk now Medium"
    )
    assert refresh_summary([]) == ""


def test_each_change_is_worded_for_people_and_sorted():
    enrolled = _change(
        QUALIFICATION,
        "ST0070 Business Administrator",
        "Course enrolment",
        "",
        "Enrolled in Smart Assessor",
        ENROL_COURSE,
        3,
    )
    adopted = _change(
        QUALIFICATION,
        "ST0072 Customer Service",
        "Course enrolment",
        "",
        "Linked to its Smart Assessor course enrolment 88",
        ADOPT_COURSE,
        4,
    )
    added = _change(
        REVIEW,
        "Progress Review, 7 Feb 2027 14:00",
        "Review",
        "",
        "Created from Smart Assessor",
        CREATE_REVIEW,
    )
    status = _change(
        QUALIFICATION,
        "ST0070 Business Administrator",
        "Status",
        "Not started",
        "In progress",
        "status",
        3,
    )
    cleared = _change(REVIEW, "Induction, 1 Sep 2026 10:00", "Notes", "Old notes", "", "notes")
    risk = _change(SyncChange.Target.RISK, "Risk", "Risk band", "Low", "Medium", "risk_band")

    assert change_in_words(enrolled) == "ST0070 Business Administrator: enrolled in Smart Assessor"
    assert "Smart Assessor Enrolled in Smart Assessor" not in change_in_words(enrolled)
    assert change_in_words(adopted) == (
        "ST0072 Customer Service: linked to its Smart Assessor course enrolment 88"
    )
    assert change_in_words(added) == "Progress Review, 7 Feb 2027 14:00: added from Smart Assessor"
    assert change_in_words(status) == (
        "ST0070 Business Administrator: Status changed from Not started to In progress"
    )
    assert change_in_words(cleared) == "Induction, 1 Sep 2026 10:00: Notes cleared (was Old notes)"
    assert change_in_words(risk) == "Risk changed from Low to Medium"
    ordered = changes_for_people([status, cleared, risk, enrolled, added])
    assert ordered == [risk, cleared, added, enrolled, status]


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("It failed.", "It failed."),
        ("It failed..", "It failed."),
        ("It failed", "It failed."),
        ("", ""),
    ],
)
def test_messages_end_with_one_full_stop(stored, shown):
    assert sentence(stored) == shown


def test_a_refresh_on_the_plan_reads_as_a_summary(
    sa_sandbox, staff_client, django_capture_on_commit_callbacks, monkeypatch
):
    learner = enrolled_learner()
    map_event_types(PR="Progress Review", AV=None)
    sa_sandbox.advance(60)
    monkeypatch.setattr("smartassessor.tasks.refresh_learner.delay", lambda pk: None)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(f"/smartassessor/learners/{learner.ident}/refresh/")
    sync.learner_refresh_run(run_id=SyncRun.objects.get(learner=learner).pk)

    page = staff_client.get(learner.get_absolute_url()).content.decode()
    block = page[page.index('id="sa-block"') :]

    summary = re.search(r"Refreshed</span> [^<]*?\d\d:\d\d: ([^<]+)", block)
    assert summary, block
    line = summary.group(1).strip()
    assert re.fullmatch(r"1 qualification updated(, \d+ reviews? added)?\.", line), line
    assert "ST0070 Business Administrator: Progress % changed from 0 to" in block
    assert "Full change list (sync history)" in block
    assert ".." not in re.sub(r"<[^>]+>", "", block)


def _bare_learner(**fields):
    """A learner with no email, no main officer and no employer, on one linked qualification."""
    learner = LearnerFactory(**{"email": "", "main_officer": None, **fields})
    qualification = QualificationFactory()
    QualificationLink.objects.create(
        qualification=qualification, course_id=7001, course_title=qualification.title
    )
    LearnerQualificationFactory(learner=learner, qualification=qualification)
    return learner


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_missing_details_are_never_shown_as_none(staff_client, sa_settings):
    learner = _bare_learner()

    plan = staff_client.get(learner.get_absolute_url()).content.decode()
    preview = staff_client.get(
        reverse("smartassessor:enrol_preview", args=[learner.ident]) + "?part=shell",
        headers={"HX-Request": "true"},
    ).content.decode()

    assert "<dt>Main officer</dt>\n      <dd>Not recorded</dd>" in plan
    assert "<dt>Current employer</dt>\n      <dd>Not recorded</dd>" in plan
    assert "<dt>Email</dt><dd>–</dd>" in plan
    assert "<dt>Email</dt><dd>Not recorded</dd>" in preview
    for html in (plan, preview):
        assert not re.search(r"\bNone\b(?! of the learner)", _text(html)), _text(html)


def test_fix_it_opens_the_form_at_the_field_and_returns_to_the_plan(staff_client, sa_settings):
    officer = OfficerFactory(email="")
    learner = _bare_learner()
    Learner.objects.filter(pk=learner.pk).update(main_officer=officer)
    plan = learner.get_absolute_url()

    problems = {p.message: p.fix_url for p in enrolment_preview(learner=learner).problems}

    email = problems["The learner has no email address; it is their Smart Assessor login."]
    assert email == reverse("learners:learner_edit", args=[learner.ident]) + (
        f"?next=%2Flearners%2F{learner.ident}%2Fdelivery-plan%2F#id_email"
    )
    officer_fix = next(url for message, url in problems.items() if message.startswith("Assessor"))
    assert officer_fix.startswith(reverse("learners:officer_edit", args=[officer.pk]) + "?next=")
    assert officer_fix.endswith("#id_email")
    form = staff_client.get(email.split("#")[0]).content.decode()
    assert f'<input type="hidden" name="next" value="{plan}">' in form
    assert f'<a href="{plan}">Cancel</a>' in form

    data = {**_learner_form_data(staff_client, learner), "email": "fixed@learners.example"}
    response = staff_client.post(email.split("#")[0], data)
    assert response.status_code == 302 and response.url == plan
    learner.refresh_from_db()
    assert learner.email == "fixed@learners.example"


@pytest.mark.parametrize(
    "next_url", ["https://elsewhere.example/", "//elsewhere.example/", "javascript:alert(1)"]
)
def test_a_next_elsewhere_is_ignored(staff_client, next_url):
    learner = LearnerFactory()
    url = reverse("learners:learner_edit", args=[learner.ident])

    response = staff_client.post(
        url, {**_learner_form_data(staff_client, learner), "next": next_url}
    )

    assert response.status_code == 302 and response.url == learner.get_absolute_url()


def _learner_form_data(client, learner):
    form = client.get(reverse("learners:learner_edit", args=[learner.ident])).context["form"]
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value is None:
            continue
        data[name] = field.widget.format_value(value) if hasattr(value, "isoformat") else value
    return data


def test_the_plan_and_its_dialogs_open_without_asking_smart_assessor(
    sa_http, staff_client, admin_client_ia
):
    learner = _bare_learner(email="sam@learners.example")
    PlacementFactory(learner=learner)  # an employer not linked yet
    officer = OfficerFactory()
    preview_url = reverse("smartassessor:enrol_preview", args=[learner.ident])
    lookup_url = reverse("smartassessor:officer_lookup", args=[officer.pk])

    plan = staff_client.get(learner.get_absolute_url())
    preview = staff_client.get(preview_url + "?part=shell", headers={"HX-Request": "true"})
    lookup = admin_client_ia.get(lookup_url + "?part=shell", headers={"HX-Request": "true"})

    assert not sa_http.calls
    assert 'id="sa-block"' in plan.content.decode()
    assert f'hx-get="{preview_url}?part=parties"' in preview.content.decode()
    assert "Asking Smart Assessor…" in preview.content.decode()
    assert "Smart Assessor is not answering" in preview.content.decode()  # its fallback
    assert 'hx-trigger="load"' in lookup.content.decode()
    assert "part=results" in lookup.content.decode()

    # Then the parts that need Smart Assessor ask it; its silence is said in words.
    parties = staff_client.get(preview_url + "?part=parties", headers={"HX-Request": "true"})
    assert sa_http.calls
    assert "Smart Assessor is not answering" in parties.content.decode()
    assert "Asking Smart Assessor" not in parties.content.decode()


def test_a_link_chosen_in_the_dialog_reloads_the_whole_page(sa_http, admin_client_ia):
    officer = OfficerFactory()
    sa_http.get(wire.API + "/assessors/32", json=wire.assessor(SmartAssessorId=32))
    url = reverse("smartassessor:officer_lookup", args=[officer.pk])

    response = admin_client_ia.post(url, {"sa_id": 32}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == officer.get_absolute_url()
    assert OfficerLink.objects.get(officer=officer).assessor_id == 32
