import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from imports import services
from imports.models import IlrImport, ImportState
from learners.models import Learner

from . import ilr_files as f

pytestmark = pytest.mark.django_db

UPLOAD = reverse("imports:ilr_upload")


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path):
    settings.ILR_UPLOAD_DIR = tmp_path / "uploads"
    return settings.ILR_UPLOAD_DIR


def _upload(client, content: bytes, name="ILR-99999999-2526.xml"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, content, "text/xml")})


def test_upload_preview_and_commit(admin_client_ia, catalogue, upload_dir, background):
    assert "Import</a>" in admin_client_ia.get(reverse("learners:list")).content.decode()

    response = _upload(admin_client_ia, f.EXAMPLE.read_bytes())
    record = IlrImport.objects.get()
    assert response.url == reverse("imports:ilr_preview", args=[record.pk])
    # The stored copy is named by us, not by the uploader.
    assert [path.name for path in upload_dir.iterdir()] == [record.stored_name]
    record.refresh_from_db()
    assert (record.state, record.total, record.done) == (ImportState.PREVIEWED, 19, 19)

    page = admin_client_ia.get(response.url).content.decode()
    assert "New: 16" in page and "Refused: 3" in page
    assert "ULN_04 (line 1359)" in page
    assert "Commit the import" in page
    assert not Learner.objects.exists()
    refused = admin_client_ia.get(response.url, {"outcome": "refused"}).content.decode()
    assert refused.count("<tr>") == 1 + 3
    assert "ULN_04 (line 1359)" in refused

    done = admin_client_ia.post(reverse("imports:ilr_commit", args=[record.pk]), follow=True)
    text = done.content.decode()
    assert "The import is committed" in text and "New: 16" in text
    assert Learner.objects.count() == 16
    record.refresh_from_db()
    assert record.state == ImportState.COMMITTED
    assert record.rows.filter(outcome="new").count() == 16
    assert list(upload_dir.iterdir()) == []
    assert [entry.action for entry in record.audit.order_by("id")] == [
        "ilr_uploaded",
        "ilr_commit_asked",
        "ilr_import_committed",
    ]

    again = admin_client_ia.post(reverse("imports:ilr_commit", args=[record.pk]), follow=True)
    assert "committed or has failed already" in again.content.decode()


def test_a_busy_import_shows_its_progress_and_the_page_reloads_when_done(
    admin_client_ia, catalogue, upload_dir
):
    _upload(admin_client_ia, f.EXAMPLE.read_bytes())  # no worker here: it waits
    record = IlrImport.objects.get()
    assert record.state == ImportState.READING

    page = admin_client_ia.get(reverse("imports:ilr_preview", args=[record.pk])).content.decode()
    assert "Reading the file" in page and "checking the file" in page
    record.total, record.done = 5000, 1200
    record.save()
    status = reverse("imports:ilr_status", args=[record.pk])
    assert "1,200 of 5,000 learners previewed" in admin_client_ia.get(status).content.decode()

    services.preview_build(import_id=record.pk)
    assert admin_client_ia.get(status).headers["HX-Refresh"] == "true"


def test_an_import_whose_worker_stopped_ends_failed_saying_what_to_do(
    admin_client_ia, catalogue, upload_dir
):
    _upload(admin_client_ia, f.EXAMPLE.read_bytes())
    record = IlrImport.objects.get()
    IlrImport.objects.filter(pk=record.pk).update(
        state=ImportState.COMMITTING,
        total=19,
        done=12,
        heartbeat_at=timezone.now() - services.STALLED - datetime.timedelta(seconds=1),
    )

    assert services.imports_sweep() == 1
    record.refresh_from_db()
    assert record.state == ImportState.FAILED
    assert "stopped after 12 of 19 learners" in record.message
    assert "upload the same file again" in record.message
    assert list(upload_dir.iterdir()) == []
    # A busy import that is not stalled is left alone.
    assert services.imports_sweep() == 0


def test_a_bad_upload_says_why_and_is_not_kept(admin_client_ia, catalogue, upload_dir, background):
    response = _upload(admin_client_ia, b"")
    page = admin_client_ia.get(response.url, follow=True).content.decode()

    assert "empty (0 bytes)" in page
    assert not Learner.objects.exists()
    assert IlrImport.objects.get().state == ImportState.FAILED
    assert list(upload_dir.iterdir()) == []


def test_an_upload_over_the_limit_is_not_kept(admin_client_ia, settings, upload_dir):
    settings.ILR_MAX_BYTES = 10
    page = _upload(admin_client_ia, f.EXAMPLE.read_bytes()).content.decode()

    assert "ILR_MAX_BYTES" in page
    assert not IlrImport.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_staff_may_not_import(staff_client, method):
    assert getattr(staff_client, method)(UPLOAD).status_code == 403
    commit = reverse("imports:ilr_commit", args=[1])
    assert staff_client.post(commit).status_code == 403
    assert "Import</a>" not in staff_client.get(reverse("learners:list")).content.decode()
