"""Moments are shown in UK time and the product's format, in the admin's titles too."""

import datetime as dt

import pytest

from imports.models import IlrImport, ImportAuditEntry
from picsweb.moments import when
from smartassessor.models import AuditEntry, LinkRefresh, Reconciliation

SUMMER = dt.datetime(2026, 7, 1, 12, 5, 9, tzinfo=dt.UTC)
WINTER = dt.datetime(2026, 12, 1, 12, 5, 9, tzinfo=dt.UTC)


def test_a_moment_is_read_in_uk_time():
    assert when(SUMMER) == "1 Jul 2026 13:05"  # British Summer Time
    assert when(WINTER) == "1 Dec 2026 12:05"
    assert when(SUMMER, seconds=True) == "1 Jul 2026 13:05:09"


@pytest.mark.django_db
def test_the_records_named_by_a_moment_use_it():
    assert str(AuditEntry(at=SUMMER, action="settings", object_repr="Settings")).startswith(
        "1 Jul 2026 13:05 "
    )
    assert str(LinkRefresh(requested_at=SUMMER)).startswith("Link refresh 1 Jul 2026 13:05 (")
    assert str(Reconciliation(requested_at=WINTER)).startswith("Reconciliation 1 Dec 2026 12:05")
    audit = ImportAuditEntry(at=SUMMER, action="commit", ilr_import=IlrImport(file_name="a.xml"))
    assert str(audit).startswith("1 Jul 2026 13:05 commit a.xml")
