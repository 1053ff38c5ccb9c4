"""The qualification catalogue from LARS (F33), from generated LARS-shaped CSV files: how a file
is recognised, what is refused and how, and that a second run changes nothing."""

import datetime
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from imports.lars import LarsFileError, lars_import
from learners.models import Qualification
from tests.factories import QualificationFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 12, 1)
# As LARS ships them: more columns than are read, in its own order.
AIMS_HEADER = [
    "EffectiveTo",
    "LearnAimRef",
    "LearnAimRefType",
    "NotionalNVQLevelv2",
    "LearnAimRefTitle",
    "AwardOrgCode",
    "Created_On",
]
STANDARDS_HEADER = [
    "NotionalEndLevel",
    "StandardName",
    "StandardSectorCode",
    "StandardCode",
    "IfateReferenceNumber",
    "Version",
]


def csv_text(header: list[str], rows: list[dict[str, str]]) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    lines = [",".join(header)]
    lines += [",".join(quoted(row.get(column, "")) for column in header) for row in rows]
    return "\r\n".join(lines) + "\r\n"


def write(folder: Path, name: str, header: list[str], rows: list[dict[str, str]]) -> Path:
    path = folder / name
    # LARS downloads open with a byte order mark.
    path.write_bytes(csv_text(header, rows).encode("utf-8-sig"))
    return path


def aim(reference: str, title: str, level: str = "3", **extra: str) -> dict[str, str]:
    return {
        "LearnAimRef": reference,
        "LearnAimRefTitle": title,
        "AwardOrgCode": "CG",
        "NotionalNVQLevelv2": level,
        "EffectiveTo": "",
        "LearnAimRefType": "0003",
        **extra,
    }


def standard(code: str, version: str, name: str, reference: str, level: str = "3"):
    return {
        "StandardCode": code,
        "Version": version,
        "StandardName": name,
        "IfateReferenceNumber": reference,
        "NotionalEndLevel": level,
        "StandardSectorCode": "1",
    }


@pytest.fixture
def lars(tmp_path):
    write(
        tmp_path,
        "a.csv",
        AIMS_HEADER,
        [
            aim("60312345", "Diploma in Plumbing, Level 3", "3"),
            aim("ZPROG001", "Apprenticeship programme aim", "X"),
            aim("50012345", "Entry Level Award in Skills", "E", EffectiveTo="2019-07-31"),
        ],
    )
    write(
        tmp_path,
        "b.csv",
        STANDARDS_HEADER,
        [
            standard("91", "1.0", "Hair Professional (old name)", "ST0213", "2"),
            standard("91", "1.2", "Hair Professional", "ST0213", "2"),
            standard("91", "1.1", "Hair Professional (middle)", "ST0213", "2"),
            standard("166", "1", "Software Developer", "ST0116", "4"),
        ],
    )
    return tmp_path


def catalogue() -> dict[str, tuple]:
    return {
        q.reference: (q.title, q.awarding_body, q.level, q.standard_code)
        for q in Qualification.objects.all()
    }


def test_a_folder_imports_aims_and_standards_recognised_by_their_header(lars):
    result = lars_import([lars], today=TODAY)

    assert catalogue() == {
        "60312345": ("Diploma in Plumbing, Level 3", "CG", 3, None),
        # X (not applicable) and E (entry, below level 1) have no level 1 to 8.
        "ZPROG001": ("Apprenticeship programme aim", "CG", None, None),
        "50012345": ("Entry Level Award in Skills", "CG", None, None),
        # The highest Version's name, whatever the rows' order.
        "ST0213": ("Hair Professional", "", 2, 91),
        "ST0116": ("Software Developer", "", 4, 166),
    }
    assert (result.created, result.updated, result.unchanged, result.refused) == (5, 0, 0, 0)
    # Closed aims stay in the catalogue for the learners who took them.
    assert result.closed_aims == 1


def test_a_second_run_changes_nothing(lars, django_assert_max_num_queries):
    lars_import([lars], today=TODAY)
    before = catalogue()

    with django_assert_max_num_queries(3):
        result = lars_import([lars], today=TODAY)

    assert (result.created, result.updated, result.unchanged, result.refused) == (0, 0, 5, 0)
    assert catalogue() == before


