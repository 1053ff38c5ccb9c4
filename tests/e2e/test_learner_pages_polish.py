"""The learner's pages and dialogs as a newcomer meets them (issue 15), in Chromium: no raw
values, "Fix it" at the field, the Smart Assessor state beside the name, progress while long work
builds, long notes folded, the dialogs on a phone, and the Look Up dialog's pager and errors.
Every page and dialog is checked with axe-core."""

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from learners.demo import demo_data_load
from learners.models import Learner
from picsweb import roles
from smartassessor.models import Enrolment, LinkRefresh, OfficerLink
from smartassessor.services import enrolment_requests, links
from tests.e2e.axe import assert_accessible
from tests.factories import OfficerFactory, ReviewFactory, UserFactory
from tests.smartassessor.client import wire
from tests.smartassessor.conftest import sa_http, sa_settings  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "a-long-demo-password-for-the-browser"
PHONE = {"width": 375, "height": 740}
LONG_NOTES = "Discussed the portfolio and the next unit. " * 12 + "The last words of the notes."


def _sign_in(page, live_server, username: str, group: str) -> None:
    UserFactory(username=username, password=PASSWORD, groups=[group])
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _fits(page, selector: str) -> str:
    """What sticks out of the screen or scrolls sideways in the element: blank when nothing."""
    return page.evaluate(
        """(selector) => {
            const element = document.querySelector(selector);
            const box = element.getBoundingClientRect();
            const wide = [...element.querySelectorAll("*")].filter((e) => {
                if (e.closest(".table-wrap") && !e.matches(".table-wrap")) return false;
                const b = e.getBoundingClientRect();
                return b.width > 0 && (b.left < box.left - 1 || b.right > box.right + 1);
            }).map((e) => e.tagName + "." + e.className);
            if (box.left < 0 || box.right > window.innerWidth) wide.unshift("the element");
            if (element.scrollWidth > element.clientWidth) wide.unshift("scrolls sideways");
            return wide.join(", ");
        }""",
        selector,
    )


def test_the_plan_the_preview_and_fix_it(page, live_server, sa_sandbox, monkeypatch):
    """Points 1, 2, 4 (notes, phone), 5 and 9: a learner without an email or a main officer."""
    demo_data_load()
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    learner = Learner.objects.get(ident="PW000101")
    Learner.objects.filter(pk=learner.pk).update(email="", main_officer=None)
    ReviewFactory(learner=learner, notes=LONG_NOTES)
    queued: list[tuple] = []
    # Queued, not sent: the test sends it, to watch the page follow.
    monkeypatch.setattr(
        "smartassessor.tasks.enrol_learner.apply_async", lambda args, **_: queued.append(args)
    )
    _sign_in(page, live_server, "browser-staff", roles.STAFF)
    plan = live_server.url + learner.get_absolute_url()
    page.goto(plan)

    details = page.locator(".learner-panel .details")
    expect(details).to_contain_text("Main officer")
    assert "None" not in details.inner_text()
    expect(details.locator("dt:text-is('Main officer') + dd")).to_have_text("Not recorded")
    # The long notes are folded after their start; "more" opens the rest.
    notes = page.locator("td.notes").filter(has_text="Discussed the portfolio")
    expect(notes.get_by_text("The last words of the notes.")).to_be_hidden()
    notes.get_by_text("… more").click()
    expect(notes.get_by_text("The last words of the notes.")).to_be_visible()
    expect(page.locator("#sa-state-top")).to_be_hidden()  # not in Smart Assessor yet
    assert_accessible(page)

    # The preview opens at once from the MIS; the employer is asked of Smart Assessor after.
    page.get_by_role("link", name="Create in Smart Assessor").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("dt:text-is('Email') + dd")).to_have_text("Not recorded")
    expect(dialog.locator("#preview-parties")).to_contain_text("Employer")
    expect(dialog.locator("[data-sa-pending]")).to_have_count(0, timeout=15_000)
    expect(dialog.locator("#preview-parties")).to_contain_text("Smart Assessor employer")
    assert "None" not in dialog.inner_text()
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    assert not _fits(page, "dialog#dialog")
    page.set_viewport_size({"width": 1280, "height": 800})

    # "Fix it" opens the form at the email, and saving returns to the Delivery Plan.
    dialog.get_by_role("link", name="Fix it").first.click()
    expect(page).to_have_url(re.compile(r"/edit/\?next=.*#id_email$"))
    email = page.get_by_label("Email")
    expect(email).to_be_focused()
    assert_accessible(page)
    email.fill("pw000101@learners.example")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(plan)
    expect(page.get_by_role("status").filter(has_text="details were saved")).to_be_visible()

    # Once asked for, the block's state shows beside the name too, and follows the block.
    page.get_by_role("link", name="Create in Smart Assessor").click()
    dialog.get_by_role("button", name="Create in Smart Assessor").click()
    top = page.locator("#sa-state-top")
    expect(top).to_contain_text("Smart Assessor: Queued")
    assert queued
    enrolment = Enrolment.objects.get(learner=learner, is_current=True)
    enrolment_requests.enrolment_run(enrolment_id=enrolment.pk)
    expect(top).to_contain_text("Smart Assessor: Enrolled", timeout=20_000)
    expect(page.locator("#sa-block [data-sa-state]")).to_contain_text("Enrolled")
    top.get_by_role("link", name="Smart Assessor").click()
    expect(page).to_have_url(plan + "#sa-block")
    assert_accessible(page)


