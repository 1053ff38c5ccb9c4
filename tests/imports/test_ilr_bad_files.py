"""Bad files change nothing and get one clear message each."""

import pytest

from imports import services
from imports.ilr import IlrFileError
from imports.models import IlrImport, ImportState
from learners.models import Learner

from . import ilr_files

pytestmark = pytest.mark.django_db

BOMB = """<?xml version="1.0"?>
<!DOCTYPE Message [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<Message xmlns="ESFA/ILR/2025-26"><Header>&c;</Header></Message>
"""


def _spoilt(tmp_path, old, new):
    good = ilr_files.write(tmp_path / "good.xml", ilr_files.learner()).read_text()
    assert old in good
    path = tmp_path / "bad.xml"
    path.write_text(good.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "empty.xml", "empty (0 bytes)"),
        (lambda tmp: _write(tmp, "not xml at all, a spreadsheet?"), "not well-formed XML (line 1"),
        (lambda tmp: _write(tmp, BOMB), "declares entities or a DTD"),
        (
            lambda tmp: _spoilt(tmp, 'xmlns="ESFA/ILR/2025-26"', 'xmlns="ESFA/ILR/2024-25"'),
            "not an ILR 2025-26 file",
        ),
        (lambda tmp: _spoilt(tmp, "<Year>2526</Year>", "<Year>2425</Year>"), "year is 2425"),
        (
            lambda tmp: _spoilt(tmp, "<Sex>F</Sex>", "<Sex>F</Sex><Colour>blue</Colour>"),
            "schema at line 12, in Learner 1 (LearnRefNumber L0001): Element 'Colour': This "
            "element is not expected",
        ),
        (
            lambda tmp: _spoilt(tmp, "<LearnRefNumber>L0001<", "<LearnRefNumber>L_0001<"),
            "at line 12, in Learner 1 (LearnRefNumber L_0001): Element 'LearnRefNumber': "
            "[facet 'pattern'] The value 'L_0001' is not accepted",
        ),
        (
            lambda tmp: ilr_files.write(
                tmp / "twice.xml", ilr_files.learner("L1"), ilr_files.learner("L1", number=2)
            ),
            "LearnRefNumber 'L1' is in the file twice",
        ),
    ],
    ids=["empty", "not-xml", "bomb", "namespace", "year", "xsd", "learnref", "duplicate"],
)
def test_a_bad_file_gets_one_message_and_changes_nothing(
    tmp_path, catalogue, admin_user, make, message
):
    path = make(tmp_path)
    if not path.exists():
        path.write_bytes(b"")

    with pytest.raises(IlrFileError) as refused:
        services.plan(path)
    assert message in str(refused.value)
    with pytest.raises(IlrFileError):
        services.commit(path, user=admin_user, file_name=path.name)

    assert not Learner.objects.exists()
    failed = IlrImport.objects.get()
    assert failed.state == ImportState.FAILED
    assert message in failed.message


def _write(tmp_path, text):
    path = tmp_path / "file.xml"
    path.write_text(text)
    return path


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, catalogue, settings):
    path = ilr_files.write(tmp_path / "big.xml", ilr_files.learner())
    settings.ILR_MAX_BYTES = path.stat().st_size - 1

    with pytest.raises(IlrFileError) as refused:
        services.plan(path)
    assert "(ILR_MAX_BYTES)" in str(refused.value)

    settings.ILR_MAX_BYTES = path.stat().st_size
    assert services.plan(path).counts == {"new": 1}


def test_an_xsd_error_names_the_line_of_the_element_in_a_file_of_many_learners(tmp_path):
    text = ilr_files.EXAMPLE.read_text()
    lines = text.splitlines()
    wrong = next(n for n, line in enumerate(lines, 1) if "<DateOfBirth>2007-02-27" in line)
    path = tmp_path / "bad.xml"
    path.write_text(text.replace("<DateOfBirth>2007-02-27", "<DateOfBirth>2007-02-30", 1))

    with pytest.raises(IlrFileError) as refused:
        services.plan(path)
    assert f"at line {wrong}, in Learner 2 (LearnRefNumber " in str(refused.value)
    assert "Element 'DateOfBirth': '2007-02-30' is not a valid value" in str(refused.value)