@pytest.mark.parametrize(
    ("value", "level"),
    [("1", 1), ("8", 8), ("E", None), ("e", None), ("X", None), ("H", None), ("", None)],
)
def test_learning_aim_levels(tmp_path, value, level):
    write(tmp_path, "aims.csv", AIMS_HEADER, [aim("60300001", "An aim", value)])

    lars_import([tmp_path])

    assert Qualification.objects.get().level == level


@pytest.mark.parametrize("value", ["0", "9", "3A", "Level 3"])
def test_a_level_that_is_no_level_refuses_the_row(tmp_path, value):
    write(tmp_path, "aims.csv", AIMS_HEADER, [aim("60300001", "An aim", value)])

    result = lars_import([tmp_path])

    assert [str(r) for r in result.refusals] == [
        f"aims.csv, line 2: NotionalNVQLevelv2 “{value}” is not a level: expected 1 to 8, E, "
        "X or H."
    ]
    assert not Qualification.objects.exists()


def test_an_existing_qualification_is_updated_only_where_it_changed(lars):
    plumbing = QualificationFactory(
        reference="60312345", title="Diploma in Plumbing (typed by hand)", awarding_body="CG"
    )
    software = QualificationFactory(reference="ST0116", title="Software Developer", level=4)
    # An SA course linked by staff to the standard before its code was known.
    software.awarding_body = "BCS"
    software.save()

    result = lars_import([lars], today=TODAY, dry_run=False)

    changes = {change.reference: change.fields for change in result.changes if not change.created}
    assert changes == {
        "60312345": {
            "title": ("Diploma in Plumbing (typed by hand)", "Diploma in Plumbing, Level 3")
        },
        "ST0116": {"standard_code": (None, 166)},
    }
    software.refresh_from_db()
    # LARS names no awarding body for a standard, so the one staff entered stays.
    assert (software.awarding_body, software.standard_code, software.pk) == (
        "BCS",
        166,
        software.pk,
    )
    assert Qualification.objects.get(reference="60312345").pk == plumbing.pk


def test_a_standard_is_matched_by_its_code_when_its_reference_changed(lars):
    renamed = QualificationFactory(
        reference="ST0116X", title="Software Developer", standard_code=166
    )

    lars_import([lars], today=TODAY)

    renamed.refresh_from_db()
    assert (renamed.reference, renamed.level) == ("ST0116", 4)


def test_a_bad_row_is_refused_with_its_file_and_line_and_the_others_go(tmp_path):
    write(
        tmp_path,
        "aims.csv",
        AIMS_HEADER,
        [
            aim("60300001", "Fine"),
            aim("60300002", ""),
            aim("60300003", "Line\nbreak in a quoted title"),
            aim("60300004", "Reference too long", AwardOrgCode="x" * 101),
            aim("60300001", "Listed twice"),
        ],
    )

    result = lars_import([tmp_path])

    assert [str(r) for r in result.refusals] == [
        "aims.csv, line 3: LearnAimRefTitle: This field cannot be blank.",
        # The title before it spans two lines; the line is where the row starts.
        "aims.csv, line 6: AwardOrgCode: Ensure this value has at most 100 characters "
        "(it has 101).",
        "aims.csv, line 7: LearnAimRef 60300001 is listed again (first on line 2).",
    ]
    assert set(catalogue()) == {"60300001", "60300003"}


def test_a_title_longer_than_the_catalogue_holds_is_cut(tmp_path):
    write(tmp_path, "aims.csv", AIMS_HEADER, [aim("60300001", "T" * 300)])

    lars_import([tmp_path])

    assert Qualification.objects.get().title == "T" * 255


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (["AwardOrgCode"], "no AwardOrgCode column;"),
        (["AwardOrgCode", "EffectiveTo"], "no AwardOrgCode, EffectiveTo columns;"),
    ],
)
def test_a_file_missing_a_required_column_refuses_the_import(tmp_path, drop, message):
    write(tmp_path, "good.csv", STANDARDS_HEADER, [standard("166", "1", "Software", "ST0116")])
    header = [column for column in AIMS_HEADER if column not in drop]
    write(tmp_path, "LARS_LearningDelivery.csv", header, [aim("60300001", "An aim")])

    with pytest.raises(LarsFileError) as raised:
        lars_import([tmp_path])

    assert raised.value.message.startswith(
        f"LARS_LearningDelivery.csv: this learning aims file has {message}"
    )
    assert not Qualification.objects.exists()


