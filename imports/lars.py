"""The qualification catalogue from LARS (F33): learning aims and apprenticeship standards.

``lars_import(sources)`` reads LARS-shaped CSV files (paths, folders of them, or binary file
objects such as an upload) and brings ``learners.Qualification`` in line with them.

- A file is recognised by its header, not its name: a learning-aims file has LearnAimRefTitle
  or NotionalNVQLevelv2, a standards file StandardName, IfateReferenceNumber or
  NotionalEndLevel. LARS ships many other tables (validity, funding, frameworks...) that share
  LearnAimRef or StandardCode; those are skipped and listed as ignored. A recognised file that
  lacks a required column, a file that is not UTF-8 CSV, or sources holding neither kind
  refuse the whole import, nothing written.
- Levels: NotionalNVQLevelv2 "1" to "8" are the level; "E" (entry level, below level 1),
  "X" (not applicable) and "H" (higher: some level from 4 up, not which) have no level 1 to 8
  that would be true, so they are stored as no level. NotionalEndLevel is a number 1 to 8 or
  blank. Any other value refuses the row.
- Aims whose EffectiveTo has passed are imported like the others (learners who started them
  still refer to them); they are only counted as closed.
- A standard listed in several Versions takes the name and level of its highest Version; its
  reference is the IfateReferenceNumber and its ``standard_code`` the StandardCode. Its
  awarding body is left as it is (LARS names none for standards).
- Rows are matched to the catalogue by reference (standards by standard code first). Only the
  fields that differ are written, in bulk, in one transaction. Each row is validated with the
  model's own rules; a bad row is refused with its file and line, and the other rows go.
"""

import csv
import datetime
import io
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from learners.models import Qualification
from picsweb.errors import ApplicationError

AIM_COLUMNS = (
    "LearnAimRef",
    "LearnAimRefTitle",
    "AwardOrgCode",
    "NotionalNVQLevelv2",
    "EffectiveTo",
)
STANDARD_COLUMNS = (
    "StandardCode",
    "Version",
    "StandardName",
    "IfateReferenceNumber",
    "NotionalEndLevel",
)
AIM_MARKERS = {"LearnAimRefTitle", "NotionalNVQLevelv2"}
STANDARD_MARKERS = {"StandardName", "IfateReferenceNumber", "NotionalEndLevel"}
AIM_LEVELS_WITHOUT_NUMBER = {"E", "X", "H"}
TITLE_MAX_LENGTH = Qualification._meta.get_field("title").max_length or 255
BATCH_SIZE = 1000

Source = str | os.PathLike[str] | IO[bytes]


class LarsFileError(ApplicationError):
    """A file, or the set of files, that cannot be imported at all: nothing was written."""


@dataclass(frozen=True)
class Refusal:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}"


@dataclass(frozen=True)
class Change:
    """A qualification created or updated, with each written field's old and new value."""

    reference: str
    created: bool
    fields: dict[str, tuple[Any, Any]]


@dataclass
class LarsResult:
    dry_run: bool
    unchanged: int = 0
    closed_aims: int = 0
    changes: list[Change] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(change.created for change in self.changes)

    @property
    def updated(self) -> int:
        return sum(not change.created for change in self.changes)

    @property
    def refused(self) -> int:
        return len(self.refusals)


@dataclass(frozen=True)
class _Row:
    file: str
    line: int
    values: dict[str, str]

    def refusal(self, message: str) -> Refusal:
        return Refusal(self.file, self.line, message)


@dataclass
class _Files:
    aims: list[_Row] = field(default_factory=list)
    standards: list[_Row] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    recognised: int = 0


def _opened(sources: Iterable[Source]) -> Iterator[tuple[str, IO[bytes]]]:
    for source in sources:
        if not isinstance(source, str | os.PathLike):
            yield getattr(source, "name", None) or "uploaded file", source
            continue
        path = Path(source)
        if path.is_dir():
            paths = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
        elif path.is_file():
            paths = [path]
        else:
            raise LarsFileError(f"{path}: no such file or folder.")
        for csv_path in paths:
            with csv_path.open("rb") as opened:
                yield csv_path.name, opened


