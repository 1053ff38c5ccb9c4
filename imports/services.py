"""The ILR import (F32), plan → check → apply: ``plan`` reads the file and says per learner what
would happen, writing nothing; ``commit`` plans again from the same file and writes what the
plan allows, BATCH learners to a transaction, through the learners' services (full_clean and
their signals): the new learners in bulk (``learners_create``), the changed one by one. Both
read the file a batch at a time, so memory stays flat whatever its size. On the Import page
the preview and the commit run in the background (``preview_build``, ``commit_run``), each
learner's row stored as it goes, with ``done`` of ``total`` for the page to show.

Each learner's values are compared as a snapshot: a dict of the learner's fields, its
qualifications keyed ``reference|start`` and its placements keyed ``EDRS|start``, in JSON
form. The snapshot last imported is kept (IlrImportedLearner); a learner whose MIS values differ
from it has been edited in the MIS since, and is a conflict, left as it is. A learner already in
the MIS that no import wrote is a conflict too: the import does not take over a record typed by
hand without someone looking.

The mapping, where the ILR and the MIS differ:

- ULN 9999999999 (temporary) is stored blank (unknown). Sex M/F is male/female, else not known.
- Each LearningDelivery is a learner qualification: ZPROG001 of ProgType 25 with a StdCode is
  the standard whose ``standard_code`` is that StdCode (reference ST…); any other aim is the
  qualification whose reference is its LearnAimRef. An aim not in the catalogue is skipped and
  counted (import the LARS catalogue first).
- CompStatus 1 is In progress, 2 Completed, 3 Withdrawn, 6 Break in learning from its
  LearnActEndDate (the day the break started; the qualification itself has not ended). A later
  delivery of the same aim is the restart: it ends the break on its LearnStartDate and its own
  dates and status become the qualification's.
- The learner's programme dates span its deliveries; it is in learning while one continues, on
  a break while one is on a break and none continues, else completed (or withdrawn when none
  completed) on its last actual end date.
- Each LearnerEmploymentStatus with an EmpId (the EDRS number) is a placement from its
  DateEmpStatApp to the day before the next one. The employer is the organisation with that EDRS
  number or, when there is none, a placeholder named ``EDRS <number> (from the ILR)`` at the
  ILR's own "postcode not known", ZZ99 9ZZ, for staff to complete.
- Every other element is counted by name, not imported.
"""

import copy
import dataclasses
import datetime
import hashlib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from learners import selectors as learner_selectors
from learners import services as learner_services
from learners import validators
from learners.models import (
    BreakInLearning,
    Learner,
    LearnerQualification,
    LearnerStatus,
    Organisation,
    Placement,
    Qualification,
    QualificationStatus,
    Sex,
)
from picsweb.task_queue import queue_on_commit

from . import ilr
from .models import (
    BUSY_STATES,
    IlrImport,
    IlrImportedLearner,
    IlrImportRow,
    ImportAuditEntry,
    ImportState,
)

BATCH = 200
PLACEHOLDER_POSTCODE = "ZZ99 9ZZ"
PLACEHOLDER_ADDRESS = "To be completed: made by the ILR import"
COMP_STATUS = {
    "1": QualificationStatus.IN_PROGRESS,
    "2": QualificationStatus.COMPLETED,
    "3": QualificationStatus.WITHDRAWN,
    "6": QualificationStatus.BREAK_IN_LEARNING,
}
SEX = {"M": Sex.MALE, "F": Sex.FEMALE}
LEARNER_FIELDS = [
    "ident",
    "lrn",
    "uln",
    "first_name",
    "surname",
    "date_of_birth",
    "sex",
    "ni_number",
    "email",
    "address_line1",
    "address_line2",
    "address_line3",
    "address_line4",
    "postcode",
    "phone",
    "start_date",
    "planned_end_date",
    "actual_end_date",
    "status",
]
DATE_FIELDS = {"date_of_birth", "start_date", "planned_end_date", "actual_end_date"}

