"""An Integration admin imports the qualification catalogue and an ILR file on the Import page,
in Chromium: the preview's progress, its reload when built, the counts, the commit."""

import re

import pytest
from playwright.sync_api import expect

from imports import services
from imports.models import IlrImport, ImportState
from learners.models import Learner
from picsweb import roles
from tests.e2e.axe import assert_accessible
from tests.factories import UserFactory
from tests.imports.ilr_files import EXAMPLE
from tests.imports.test_lars import AIMS_HEADER, STANDARDS_HEADER, aim, csv_text, standard

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-demo-password-for-the-browser"


def _catalogue_files(folder):
    aims = sorted(set(re.findall(r"<LearnAimRef>(\w+)</LearnAimRef>", EXAMPLE.read_text())))
    (folder / "aims.csv").write_text(
        csv_text(AIMS_HEADER, [aim(ref, f"Aim {ref}", "3") for ref in aims if ref != "ZPROG001"])
    )
    (folder / "standards.csv").write_text(
        csv_text(
            STANDARDS_HEADER,
            [
                standard("1", "1", "Standard one", "ST0001"),
                standard("28", "1", "Standard 28", "ST0116"),
            ],
        )
    )
    return [folder / "aims.csv", folder / "standards.csv"]


def test_an_integration_admin_imports_the_catalogue_then_an_ilr_file(
    page, live_server, tmp_path, settings, eager_tasks
):
    settings.ILR_UPLOAD_DIR = tmp_path / "uploads"
    UserFactory(username="browser-admin", password=PASSWORD, groups=[roles.INTEGRATION_ADMIN])
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("browser-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", name="Learners from an ILR file")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("LARS CSV files").set_input_files(_catalogue_files(tmp_path))
    page.get_by_role("button", name="Import the catalogue").click()
    expect(page.locator("#lars-result")).to_contain_text("The catalogue is imported")
    expect(page.locator("#lars-result")).to_contain_text("0 refused")

    # The preview is built in the background: here the page waits for it, then reloads.
    _eager(False)
    page.get_by_label("ILR file", exact=True).set_input_files(EXAMPLE)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("status")).to_contain_text("Reading the file")
    assert_accessible(page)
    services.preview_build(import_id=IlrImport.objects.get().pk)
    expect(page.get_by_role("link", name="New: 16")).to_be_visible()
    expect(page.get_by_role("link", name="Refused: 3")).to_be_visible()
    assert not Learner.objects.exists()
    page.get_by_role("link", name="Refused: 3").click()
    expect(page.locator("tbody tr")).to_have_count(3)
    expect(page.get_by_text("ULN_04 (line 1359)")).to_be_visible()
    assert_accessible(page)

    _eager(True)
    page.get_by_role("button", name="Commit the import").click()
    expect(page.get_by_text("The import is committed")).to_be_visible()
    assert IlrImport.objects.get().state == ImportState.COMMITTED
    assert Learner.objects.count() == 16
    assert_accessible(page)


def _eager(value: bool) -> None:
    from picsweb.celery import app

    app.conf.task_always_eager = value
