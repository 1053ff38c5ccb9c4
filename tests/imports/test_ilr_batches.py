"""The commit writes the file a batch at a time: new learners in bulk, and a batch the bulk
write refuses (a record written meanwhile) learner by learner, the refused one saying why."""

import pytest

from imports import services
from learners.models import Learner, LearnerQualification, Placement
from tests.factories import LearnerFactory

from . import ilr_files as f

pytestmark = pytest.mark.django_db


def test_many_batches_are_written_and_a_second_import_changes_nothing(
    tmp_path, catalogue, admin_user, monkeypatch
):
    monkeypatch.setattr(services, "BATCH", 3)
    path = f.write(tmp_path / "ilr.xml", *(f.learner(f"B{n:04d}", number=n) for n in range(8)))
    seen = []

    record = services.commit(path, user=admin_user, file_name="ilr.xml", on_batch=seen.append)

    assert [len(batch) for batch in seen] == [3, 3, 2]
    assert record.counts["new"] == 8 and record.total == 8
    assert Learner.objects.filter(qualifications__isnull=False).distinct().count() == 8
    again = services.commit(path, user=admin_user, file_name="ilr.xml")
    assert again.counts["unchanged"] == 8


def test_a_batch_the_bulk_write_refuses_is_written_learner_by_learner(
    tmp_path, catalogue, admin_user, monkeypatch
):
    path = f.write(tmp_path / "ilr.xml", *(f.learner(f"B{n:04d}", number=n) for n in range(3)))
    write = services._Writer.write

    def someone_else_first(self, rows):
        # Between the plan and the write, the MIS is given a learner with B0001's ULN.
        LearnerFactory(ident="OTHER1", uln=f.uln(1))
        write(self, rows)

    monkeypatch.setattr(services._Writer, "write", someone_else_first)
    record = services.commit(path, user=admin_user, file_name="ilr.xml")

    assert record.counts["new"] == 2 and record.counts["refused"] == 1
    assert set(Learner.objects.values_list("ident", flat=True)) == {"B0000", "B0002", "OTHER1"}


def test_a_generated_file_of_many_learners_imports_whole(tmp_path, catalogue, admin_user):
    learners = 450  # three batches of the real size, the last one short
    deliveries = f.delivery(sequence=1) + f.delivery("60146242", sequence=2, std_code=None)
    path = f.write(
        tmp_path / "ilr.xml",
        *(
            f.learner(f"G{n:07d}", number=n, deliveries=deliveries, employer="123456789")
            for n in range(learners)
        ),
    )

    record = services.commit(path, user=admin_user, file_name="ilr.xml")

    assert record.counts["new"] == learners and record.counts["deliveries"] == 2 * learners
    assert Learner.objects.count() == learners
    assert LearnerQualification.objects.count() == 2 * learners
    assert Placement.objects.filter(organisation__edrs_number="123456789").count() == learners
