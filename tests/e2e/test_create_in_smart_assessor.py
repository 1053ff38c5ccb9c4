"""A member of staff creates a learner in Smart Assessor from the Delivery Plan, in Chromium."""

import re

import pytest
from playwright.sync_api import expect

from learners.demo import demo_data_load
from learners.models import Learner
from picsweb import roles
from smartassessor.models import IntegrationSettings, LinkRefresh
from smartassessor.services import links
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "a-long-demo-password-for-the-browser"


@pytest.mark.parametrize("welcome_email", [True, False], ids=["welcome-on", "welcome-off"])
def test_staff_create_a_learner_in_smart_assessor(
    page, live_server, sa_sandbox, eager_tasks, welcome_email
):
    demo_data_load()
    settings = IntegrationSettings.load()
    settings.send_welcome_email = welcome_email
    settings.save()
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    UserFactory(username="browser-staff", password=PASSWORD, groups=[roles.STAFF])
    learner = Learner.objects.get(ident="PW000101")

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("browser-staff")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Find a learner").fill(learner.ident)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=learner.full_name).click()
    expect(page.get_by_role("heading", name="Smart Assessor")).to_be_visible()

    page.get_by_role("link", name="Create in Smart Assessor").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(learner.email)
    expect(dialog.get_by_role("cell", name="Available", exact=True).first).to_be_visible()
    dialog.get_by_role("button", name="Create in Smart Assessor").click()

    block = page.locator("#sa-block")
    expect(block).to_contain_text("Enrolled", timeout=20_000)
    expect(block).to_contain_text(re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-"))
    outbox = [mail for mail in sa_sandbox.outbox() if mail["To"] == learner.email]
    assert len(outbox) == (1 if welcome_email else 0)
