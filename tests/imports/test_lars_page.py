"""The LARS catalogue on the Import page (F33): what the files would change, then the import."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from learners.models import Qualification

from .test_lars import AIMS_HEADER, STANDARDS_HEADER, aim, csv_text, standard

pytestmark = pytest.mark.django_db

LARS = reverse("imports:lars_upload")


def _files():
    aims = csv_text(AIMS_HEADER, [aim("60312345", "Diploma in Plumbing, Level 3", "3")])
    standards = csv_text(STANDARDS_HEADER, [standard("166", "1", "Software Developer", "ST0116")])
    return [
        SimpleUploadedFile("aims.csv", aims.encode(), "text/csv"),
        SimpleUploadedFile("standards.csv", standards.encode(), "text/csv"),
    ]


def test_the_page_shows_what_the_files_would_change_then_imports_them(admin_client_ia):
    page = admin_client_ia.get(reverse("imports:ilr_upload")).content.decode()
    assert "The qualification catalogue from LARS" in page

    dry = admin_client_ia.post(LARS, {"files": _files(), "dry_run": "on"}).content.decode()
    assert "What the files would change (nothing written)" in dry
    assert "2 to create, 0 to update, 0 unchanged, 0 refused" in dry
    assert "Create ST0116" in dry
    assert not Qualification.objects.exists()

    done = admin_client_ia.post(LARS, {"files": _files()}).content.decode()
    assert "The catalogue is imported" in done and "2 created" in done
    assert Qualification.objects.get(reference="ST0116").standard_code == 166

    again = admin_client_ia.post(LARS, {"files": _files()}).content.decode()
    assert "0 created, 0 updated, 2 unchanged" in again


def test_a_file_missing_a_column_is_refused_with_its_message(admin_client_ia):
    header = [name for name in AIMS_HEADER if name != "AwardOrgCode"]
    text = csv_text(header, [aim("60312345", "Diploma", "3")])
    upload = SimpleUploadedFile("aims.csv", text.encode(), "text/csv")

    page = admin_client_ia.post(LARS, {"files": [upload]}).content.decode()

    assert "AwardOrgCode" in page
    assert not Qualification.objects.exists()


def test_no_file_chosen_says_so(admin_client_ia):
    assert "Choose the LARS CSV files" in admin_client_ia.post(LARS).content.decode()


def test_staff_may_not_import_the_catalogue(staff_client):
    assert staff_client.post(LARS, {"files": _files()}).status_code == 403