def _rows(name: str, binary: IO[bytes], files: _Files) -> None:
    """Sort the file's rows to the kind its header shows, each with the line it starts on."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        header = [column.strip() for column in next(reader, [])]
        present = set(header)
        if present & AIM_MARKERS:
            required, rows = AIM_COLUMNS, files.aims
        elif present & STANDARD_MARKERS:
            required, rows = STANDARD_COLUMNS, files.standards
        else:
            files.ignored.append(name)
            return
        files.recognised += 1
        missing = [column for column in required if column not in present]
        if missing:
            kind = "learning aims" if rows is files.aims else "standards"
            raise LarsFileError(
                f"{name}: this {kind} file has no {', '.join(missing)} column"
                f"{'s' if len(missing) > 1 else ''}; a LARS {kind} file needs "
                f"{', '.join(required)}. Nothing was imported."
            )
        positions = {column: header.index(column) for column in required}
        line = reader.line_num + 1
        for record in reader:
            if any(cell.strip() for cell in record):
                values = {
                    column: record[position].strip() if position < len(record) else ""
                    for column, position in positions.items()
                }
                rows.append(_Row(name, line, values))
            line = reader.line_num + 1
    except UnicodeDecodeError as error:
        raise LarsFileError(
            f"{name}: not UTF-8 text (byte {error.start}); save it as UTF-8 CSV. "
            "Nothing was imported."
        ) from error
    except csv.Error as error:
        raise LarsFileError(
            f"{name}, line {reader.line_num}: not readable as CSV ({error}). Nothing was imported."
        ) from error
    finally:
        text.detach()


def _read(sources: Iterable[Source]) -> _Files:
    files = _Files()
    for name, binary in _opened(sources):
        _rows(name, binary, files)
    if not files.recognised:
        shown = ", ".join(files.ignored) or "none"
        raise LarsFileError(
            "No LARS learning aims file (with LearnAimRef, LearnAimRefTitle, ...) or standards "
            f"file (with StandardCode, StandardName, ...) was found; files read: {shown}."
        )
    return files


def _level(value: str, column: str) -> int | None:
    if not value or value.upper() in AIM_LEVELS_WITHOUT_NUMBER:
        return None
    if value.isdigit() and 1 <= int(value) <= 8:
        return int(value)
    raise ValueError(
        f"{column} “{value}” is not a level: expected 1 to 8"
        + (", E, X or H." if column == "NotionalNVQLevelv2" else " or blank.")
    )


def _date(value: str) -> datetime.date | None:
    if not value:
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.datetime.strptime(value[:10], pattern).date()
        except ValueError:
            continue
    raise ValueError(f"EffectiveTo “{value}” is not a date like 2025-07-31.")


def _version(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in value.split("."))
    except ValueError:
        raise ValueError(f"Version “{value}” is not a version number like 1 or 1.2.") from None


@dataclass
class _Wanted:
    """A row read into a qualification's fields, waiting to be matched and validated."""

    row: _Row
    data: dict[str, Any]
    columns: dict[str, str]
    closed: bool = False


AIM_FIELD_COLUMNS = {
    "reference": "LearnAimRef",
    "title": "LearnAimRefTitle",
    "awarding_body": "AwardOrgCode",
    "level": "NotionalNVQLevelv2",
}
STANDARD_FIELD_COLUMNS = {
    "reference": "IfateReferenceNumber",
    "title": "StandardName",
    "level": "NotionalEndLevel",
    "standard_code": "StandardCode",
}


def _aims(rows: list[_Row], refusals: list[Refusal], today: datetime.date) -> list[_Wanted]:
    first_line: dict[str, int] = {}
    wanted = []
    for row in rows:
        values = row.values
        reference = values["LearnAimRef"]
        if reference in first_line:
            refusals.append(
                row.refusal(
                    f"LearnAimRef {reference} is listed again (first on line "
                    f"{first_line[reference]})."
                )
            )
            continue
        first_line[reference] = row.line
        try:
            level = _level(values["NotionalNVQLevelv2"], "NotionalNVQLevelv2")
            effective_to = _date(values["EffectiveTo"])
        except ValueError as error:
            refusals.append(row.refusal(str(error)))
            continue
        data = {
            "reference": reference,
            "title": values["LearnAimRefTitle"][:TITLE_MAX_LENGTH],
            "awarding_body": values["AwardOrgCode"],
            "level": level,
        }
        closed = effective_to is not None and effective_to < today
        wanted.append(_Wanted(row, data, AIM_FIELD_COLUMNS, closed))
    return wanted


def _standards(rows: list[_Row], refusals: list[Refusal]) -> list[_Wanted]:
    """The highest Version of each StandardCode."""
    latest: dict[int, tuple[tuple[int, ...], _Wanted]] = {}
    for row in rows:
        values = row.values
        if not values["StandardCode"].isdigit() or not int(values["StandardCode"]):
            refusals.append(
                row.refusal(f"StandardCode “{values['StandardCode']}” is not a whole number.")
            )
            continue
        code = int(values["StandardCode"])
        try:
            version = _version(values["Version"])
            level = _level(values["NotionalEndLevel"], "NotionalEndLevel")
        except ValueError as error:
            refusals.append(row.refusal(str(error)))
            continue
        if code in latest and latest[code][0] == version:
            refusals.append(
                row.refusal(
                    f"StandardCode {code} Version {values['Version']} is listed again "
                    f"(first on line {latest[code][1].row.line})."
                )
            )
            continue
        data = {
            "reference": values["IfateReferenceNumber"],
            "title": values["StandardName"][:TITLE_MAX_LENGTH],
            "level": level,
            "standard_code": code,
        }
        if code not in latest or version > latest[code][0]:
            latest[code] = (version, _Wanted(row, data, STANDARD_FIELD_COLUMNS))
    return [wanted for _, wanted in latest.values()]