def test_a_folder_with_neither_kind_of_file_is_refused(tmp_path):
    write(tmp_path, "LARS_Validity.csv", ["LearnAimRef", "ValidityCategory"], [])

    with pytest.raises(LarsFileError, match=r"No LARS learning aims file .* LARS_Validity.csv"):
        lars_import([tmp_path])


def test_an_upload_is_read_from_its_file_object():
    upload = io.BytesIO(
        csv_text(STANDARDS_HEADER, [standard("166", "1", "Software", "ST0116")]).encode()
    )
    upload.name = "standards export.csv"

    result = lars_import([upload])

    assert (result.created, catalogue()) == (1, {"ST0116": ("Software", "", 3, 166)})


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    (tmp_path / "aims.csv").write_bytes(csv_text(AIMS_HEADER, [aim("1", "Café")]).encode("cp1252"))

    with pytest.raises(LarsFileError, match=r"aims\.csv: not UTF-8"):
        lars_import([tmp_path])


def test_the_command_dry_run_writes_nothing_and_prints_what_would_change(lars, capsys):
    QualificationFactory(reference="ST0116", title="Software", level=4, standard_code=166)

    call_command("lars_import", str(lars), "--dry-run")

    out = capsys.readouterr().out
    assert "Would update ST0116: title 'Software' → 'Software Developer'" in out
    assert "Would create 60312345: reference None → '60312345'" in out
    assert (
        "4 would be created, 1 would be updated, 0 unchanged, 0 refused. 1 closed learning aim "
        "(EffectiveTo passed) kept for the learners who took them."
    ) in out
    assert set(catalogue()) == {"ST0116"}


def test_the_command_imports_named_files_and_prints_refusals(lars, capsys):
    write(lars, "more.csv", AIMS_HEADER, [aim("60300009", "An aim", "Z")])

    call_command("lars_import", str(lars / "b.csv"), str(lars / "more.csv"))

    captured = capsys.readouterr()
    assert "2 created, 0 updated, 0 unchanged, 1 refused.\n" in captured.out
    assert "Refused more.csv, line 2: NotionalNVQLevelv2 “Z” is not a level" in captured.err
    assert set(catalogue()) == {"ST0213", "ST0116"}


def test_the_command_says_why_a_file_cannot_be_imported(tmp_path):
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("lars_import", str(tmp_path / "missing"))


def test_a_standard_whose_reference_is_another_qualifications_is_refused(tmp_path):
    QualificationFactory(reference="ST0116", title="Software Developer", standard_code=999)
    write(tmp_path, "standards.csv", STANDARDS_HEADER, [standard("166", "1", "Software", "ST0116")])

    result = lars_import([tmp_path])

    assert [str(r) for r in result.refusals] == [
        "standards.csv, line 2: IfateReferenceNumber ST0116 is already the reference of "
        "standard code 999, not 166."
    ]
    assert Qualification.objects.get().standard_code == 999


def test_two_rows_that_would_share_a_reference_are_refused_not_the_whole_write(tmp_path):
    write(
        tmp_path,
        "standards.csv",
        STANDARDS_HEADER,
        [standard("166", "1", "Software", "ST0116"), standard("167", "1", "Other", "ST0116")],
    )

    result = lars_import([tmp_path])

    assert [str(r) for r in result.refusals] == [
        "standards.csv, line 3: ST0116 clashes with standards.csv, line 2: two rows cannot "
        "share a reference or update one qualification."
    ]
    assert catalogue() == {"ST0116": ("Software", "", 3, 166)}
