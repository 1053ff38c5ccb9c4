"""A member of staff records a break on the Delivery Plan and sees it pushed to Smart Assessor,
in Chromium."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from learners.demo import demo_data_load
from learners.models import Learner
from picsweb import roles
from smartassessor.client import SmartAssessorClient
from smartassessor.models import Enrolment, LinkRefresh
from smartassessor.services import enrolment_requests, links
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "a-long-demo-password-for-the-browser"


def _sa_statuses(sandbox, sa_learner_id: str) -> set[tuple[str, dt.date | None]]:
    client = SmartAssessorClient(
        base_url=sandbox.url,
        username=sandbox.username,
        password=sandbox.password,
        client_key=sandbox.client_key,
    )
    try:
        courses = client.learner_course_list(learner_id=sa_learner_id)
        return {(course.status, course.break_start_date) for course in courses}
    finally:
        client.close()


def test_staff_record_a_break_and_see_it_pushed(page, live_server, sa_sandbox, eager_tasks):
    demo_data_load()
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    learner = Learner.objects.get(ident="PW000101")
    enrolment_requests.enrolment_request(learner=learner, actor=None)
    enrolment = Enrolment.objects.get(learner=learner, is_current=True)
    assert enrolment.state == Enrolment.State.ENROLLED, enrolment.last_error
    UserFactory(username="browser-staff", password=PASSWORD, groups=[roles.STAFF])
    started = timezone.localdate() - dt.timedelta(days=7)

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("browser-staff")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + learner.get_absolute_url())
    page.get_by_role("link", name="Record a break").first.click()
    page.get_by_label("Start date").fill(started.isoformat())
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_text("is on a break in learning from")).to_be_visible()
    pushed = page.locator("#sa-block .sa-pushes li").first
    expect(pushed).to_contain_text("Break in learning from")
    expect(pushed).to_contain_text("Sent", timeout=20_000)
    assert ("BreakInLearning", started) in _sa_statuses(sa_sandbox, enrolment.sa_learner_id)
