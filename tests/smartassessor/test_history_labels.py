"""History written before the course rows were labelled "Course enrolment" reads the same."""

import importlib

import pytest
from django.apps import apps

from smartassessor.models import SyncChange, SyncRun

pytestmark = pytest.mark.django_db
migration = importlib.import_module("smartassessor.migrations.0019_course_enrolment_label")


def test_old_course_rows_are_relabelled_and_no_other_row_is_touched():
    run = SyncRun.objects.create(trigger=SyncRun.Trigger.DAILY)
    row = {"run": run, "record": "ST0070 Business Administrator", "new_value": "Enrolled"}
    old = SyncChange.objects.create(target="qualification", field="Smart Assessor", **row)
    other = SyncChange.objects.create(target="learner", field="Smart Assessor", **row)
    new = SyncChange.objects.create(target="qualification", field="Progress", **row)

    migration.relabel(apps, None)

    assert SyncChange.objects.get(pk=old.pk).field == "Course enrolment"
    assert SyncChange.objects.get(pk=other.pk).field == "Smart Assessor"
    assert SyncChange.objects.get(pk=new.pk).field == "Progress"