def _assessors(request):
    """45 assessors in Smart Assessor, 20 a page."""
    query = parse_qs(urlparse(request.url).query)
    number, size = int(query.get("Page", ["1"])[0]), int(query.get("PageSize", ["20"])[0])
    first = (number - 1) * size + 1
    items = [
        wire.assessor(SmartAssessorId=n, FirstName="Assessor", LastName=f"Number {n}")
        for n in range(first, min(first + size, 46))
    ]
    return 200, {}, json.dumps(wire.page(items, page=number, page_size=size, total=45))


def test_the_look_up_dialog(page, live_server, sa_http):  # noqa: F811
    """Point 6 and 9: the pager, errors kept in the dialog, Smart Assessor not answering."""
    sa_http.add_callback("GET", wire.API + "/assessors", callback=_assessors)
    sa_http.get(wire.API + "/assessors/3", json=wire.assessor(SmartAssessorId=3))
    sa_http.get(
        wire.API + "/assessors/14",
        json=wire.assessor(SmartAssessorId=14, FirstName="Priya", LastName="Shah"),
    )
    officer = OfficerFactory(forenames="Priya", surname="Shah")
    OfficerLink.objects.create(officer=OfficerFactory(forenames="Sam"), assessor_id=3)
    _sign_in(page, live_server, "browser-admin", roles.INTEGRATION_ADMIN)
    page.goto(live_server.url + officer.get_absolute_url())

    page.get_by_role("link", name="Look Up Smart Assessor ID").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog.get_by_role("heading", name="Look Up Smart Assessor ID")).to_be_visible()
    results = dialog.locator("#lookup-results")
    expect(results).to_contain_text("45 found, page 1")
    pager = dialog.get_by_role("navigation", name="Pages of results")
    # A count, then the links as a list: no box drawn inside another.
    expect(pager.locator("span")).to_have_count(0)
    expect(pager.get_by_role("listitem")).to_have_count(1)
    assert_accessible(page)
    pager.get_by_role("link", name="Next").click()
    expect(results).to_contain_text("45 found, page 2")
    expect(pager.get_by_role("link", name="Previous")).to_be_visible()
    page.set_viewport_size(PHONE)
    assert not _fits(page, "dialog#dialog")
    page.set_viewport_size({"width": 1280, "height": 800})

    # A refusal is said inside the dialog, which stays open on the page behind.
    pager.get_by_role("link", name="Previous").click()
    expect(results).to_contain_text("page 1")
    dialog.get_by_label("Assessor Number 3", exact=True).check()
    dialog.get_by_role("button", name="Save link").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Sam")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(live_server.url + officer.get_absolute_url())
    assert_accessible(page)

    # Smart Assessor not answering: the dialog opens all the same and says so.
    dialog.get_by_role("button", name="Close").click()
    page.route(re.compile(r".*/look-up/\?.*part=results.*"), lambda route: route.abort())
    page.get_by_role("link", name="Look Up Smart Assessor ID").click()
    expect(dialog.get_by_role("status")).to_contain_text("Smart Assessor is not answering")
    expect(dialog.get_by_label("Search Smart Assessor assessors")).to_be_visible()
    assert_accessible(page)
    page.unroute(re.compile(r".*/look-up/\?.*part=results.*"))

    # A server error on saving is told in the dialog too, not as a blank or another page.
    page.route(re.compile(r".*/look-up/$"), lambda route: route.fulfill(status=500, body="x"))
    dialog.get_by_role("button", name="Close").click()
    page.get_by_role("link", name="Look Up Smart Assessor ID").click()
    expect(results).to_contain_text("45 found, page 1")
    dialog.get_by_label("Assessor Number 14", exact=True).check()
    dialog.get_by_role("button", name="Save link").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Something went wrong")
    page.unroute(re.compile(r".*/look-up/$"))

    # Chosen and saved: the officer's page shows the link.
    dialog.get_by_role("button", name="Save link").click()
    expect(page.get_by_role("status").filter(has_text="is linked to")).to_be_visible()
    assert OfficerLink.objects.get(officer=officer).assessor_id == 14


def test_bulk_preview_progress_and_results(page, live_server, sa_sandbox, eager_tasks):
    """Point 4: the bulk preview says it is building; its results wear the usual badges."""
    demo_data_load()
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    _sign_in(page, live_server, "browser-staff", roles.STAFF)
    page.goto(live_server.url + "/learners/?q=PW00010")
    # The list stays on screen while the preview builds: what its status line says once the
    # button is pressed is kept aside, as Playwright waits for the navigation under way.
    page.evaluate(
        """() => window.addEventListener("submit", () => {
            const status = document.querySelector("[data-busy-status][role=status]");
            const shown = status && !status.hidden && status.querySelector(".spinner");
            sessionStorage.setItem("busy", shown ? status.textContent : "");
        })"""
    )
    for ident in ("PW000101", "PW000102"):
        page.locator(f'input[name="learners"][value="{ident}"]').check()
    assert_accessible(page)
    page.get_by_role("button", name="Create selected in Smart Assessor").click()

    expect(page.get_by_role("heading", name=re.compile("Create 2 learners"))).to_be_visible()
    busy = page.evaluate("() => sessionStorage.getItem('busy')")
    assert "Building the preview of the selected learners" in busy
    assert "None" not in page.locator("main").inner_text()
    assert_accessible(page)
    page.get_by_role("button", name=re.compile(r"Create \d in Smart Assessor")).click()
    results = page.locator("#bulk-results")
    expect(results).to_contain_text("finished")
    expect(results.locator("td .badge").first).to_be_visible()
    expect(results.locator(".badge--good").first).to_have_text("Enrolled", timeout=20_000)
    assert_accessible(page)