def _messages(error: ValidationError, columns: dict[str, str]) -> str:
    return " ".join(
        f"{columns[name]}: {message}" if name in columns else message
        for name, messages in error.message_dict.items()
        for message in messages
    )


class _Catalogue:
    """The stored qualifications, and the changes the wanted rows make to them."""

    def __init__(self, result: LarsResult) -> None:
        self.result = result
        self.by_reference: dict[str, Qualification] = {}
        self.by_code: dict[int, Qualification] = {}
        for qualification in Qualification.objects.all():
            self.by_reference[qualification.reference] = qualification
            if qualification.standard_code is not None:
                self.by_code[qualification.standard_code] = qualification
        self.claimed: dict[str, _Row] = {}
        self.taken: dict[int, _Row] = {}
        self.creates: list[Qualification] = []
        self.updates: dict[frozenset[str], list[Qualification]] = defaultdict(list)

    def _match(self, wanted: _Wanted) -> Qualification | None:
        """The stored qualification the row is, or raise ValueError if it clashes with one."""
        reference, code = wanted.data["reference"], wanted.data.get("standard_code")
        by_reference = self.by_reference.get(reference)
        if code is None:
            return by_reference
        by_code = self.by_code.get(code)
        if by_code and by_reference not in (None, by_code):
            raise ValueError(
                f"IfateReferenceNumber {reference} is already the reference of “{by_reference}”, "
                f"not of standard code {code} (“{by_code}”)."
            )
        if by_reference and by_reference.standard_code not in (None, code):
            raise ValueError(
                f"IfateReferenceNumber {reference} is already the reference of standard code "
                f"{by_reference.standard_code}, not {code}."
            )
        return by_code or by_reference

    def take(self, wanted: _Wanted) -> None:
        row, data = wanted.row, wanted.data
        try:
            record = self._match(wanted)
        except ValueError as error:
            self.result.refusals.append(row.refusal(str(error)))
            return
        candidate = Qualification(id=record.pk if record else None, **data)
        try:
            candidate.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            self.result.refusals.append(row.refusal(_messages(error, wanted.columns)))
            return
        # The database's unique references would otherwise fail the whole write.
        other = self.claimed.get(data["reference"]) or (record and self.taken.get(record.pk))
        if other:
            self.result.refusals.append(
                row.refusal(
                    f"{data['reference']} clashes with {other.file}, line {other.line}: two "
                    "rows cannot share a reference or update one qualification."
                )
            )
            return
        self.claimed[data["reference"]] = row
        if record:
            self.taken[record.pk] = row
        self.result.closed_aims += wanted.closed
        if record is None:
            self.creates.append(candidate)
            self.result.changes.append(
                Change(data["reference"], True, {name: (None, v) for name, v in data.items()})
            )
            return
        changed = {
            name: (getattr(record, name), value)
            for name, value in data.items()
            if getattr(record, name) != value
        }
        if not changed:
            self.result.unchanged += 1
            return
        self.updates[frozenset(changed)].append(candidate)
        self.result.changes.append(Change(record.reference, False, changed))

    def write(self) -> None:
        Qualification.objects.bulk_create(self.creates, batch_size=BATCH_SIZE)
        for names, records in self.updates.items():
            Qualification.objects.bulk_update(records, sorted(names), batch_size=BATCH_SIZE)


def lars_import(
    sources: Iterable[Source], *, dry_run: bool = False, today: datetime.date | None = None
) -> LarsResult:
    """Bring the qualification catalogue in line with the LARS files in ``sources``.

    ``sources`` are paths of CSV files or of folders holding them, or binary file objects
    (an upload: its ``name`` is used in messages). With ``dry_run`` nothing is written and
    the result says what would change. Raises LarsFileError, nothing written, for a file that
    cannot be imported at all; a bad row is only refused, in ``result.refusals``.
    """
    files = _read(sources)
    result = LarsResult(dry_run=dry_run, ignored_files=files.ignored)
    wanted = _aims(files.aims, result.refusals, today or timezone.localdate())
    wanted += _standards(files.standards, result.refusals)
    # Read and written in one transaction, so the matches still hold when the writes land.
    with transaction.atomic():
        catalogue = _Catalogue(result)
        for each in wanted:
            catalogue.take(each)
        if not dry_run:
            catalogue.write()
    result.refusals.sort(key=lambda refusal: (refusal.file, refusal.line))
    return result
