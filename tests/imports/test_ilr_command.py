from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from imports.models import IlrImport
from learners.models import Learner

from . import ilr_files as f

pytestmark = pytest.mark.django_db


def _run(*args):
    out = StringIO()
    call_command("ilr_import", *args, stdout=out)
    return out.getvalue()


def test_without_commit_it_prints_the_preview_and_writes_nothing(catalogue):
    out = _run(str(f.EXAMPLE))

    assert "ASFLearner (line 1359): refused. ULN_04 (line 1359)" in out
    assert "Preview, nothing written: 19 learners, 35 deliveries, 16 new, 0 changed" in out
    assert "Ethnicity ×19" in out
    assert not Learner.objects.exists()
    assert not IlrImport.objects.exists()


def test_with_commit_it_writes_and_prints_the_counts(catalogue):
    out = _run(str(f.EXAMPLE), "--commit")

    assert (
        "19 learners, 35 deliveries, 16 new, 0 changed, 0 unchanged, 0 conflict, 3 refused" in out
    )
    assert Learner.objects.count() == 16
    assert "16 unchanged" in _run(str(f.EXAMPLE))


def test_a_bad_file_is_one_error(tmp_path, catalogue):
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")

    with pytest.raises(CommandError, match="empty"):
        _run(str(empty), "--commit")
    with pytest.raises(CommandError, match="There is no file"):
        _run(str(tmp_path / "missing.xml"))
