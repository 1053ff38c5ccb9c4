"""The accessibility sweep (issue 15): signed in as each role, the main pages, dialogs and the
admin meet WCAG 2.1 AA by axe-core, with 0 violations, in Chromium.

One test with one set-up (the demo data, an enrolled learner, a run and a reconciliation
report, against the sandbox) that walks the pages and reports every violation at once."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from learners.demo import demo_data_load
from learners.models import Learner
from picsweb import roles
from smartassessor.models import Enrolment, LinkRefresh, SyncRun
from smartassessor.services import enrolment_requests, links, reconciliation
from tests.e2e.axe import violations
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-demo-password-for-the-browser"
ENROLLED, NOT_ENROLLED = "PW000101", "PW000102"


def _sign_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_the_main_pages_have_no_accessibility_violations(
    page, live_server, sa_sandbox, eager_tasks
):
    demo_data_load()
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    enrolled = Learner.objects.get(ident=ENROLLED)
    enrolment_requests.enrolment_request(learner=enrolled, actor=None)
    enrolment = Enrolment.objects.get(learner=enrolled, is_current=True)
    assert enrolment.state == Enrolment.State.ENROLLED, enrolment.last_error
    not_enrolled = Learner.objects.get(ident=NOT_ENROLLED)
    run = SyncRun.objects.create(
        trigger=SyncRun.Trigger.DAILY,
        state=SyncRun.State.SUCCEEDED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        learners_in_scope=1,
        learners_seen=1,
    )
    report = reconciliation.reconciliation_build_now()
    assert report.findings.exists()
    for username, group in [
        ("browser-staff", roles.STAFF),
        ("browser-support", roles.SUPPORT),
        ("browser-admin", roles.INTEGRATION_ADMIN),
    ]:
        UserFactory(username=username, password=PASSWORD, groups=[group])
    found: list[str] = []

    def check(path: str | None = None) -> None:
        if path is not None:
            page.goto(live_server.url + path)
        found.extend(violations(page))

    # Signed out: the sign-in page and the 404 page.
    check("/accounts/login/")
    check("/no-such-page/")

    # Staff: the learner list, two Delivery Plans and the enrolment preview dialog.
    _sign_in(page, live_server, "browser-staff")
    expect(page.get_by_role("heading", name="Learners")).to_be_visible()
    check()
    check(enrolled.get_absolute_url())
    check(not_enrolled.get_absolute_url())
    page.get_by_role("link", name="Create in Smart Assessor").click()
    dialog = page.locator("dialog#dialog")
    expect(dialog).to_contain_text(not_enrolled.email)
    check()
    check("/no-such-page/")

    # Support: the reconciliation report.
    _sign_in(page, live_server, "browser-support")
    check("/smartassessor/reconciliation/")
    expect(page.locator("main")).to_contain_text("likely match")

    # Integration admin: the Summary (its parts loaded), Data Exchange, the runs, readiness,
    # the ILR import, the admin.
    _sign_in(page, live_server, "browser-admin")
    page.goto(live_server.url + "/smartassessor/")
    expect(page.get_by_role("button", name="Save mapping")).to_be_visible()
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result")).to_contain_text("courses")
    check()
    page.locator("#readiness-title ~ .detail-grid table a").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check()
    check("/smartassessor/data-exchange/")
    check("/smartassessor/sync/runs/")
    check(f"/smartassessor/sync/runs/{run.pk}/")
    check("/imports/ilr/")
    check("/admin/")
    check("/admin/smartassessor/integrationsettings/1/change/")
    check("/no-such-page/")

    assert not found, "axe-core found violations:\n" + "\n".join(found)
