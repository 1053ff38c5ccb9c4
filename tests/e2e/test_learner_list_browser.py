"""A member of staff sorts the learner list by the columns that did not sort (Risk, Current
employer, LRN), both ways, in Chromium; the list stays accessible."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from learners.models import RiskBand
from picsweb import roles
from tests.e2e.axe import assert_accessible
from tests.factories import LearnerFactory, OrganisationFactory, PlacementFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "a-long-password-for-the-list-in-the-browser"


def _names(page) -> list[str]:
    return page.locator("table tbody tr td:first-child a").all_inner_texts()


def _sort_by(page, label: str, sort: str) -> None:
    """Click the column's header link, which names the column and the way it will sort."""
    link = page.locator(f'th a[href$="sort={sort}"]')
    expect(link).to_contain_text(label)
    link.click()
    page.wait_for_url(f"**sort={sort}*")


def test_staff_sort_the_list_by_risk_and_current_employer_both_ways(page, live_server):
    today = timezone.localdate()
    for first_name, surname, risk, employer, lrn in (
        ("Priya", "Shah", RiskBand.HIGH, "Acme Widgets", "LRN2"),
        ("Ben", "Adams", RiskBand.LOW, "Zebra Logistics", ""),
        ("Carla", "Mendes", RiskBand.NOT_SET, None, "LRN1"),
        ("Dev", "Kumar", RiskBand.MEDIUM, "Moss Care Homes", "LRN3"),
    ):
        learner = LearnerFactory(first_name=first_name, surname=surname, risk_band=risk, lrn=lrn)
        if employer:
            PlacementFactory(
                learner=learner,
                organisation=OrganisationFactory(name=employer),
                start_date=today - dt.timedelta(days=30),
            )
    UserFactory(username="list-staff", password=PASSWORD, groups=[roles.STAFF])

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("list-staff")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + "/learners/")
    expect(page.get_by_role("heading", name="Learners")).to_be_visible()
    assert _names(page) == ["Ben Adams", "Dev Kumar", "Carla Mendes", "Priya Shah"]

    _sort_by(page, "Risk", "risk")
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Risk")
    assert _names(page) == ["Carla Mendes", "Ben Adams", "Dev Kumar", "Priya Shah"]
    assert_accessible(page)

    _sort_by(page, "Risk", "-risk")
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Risk")
    assert _names(page) == ["Priya Shah", "Dev Kumar", "Ben Adams", "Carla Mendes"]

    # The learner without a current employer comes last whichever way.
    _sort_by(page, "Current employer", "employer")
    assert _names(page) == ["Priya Shah", "Dev Kumar", "Ben Adams", "Carla Mendes"]
    _sort_by(page, "Current employer", "-employer")
    assert _names(page) == ["Ben Adams", "Dev Kumar", "Priya Shah", "Carla Mendes"]

    _sort_by(page, "LRN", "lrn")
    assert _names(page) == ["Ben Adams", "Carla Mendes", "Priya Shah", "Dev Kumar"]
    # The filters keep the order: a search applied after sorting stays sorted by LRN.
    page.get_by_label("Name, ident, LRN or ULN").fill("a")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("LRN")
    assert _names(page) == ["Ben Adams", "Carla Mendes", "Priya Shah", "Dev Kumar"]
    assert_accessible(page)
