"""In Chromium: no page waits on an unreachable Smart Assessor (issue 15 pt 9), the admin in the
product's colours with its icon (pt 7, 11), and the pages this branch added or changed (the
password reset, the review type mapping on its own, the 404 page) in the frame, at 0 axe
violations."""

import socket
import time

import pytest
from playwright.sync_api import expect

from picsweb import roles
from smartassessor.models import IntegrationSettings
from tests.e2e.axe import assert_accessible
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-demo-password-for-the-browser"
BRAND = "rgb(22, 50, 92)"  # --brand, #16325c


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sign_in(page, live_server, username: str) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_an_unreachable_smart_assessor_holds_no_page_up_and_the_admin_is_the_products(
    page, live_server, settings
):
    settings.PASSWORD_RESET_ENABLED = True
    record = IntegrationSettings.load()
    record.enabled = True
    record.base_url = f"http://127.0.0.1:{_closed_port()}"
    record.username, record.password, record.client_key = "api@x.example", "secret", "key"
    record.save()
    UserFactory(username="browser-admin", password=PASSWORD, groups=[roles.INTEGRATION_ADMIN])

    # Signed out: the password reset, in the frame.
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("link", name="Forgotten your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Email").fill("nobody@provider.example")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert_accessible(page)

    _sign_in(page, live_server, "browser-admin")
    started = time.perf_counter()
    page.goto(live_server.url + "/smartassessor/", wait_until="domcontentloaded")
    loaded = time.perf_counter() - started
    expect(page.get_by_role("heading", name="Smart Assessor", level=1)).to_be_visible()
    assert loaded < 1.5, f"the Summary took {loaded:.2f} s"
    mapping = page.locator("#review-mapping")
    expect(mapping).to_contain_text("Smart Assessor is not answering.", timeout=6_000)
    expect(page.get_by_role("button", name="Save mapping")).to_have_count(0)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result")).to_contain_text(
        "Smart Assessor is not answering.", timeout=15_000
    )
    assert_accessible(page)
    mapping.get_by_role("link", name="Try again").click()
    expect(mapping).to_contain_text("Smart Assessor is not answering.", timeout=6_000)
    page.goto(live_server.url + "/smartassessor/review-type-mapping/panel/")
    expect(page.get_by_role("heading", name="Review type mapping", level=1)).to_be_visible()
    assert_accessible(page)

    # The admin: the product's name, colours and icon; labels in sentence case.
    page.goto(live_server.url + "/admin/smartassessor/integrationsettings/1/change/")
    header = page.locator("#header")
    expect(header).to_have_css("background-color", BRAND)
    expect(header.get_by_role("link", name="picsweb", exact=True)).to_have_attribute("href", "/")
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_label("Daily synchronisation time")).to_be_visible()
    expect(page.get_by_label("Client key")).to_have_attribute("autocomplete", "new-password")
    icon = page.request.get(live_server.url + page.locator("link[rel=icon]").get_attribute("href"))
    assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")
    assert_accessible(page)

    # The admin's time shortcuts on the 24-hour clock.
    page.goto(live_server.url + "/admin/learners/review/add/")
    page.locator("#clocklink0").click()
    clock = page.locator("#clockbox0")
    expect(clock).to_contain_text("06:00")
    expect(clock).not_to_contain_text("a.m.")

    page.goto(live_server.url + "/learners/PW999999/")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main menu")).to_be_visible()
    assert_accessible(page)