NEW, CHANGED, UNCHANGED, CONFLICT, REFUSED = "new", "changed", "unchanged", "conflict", "refused"
OUTCOMES = (NEW, CHANGED, UNCHANGED, CONFLICT, REFUSED)

Snapshot = dict[str, Any]


@dataclasses.dataclass
class Row:
    """What the import does with one learner."""

    ref: str
    line: int
    outcome: str
    changes: list[tuple[str, Any, Any]] = dataclasses.field(default_factory=list)
    reasons: list[str] = dataclasses.field(default_factory=list)
    snapshot: Snapshot | None = None
    ident: str = ""  # the MIS's Learner Ident: the stored one's letter case, else ``ref``


@dataclasses.dataclass
class Plan:
    rows: list[Row]
    counts: Counter[str]
    ignored: Counter[str]
    not_in_catalogue: Counter[str]
    deliveries: int

    def summary(self) -> dict[str, Any]:
        return {
            "learners": self.counts.total(),
            "deliveries": self.deliveries,
            **{outcome: self.counts[outcome] for outcome in OUTCOMES},
            "ignored": dict(self.ignored),
            "not_in_catalogue": dict(self.not_in_catalogue),
        }


def _iso(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


class _Catalogue:
    def __init__(self) -> None:
        rows = Qualification.objects.values_list("reference", "standard_code")
        self.references = {reference for reference, _ in rows}
        self.standards = {code: reference for reference, code in rows if code is not None}

    def reference(self, values: dict[str, str]) -> str | None:
        aim = values.get("LearnAimRef", "")
        if aim == "ZPROG001" and values.get("ProgType") == "25" and values.get("StdCode"):
            return self.standards.get(int(values["StdCode"]))
        return aim if aim in self.references else None


def _qualifications(learner: ilr.IlrLearner, catalogue: _Catalogue, missing: Counter[str]) -> dict:
    found: dict[str, dict[str, Any]] = {}
    on_break: dict[str, str] = {}
    ordered = sorted(learner.deliveries, key=lambda delivery: delivery.values["LearnStartDate"])
    for delivery in ordered:
        values = delivery.values
        reference = catalogue.reference(values)
        if reference is None:
            missing[values.get("LearnAimRef", "")] += 1
            continue
        status = COMP_STATUS.get(values.get("CompStatus", ""), QualificationStatus.IN_PROGRESS)
        record = {
            "reference": reference,
            "start_date": values["LearnStartDate"],
            "planned_end_date": values["LearnPlanEndDate"],
            "actual_end_date": values.get("LearnActEndDate"),
            "status": str(status),
            "break_start": None,
            "break_end": None,
        }
        if status == QualificationStatus.BREAK_IN_LEARNING:
            record["break_start"], record["actual_end_date"] = record["actual_end_date"], None
        restarted = on_break.pop(reference, None)
        if restarted is not None:
            earlier = found[restarted]
            earlier.update(
                {key: record[key] for key in ("planned_end_date", "actual_end_date", "status")}
            )
            earlier["break_end"] = record["start_date"]
            record = earlier
            key = restarted
        else:
            key = f"{reference}|{record['start_date']}"
            found[key] = record
        if record["status"] == QualificationStatus.BREAK_IN_LEARNING:
            on_break[reference] = key
    return found


def _placements(learner: ilr.IlrLearner) -> dict[str, dict[str, Any]]:
    dated = sorted(
        (employment.values for employment in learner.employments),
        key=lambda values: values["DateEmpStatApp"],
    )
    found = {}
    for index, values in enumerate(dated):
        if not values.get("EmpId"):
            continue
        following = dated[index + 1]["DateEmpStatApp"] if index + 1 < len(dated) else None
        end = (
            _iso(datetime.date.fromisoformat(following) - datetime.timedelta(days=1))
            if following
            else None
        )
        found[f"{values['EmpId']}|{values['DateEmpStatApp']}"] = {
            "edrs_number": values["EmpId"],
            "start_date": values["DateEmpStatApp"],
            "end_date": end,
        }
    return found


def _learner_values(learner: ilr.IlrLearner) -> dict[str, Any]:
    values = learner.values
    deliveries = [delivery.values for delivery in learner.deliveries]
    states = {COMP_STATUS.get(delivery.get("CompStatus", "")) for delivery in deliveries}
    if QualificationStatus.IN_PROGRESS in states or None in states:
        status, actual = LearnerStatus.IN_LEARNING, None
    elif QualificationStatus.BREAK_IN_LEARNING in states:
        status, actual = LearnerStatus.BREAK_IN_LEARNING, None
    else:
        completed = QualificationStatus.COMPLETED in states
        status = LearnerStatus.COMPLETED if completed else LearnerStatus.WITHDRAWN
        actual = max(delivery.get("LearnActEndDate", "") for delivery in deliveries) or None
    uln = values.get("ULN", "")
    return {
        "ident": learner.ref,
        "lrn": learner.ref,
        "uln": "" if uln == ilr.TEMPORARY_ULN else uln,
        "first_name": values.get("GivenNames", ""),
        "surname": values.get("FamilyName", ""),
        "date_of_birth": values.get("DateOfBirth"),
        "sex": str(SEX.get(values.get("Sex", ""), Sex.NOT_KNOWN)),
        "ni_number": validators.normalise_ni_number(values.get("NINumber", "")),
        "email": values.get("Email", "").strip(),
        "address_line1": values.get("AddLine1", ""),
        "address_line2": values.get("AddLine2", ""),
        "address_line3": values.get("AddLine3", ""),
        "address_line4": values.get("AddLine4", ""),
        "postcode": validators.normalise_postcode(values.get("Postcode", "")),
        "phone": values.get("TelNo", ""),
        "start_date": min(delivery["LearnStartDate"] for delivery in deliveries),
        "planned_end_date": max(delivery["LearnPlanEndDate"] for delivery in deliveries),
        "actual_end_date": actual,
        "status": str(status),
    }


def _snapshot(learner: ilr.IlrLearner, catalogue: _Catalogue, missing: Counter[str]) -> Snapshot:
    qualifications = _qualifications(learner, catalogue, missing)
    return {
        "learner": _learner_values(learner),
        "qualifications": qualifications,
        "placements": _placements(learner),
    }


def _current(record: Learner, like: Snapshot) -> Snapshot:
    """The MIS's values for the learner, in the snapshot's form, for the keys ``like`` has.
    Reads the learner's prefetched qualifications (with their breaks) and placements."""
    learner = {}
    for name in LEARNER_FIELDS:
        value = getattr(record, name)
        learner[name] = _iso(value) if name in DATE_FIELDS else value
    qualifications = {}
    for held in record.qualifications.all():
        key = f"{held.qualification.reference}|{_iso(held.start_date)}"
        if key not in like["qualifications"]:
            continue
        brk = min(held.breaks.all(), key=lambda brk: brk.start_date, default=None)
        qualifications[key] = {
            "reference": held.qualification.reference,
            "start_date": _iso(held.start_date),
            "planned_end_date": _iso(held.planned_end_date),
            "actual_end_date": _iso(held.actual_end_date),
            "status": held.status,
            "break_start": _iso(brk.start_date) if brk else None,
            "break_end": _iso(brk.end_date) if brk else None,
        }
    placements = {}
    for placement in record.placements.all():
        key = f"{placement.organisation.edrs_number}|{_iso(placement.start_date)}"
        if key in like["placements"]:
            placements[key] = {
                "edrs_number": placement.organisation.edrs_number,
                "start_date": _iso(placement.start_date),
                "end_date": _iso(placement.end_date),
            }
    return {"learner": learner, "qualifications": qualifications, "placements": placements}


def _flat(snapshot: Snapshot) -> dict[str, Any]:
    flat = {f"learner.{name}": value for name, value in snapshot["learner"].items()}
    for part in ("qualifications", "placements"):
        for key, record in snapshot[part].items():
            flat.update({f"{part}[{key}].{name}": value for name, value in record.items()})
    return flat


def _changes(old: Snapshot | None, new: Snapshot) -> list[tuple[str, Any, Any]]:
    before = _flat(old) if old else {}
    return [
        (name, before.get(name), value)
        for name, value in _flat(new).items()
        if before.get(name) != value
    ]


def _mis_refusals(snapshot: Snapshot, record: Learner | None) -> list[str]:
    """The MIS's own rules on the learner's record (``full_clean`` but for uniqueness, which
    the batch checks at once), so the preview shows what the commit would refuse."""
    candidate = copy.copy(record) if record is not None else Learner()
    for name, value in snapshot["learner"].items():
        if name in DATE_FIELDS and value:
            value = datetime.date.fromisoformat(value)
        setattr(candidate, name, value)
    references = [held["reference"] for held in snapshot["qualifications"].values()]
    twice = sorted({reference for reference in references if references.count(reference) > 1})
    found = [
        f"MIS_QualificationOnce: the aim {reference} is in the file twice with different "
        "start dates, not as a restart after a break; a learner holds a qualification once."
        for reference in twice
    ]
    try:
        candidate.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        found += [
            f"MIS_{field} : {' '.join(messages)}" for field, messages in error.message_dict.items()
        ]
    return found


class _Batch:
    """What the database holds for one batch of the file's learners, read in a few queries."""

    def __init__(self, learners: list[ilr.IlrLearner], ulns: list[str]) -> None:
        found = learner_selectors.learners_with_records(
            idents=[learner.ref for learner in learners]
        )
        self.learners = {learner.ident.lower(): learner for learner in found}
        idents = [learner.ident for learner in self.learners.values()]
        self.imported = {
            imported.ident: imported.values
            for imported in IlrImportedLearner.objects.filter(ident__in=idents)
        }
        self.uln_owners = dict(
            Learner.objects.filter(uln__in=[uln for uln in ulns if uln]).values_list("uln", "ident")
        )


def _plan_batch(
    learners: list[ilr.IlrLearner], catalogue: _Catalogue, tally: dict[str, Any]
) -> list[Row]:
    planned: list[tuple[ilr.IlrLearner, list[str], Snapshot | None]] = []
    for learner in learners:
        tally["deliveries"] += len(learner.deliveries)
        tally["ignored"].update(learner.ignored)
        refusals = [str(refusal) for refusal in ilr.refusals(learner)]
        snapshot = None if refusals else _snapshot(learner, catalogue, tally["missing"])
        planned.append((learner, refusals, snapshot))
    ulns = [snapshot["learner"]["uln"] for _, _, snapshot in planned if snapshot]
    batch = _Batch(learners, ulns)
    rows = []
    for learner, refusals, snapshot in planned:
        if snapshot is not None:
            refusals = _uln_refusals(learner, snapshot, batch, tally["ulns"])
        if snapshot is None or refusals:
            rows.append(Row(learner.ref, learner.line, REFUSED, reasons=refusals))
            continue
        rows.append(_row(learner, snapshot, batch))
    return rows


def _uln_refusals(
    learner: ilr.IlrLearner, snapshot: Snapshot, batch: _Batch, seen: dict[str, str]
) -> list[str]:
    uln = snapshot["learner"]["uln"]
    if not uln:
        return []
    if uln in seen:
        return [
            f"MIS_ULNUnique (line {learner.line}): the ULN {uln} is LearnRefNumber "
            f"{seen[uln]}'s already; a ULN belongs to one learner in the MIS."
        ]
    seen[uln] = learner.ref
    owner = batch.uln_owners.get(uln)
    if owner is not None and owner.lower() != learner.ref.lower():
        return [
            f"MIS_ULNUnique (line {learner.line}): the ULN {uln} is recorded for the MIS's "
            f"learner {owner} already; a ULN belongs to one learner only."
        ]
    return []


def _row(learner: ilr.IlrLearner, snapshot: Snapshot, batch: _Batch) -> Row:
    record = batch.learners.get(learner.ref.lower())
    ident = learner.ref if record is None else record.ident
    if record is None:
        changes = _changes(None, snapshot)
    else:
        changes = _changes(_current(record, snapshot), snapshot)
        if not changes:
            return Row(learner.ref, learner.line, UNCHANGED, snapshot=snapshot, ident=ident)
        last = batch.imported.get(record.ident)
        if last is None or _changes(_current(record, last), last):
            why = (
                "in the MIS already, not from an import"
                if last is None
                else "edited in the MIS since the last import"
            )
            return Row(learner.ref, learner.line, CONFLICT, changes, reasons=[why], ident=ident)
    mis = _mis_refusals(snapshot, record)
    if mis:
        return Row(learner.ref, learner.line, REFUSED, reasons=mis, ident=ident)
    outcome = NEW if record is None else CHANGED
    return Row(learner.ref, learner.line, outcome, changes, snapshot=snapshot, ident=ident)


OnBatch = Callable[[list[Row]], None]


def _planned_batches(path: Path, tally: dict[str, Any]) -> Iterator[list[Row]]:
    """The file's learners planned BATCH at a time, as they are read; the caller has checked
    the file (``ilr.check``)."""
    catalogue = _Catalogue()
    read = ilr.learners(path)
    while learners := list(islice(read, BATCH)):
        yield _plan_batch(learners, catalogue, tally)


def _tally() -> dict[str, Any]:
    return {"deliveries": 0, "ignored": Counter(), "missing": Counter(), "ulns": {}}


def plan(path: Path, *, on_batch: OnBatch | None = None) -> Plan:
    """What importing the file would do; writes nothing. IlrFileError if the file is bad.

    ``on_batch`` is given each batch's rows as they are planned; without it the rows are kept
    in the plan (without their snapshots), with it only the counts are."""
    ilr.check(path)
    return _plan_checked(path, on_batch)


def _plan_checked(path: Path, on_batch: OnBatch | None) -> Plan:
    tally = _tally()
    rows: list[Row] = []
    counts: Counter[str] = Counter()
    for batch in _planned_batches(path, tally):
        counts.update(row.outcome for row in batch)
        if on_batch is not None:
            on_batch(batch)
        else:
            rows += [dataclasses.replace(row, snapshot=None) for row in batch]
    return Plan(
        rows=rows,
        counts=counts,
        ignored=tally["ignored"],
        not_in_catalogue=tally["missing"],
        deliveries=tally["deliveries"],
    )


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _day(value: str) -> datetime.date:
    return datetime.date.fromisoformat(value)


class _Writer:
    """Writes a batch's new and changed learners: the new in bulk (``learners_create``), the
    changed one by one through the learners' services, so their subscribers hear of each
    change (a learner in Smart Assessor has its changes sent)."""

    def __init__(self) -> None:
        self.qualifications = {q.reference: q for q in Qualification.objects.all()}
        self.organisations: dict[str, Organisation] = {}

    def organisation(self, edrs_number: str) -> Organisation:
        found = self.organisations.get(edrs_number)
        if found is None:
            found = Organisation.objects.filter(edrs_number=edrs_number).first()
        if found is None:
            found = learner_services.organisation_create(
                data={
                    "name": f"EDRS {edrs_number} (from the ILR)",
                    "edrs_number": edrs_number,
                    "address_line1": PLACEHOLDER_ADDRESS,
                    "postcode": PLACEHOLDER_POSTCODE,
                }
            )
        self.organisations[edrs_number] = found
        return found

    def write(self, rows: list[Row]) -> None:
        """Write the batch in one transaction; if the bulk write is refused (someone wrote a
        learner meanwhile), each learner is written alone and a refused one says why."""
        new = [row for row in rows if row.outcome == NEW]
        try:
            with transaction.atomic():
                learner_services.learners_create(records=[self._new(row) for row in new])
        except (ValidationError, IntegrityError):
            for row in new:
                self._alone(row)
        for row in rows:
            if row.outcome == CHANGED:
                self._alone(row)

    def _alone(self, row: Row) -> None:
        assert row.snapshot is not None
        try:
            with transaction.atomic():
                self._update(row.snapshot)
        except (ValidationError, IntegrityError) as error:
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            row.outcome, row.reasons, row.snapshot = REFUSED, [f"MIS: {m}" for m in messages], None

    def _new(self, row: Row) -> learner_services.NewLearner:
        assert row.snapshot is not None
        snapshot = row.snapshot
        learner = Learner(**_learner_data(snapshot))
        qualifications = []
        for record in snapshot["qualifications"].values():
            held = LearnerQualification(
                qualification=self.qualifications[record["reference"]],
                start_date=_day(record["start_date"]),
                planned_end_date=_day(record["planned_end_date"]),
                actual_end_date=_date(record["actual_end_date"]),
                status=record["status"],
            )
            brk = None
            if record["break_start"]:
                brk = BreakInLearning(
                    start_date=_day(record["break_start"]), end_date=_date(record["break_end"])
                )
            qualifications.append((held, brk))
        placements = [
            Placement(
                organisation=self.organisation(placement["edrs_number"]),
                start_date=_day(placement["start_date"]),
                end_date=_date(placement["end_date"]),
            )
            for placement in snapshot["placements"].values()
        ]
        return learner_services.NewLearner(learner, qualifications, placements)

    def _update(self, snapshot: Snapshot) -> None:
        """Write one learner through the services: created, or updated where it changed."""
        data = _learner_data(snapshot)
        record = Learner.objects.filter(ident__iexact=data["ident"]).first()
        if record is None:
            record = learner_services.learner_create(data=data)
        else:
            record = learner_services.learner_update(learner=record, data=data)
        for qualification in snapshot["qualifications"].values():
            self._qualification(record, qualification)
        for placement in snapshot["placements"].values():
            organisation = self.organisation(placement["edrs_number"])
            start = _day(placement["start_date"])
            existing = Placement.objects.filter(
                learner=record, organisation=organisation, start_date=start
            ).first()
            values = {
                "organisation": organisation,
                "start_date": start,
                "end_date": _date(placement["end_date"]),
            }
            if existing is None:
                learner_services.placement_create(learner=record, data=values)
            else:
                learner_services.placement_update(placement=existing, data=values)

    def _qualification(self, learner: Learner, record: dict[str, Any]) -> None:
        qualification = self.qualifications[record["reference"]]
        start = _day(record["start_date"])
        on_break = record["status"] == QualificationStatus.BREAK_IN_LEARNING
        data = {
            "qualification": qualification,
            "start_date": start,
            "planned_end_date": _date(record["planned_end_date"]),
            "actual_end_date": _date(record["actual_end_date"]),
        }
        if not on_break and not record["break_start"]:
            data["status"] = record["status"]
        existing = learner.qualifications.filter(
            qualification=qualification, start_date=start
        ).first()
        if existing is None:
            existing = learner_services.learner_qualification_create(
                learner=learner,
                data={**data, "status": data.get("status", QualificationStatus.IN_PROGRESS)},
            )
        else:
            existing = learner_services.learner_qualification_update(
                learner_qualification=existing, data=data
            )
        brk = existing.breaks.order_by("start_date").first()
        if record["break_start"] and brk is None:
            brk = learner_services.learner_qualification_break_start(
                learner_qualification=existing, start_date=_day(record["break_start"])
            )
        if record["break_end"] and brk is not None and brk.end_date is None:
            learner_services.learner_qualification_break_end(
                brk=brk, end_date=_day(record["break_end"])
            )
            if record["status"] != QualificationStatus.IN_PROGRESS:
                learner_services.learner_qualification_update(
                    learner_qualification=existing, data={"status": record["status"]}
                )


def _learner_data(snapshot: Snapshot) -> dict[str, Any]:
    return {
        name: _date(value) if name in DATE_FIELDS else value
        for name, value in snapshot["learner"].items()
    }


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def commit(
    path: Path,
    *,
    user: User | None,
    file_name: str,
    record: IlrImport | None = None,
    on_batch: OnBatch | None = None,
) -> IlrImport:
    """Check the whole file, then plan and write it BATCH learners at a time, a transaction
    each, holding one batch in memory; conflicts and refusals are left as they are. The
    import is recorded and audited (in ``record`` when the upload made it), and a bad file is
    recorded as failed with its message (IlrFileError raised), nothing written.

    ``on_batch`` is given each batch's rows once written, with their outcomes."""
    actor = user
    if record is None:
        record = IlrImport.objects.create(user=actor, file_name=file_name, sha256=sha256(path))
    try:
        total = ilr.check(path)["learners"]
    except ilr.IlrFileError as error:
        _failed(record, actor, str(error))
        raise
    record.total, record.state = total, ImportState.COMMITTING
    record.save(update_fields=["total", "state"])
    tally = _tally()
    counts: Counter[str] = Counter()
    writer = _Writer()
    for batch in _planned_batches(path, tally):
        with transaction.atomic():
            writer.write(batch)
            _remember(batch, record)
        counts.update(row.outcome for row in batch)
        if on_batch is not None:
            on_batch(batch)
    record.state = ImportState.COMMITTED
    record.committed_at = timezone.now()
    record.counts = Plan(
        [], counts, tally["ignored"], tally["missing"], tally["deliveries"]
    ).summary()
    record.save(update_fields=["state", "committed_at", "counts"])
    ImportAuditEntry.objects.create(
        actor=actor, action="ilr_import_committed", ilr_import=record, details=record.counts
    )
    return record


def _failed(record: IlrImport, actor: User | None, message: str) -> None:
    record.state, record.message = ImportState.FAILED, message
    record.save(update_fields=["state", "message"])
    ImportAuditEntry.objects.create(
        actor=actor, action="ilr_import_failed", ilr_import=record, details={"message": message}
    )


def _remember(rows: list[Row], record: IlrImport) -> None:
    """Keep the values written (or found unchanged) for each learner, for the next import."""
    IlrImportedLearner.objects.bulk_create(
        [
            IlrImportedLearner(ident=row.ident, values=row.snapshot, ilr_import=record)
            for row in rows
            if row.snapshot is not None
        ],
        update_conflicts=True,
        unique_fields=["ident"],
        update_fields=["values", "ilr_import"],
    )


def _stored(record: IlrImport) -> Path:
    return Path(settings.ILR_UPLOAD_DIR) / record.stored_name


# An import busy for this long since its last batch has lost its worker (a batch takes
# about a second).
STALLED = datetime.timedelta(minutes=5)


def upload_store(*, upload: UploadedFile, user: User) -> IlrImport:
    """Keep an uploaded file for its preview and commit, under a name of our own (never the
    uploader's) in ILR_UPLOAD_DIR, and queue its preview; the file name is recorded only as
    the import's label."""
    if upload.size is not None and upload.size > settings.ILR_MAX_BYTES:
        raise ilr.IlrFileError(
            f"The file is {upload.size:,} bytes, more than the limit of "
            f"{settings.ILR_MAX_BYTES:,} (ILR_MAX_BYTES): check it is the right file."
        )
    folder = Path(settings.ILR_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.xml"
    with (folder / name).open("wb") as stored:
        for chunk in upload.chunks():
            stored.write(chunk)
    with transaction.atomic():
        record = IlrImport.objects.create(
            user=user,
            file_name=(upload.name or "")[:255],
            sha256=sha256(folder / name),
            stored_name=name,
            state=ImportState.READING,
            heartbeat_at=timezone.now(),
        )
        ImportAuditEntry.objects.create(actor=user, action="ilr_uploaded", ilr_import=record)
        from . import tasks  # the tasks call these services

        queue_on_commit(tasks.preview_build, record.pk)
    return record


def _claim(record: IlrImport, state: ImportState) -> bool:
    """Take a busy import for this worker: one worker only, whatever the broker delivers."""
    claimed = IlrImport.objects.filter(
        pk=record.pk, state=state, heartbeat_at=record.heartbeat_at
    ).update(heartbeat_at=timezone.now(), done=0)
    record.refresh_from_db()
    return claimed == 1


def _rows_store(record: IlrImport) -> OnBatch:
    """Keep each batch's rows for the page, and count them as done."""

    def store(rows: list[Row]) -> None:
        IlrImportRow.objects.bulk_create(
            IlrImportRow(
                ilr_import=record,
                position=record.done + index,
                ref=row.ref,
                line=row.line,
                outcome=row.outcome,
                changes=[] if row.outcome == NEW else row.changes,
                reasons=row.reasons,
            )
            for index, row in enumerate(rows)
        )
        record.done += len(rows)
        record.heartbeat_at = timezone.now()
        record.save(update_fields=["done", "heartbeat_at"])

    return store


def _drop_file(record: IlrImport) -> None:
    if record.stored_name:
        _stored(record).unlink(missing_ok=True)
        record.stored_name = ""
        record.save(update_fields=["stored_name"])


def preview_build(*, import_id: int) -> None:
    """Build an upload's preview in the background: the file checked whole, then each
    learner's row stored batch by batch, ``done`` of ``total`` as it goes. A bad file ends
    the import failed with its message, and its stored copy is dropped."""
    record = IlrImport.objects.filter(pk=import_id, state=ImportState.READING).first()
    if record is None or not _claim(record, ImportState.READING):
        return
    path = _stored(record)
    try:
        record.total = ilr.check(path)["learners"]
        record.save(update_fields=["total"])
        record.rows.all().delete()
        planned = _plan_checked(path, _rows_store(record))
    except ilr.IlrFileError as error:
        _failed(record, record.user, str(error))
        _drop_file(record)
        return
    record.state, record.counts = ImportState.PREVIEWED, planned.summary()
    record.save(update_fields=["state", "counts"])


def upload_commit(*, record: IlrImport, user: User) -> None:
    """Queue the commit of a previewed upload, once: a second click finds it taken."""
    with transaction.atomic():
        taken = IlrImport.objects.filter(
            pk=record.pk, state=ImportState.PREVIEWED, stored_name=record.stored_name
        ).exclude(stored_name="")
        if not taken.update(state=ImportState.COMMITTING, heartbeat_at=timezone.now(), done=0):
            raise ilr.IlrFileError("This import has been committed or has failed already.")
        ImportAuditEntry.objects.create(actor=user, action="ilr_commit_asked", ilr_import=record)
        from . import tasks

        queue_on_commit(tasks.commit_run, record.pk, user.pk)


def commit_run(*, import_id: int, user_id: int | None) -> None:
    """Commit a previewed upload in the background; its rows become the outcome of each
    learner, and the stored file is dropped at the end, whatever happened."""
    record = IlrImport.objects.filter(pk=import_id, state=ImportState.COMMITTING).first()
    if record is None or not _claim(record, ImportState.COMMITTING):
        return
    user = User.objects.filter(pk=user_id).first() if user_id else None
    record.rows.all().delete()
    try:
        commit(
            _stored(record),
            user=user,
            file_name=record.file_name,
            record=record,
            on_batch=_rows_store(record),
        )
    except ilr.IlrFileError:
        pass  # recorded as failed by commit, with its message
    finally:
        _drop_file(record)


def imports_sweep() -> int:
    """Fail the imports whose worker stopped (no batch for STALLED), saying what was kept and
    what to do; returns how many."""
    stalled = IlrImport.objects.filter(
        state__in=BUSY_STATES, heartbeat_at__lt=timezone.now() - STALLED
    )
    for record in stalled:
        if record.state == ImportState.READING:
            message = (
                "The preview stopped before it finished (the server may have restarted). "
                "Nothing was written: upload the file again."
            )
        else:
            message = (
                f"The import stopped after {record.done:,} of {record.total or 0:,} learners "
                "(the server may have restarted). What was written is kept: upload the same "
                "file again to import the rest; the learners written already show as "
                "unchanged."
            )
        if IlrImport.objects.filter(pk=record.pk, state=record.state).update(
            state=ImportState.FAILED, message=message
        ):
            ImportAuditEntry.objects.create(
                action="ilr_import_stalled", ilr_import=record, details={"message": message}
            )
            _drop_file(record)
    return len(stalled)
