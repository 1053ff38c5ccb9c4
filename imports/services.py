"""The ILR import (F32), plan → check → apply: ``plan`` reads the file and says per learner what
would happen, writing nothing; ``commit`` plans again from the same file and writes what the
plan allows, batch by batch, through the learners' services (full_clean and their signals).

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

import dataclasses
import datetime
import hashlib
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from learners import services as learner_services
from learners import validators
from learners.models import (
    Learner,
    LearnerStatus,
    Organisation,
    Placement,
    Qualification,
    QualificationStatus,
    Sex,
)

from . import ilr
from .models import IlrImport, IlrImportedLearner, ImportAuditEntry, ImportState

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


@dataclasses.dataclass
class Plan:
    rows: list[Row]
    counts: Counter[str]
    ignored: Counter[str]
    not_in_catalogue: Counter[str]
    deliveries: int

    def summary(self) -> dict[str, Any]:
        return {
            "learners": len(self.rows),
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
    """The MIS's values for the learner, in the snapshot's form, for the keys ``like`` has."""
    learner = {}
    for name in LEARNER_FIELDS:
        value = getattr(record, name)
        learner[name] = _iso(value) if name in DATE_FIELDS else value
    qualifications = {}
    for held in record.qualifications.select_related("qualification"):
        key = f"{held.qualification.reference}|{_iso(held.start_date)}"
        if key not in like["qualifications"]:
            continue
        brk = held.breaks.order_by("start_date").first()
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
    for placement in record.placements.select_related("organisation"):
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
    """The MIS's own rules on the learner's record (full_clean), checked before anything is
    written, so the preview shows what the commit would refuse."""
    candidate = record or Learner()
    for name, value in snapshot["learner"].items():
        if name in DATE_FIELDS and value:
            value = datetime.date.fromisoformat(value)
        setattr(candidate, name, value)
    try:
        candidate.full_clean()
    except ValidationError as error:
        return [
            f"MIS_{field} : {' '.join(messages)}" for field, messages in error.message_dict.items()
        ]
    finally:
        if record is not None:
            record.refresh_from_db()
    return []


def _rows(path: Path, plan_counts: dict[str, Any]) -> Iterator[Row]:
    catalogue = _Catalogue()
    ulns: dict[str, str] = {}
    for learner in ilr.learners(path):
        plan_counts["deliveries"] += len(learner.deliveries)
        plan_counts["ignored"].update(learner.ignored)
        refusals = [str(refusal) for refusal in ilr.refusals(learner)]
        if refusals:
            yield Row(learner.ref, learner.line, REFUSED, reasons=refusals)
            continue
        snapshot = _snapshot(learner, catalogue, plan_counts["missing"])
        uln = snapshot["learner"]["uln"]
        if uln and uln in ulns:
            yield Row(
                learner.ref,
                learner.line,
                REFUSED,
                reasons=[
                    f"MIS_ULNUnique (line {learner.line}): the ULN {uln} is LearnRefNumber "
                    f"{ulns[uln]}'s already; a ULN belongs to one learner in the MIS."
                ],
            )
            continue
        if uln:
            ulns[uln] = learner.ref
        record = Learner.objects.filter(ident__iexact=learner.ref).first()
        mis = _mis_refusals(snapshot, record)
        if mis:
            yield Row(learner.ref, learner.line, REFUSED, reasons=mis)
            continue
        if record is None:
            yield Row(learner.ref, learner.line, NEW, _changes(None, snapshot), snapshot=snapshot)
            continue
        current = _current(record, snapshot)
        changes = _changes(current, snapshot)
        last = IlrImportedLearner.objects.filter(ident=record.ident).first()
        if not changes:
            yield Row(learner.ref, learner.line, UNCHANGED, snapshot=snapshot)
        elif last is None or _changes(_current(record, last.values), last.values):
            why = (
                "in the MIS already, not from an import"
                if last is None
                else "edited in the MIS since the last import"
            )
            yield Row(learner.ref, learner.line, CONFLICT, changes, reasons=[why])
        else:
            yield Row(learner.ref, learner.line, CHANGED, changes, snapshot=snapshot)


def plan(path: Path) -> Plan:
    """What importing the file would do; writes nothing. IlrFileError if the file is bad."""
    ilr.check(path)
    counts: dict[str, Any] = {"deliveries": 0, "ignored": Counter(), "missing": Counter()}
    rows = list(_rows(path, counts))
    return Plan(
        rows=rows,
        counts=Counter(row.outcome for row in rows),
        ignored=counts["ignored"],
        not_in_catalogue=counts["missing"],
        deliveries=counts["deliveries"],
    )


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def _day(value: str) -> datetime.date:
    return datetime.date.fromisoformat(value)


def _organisation(edrs_number: str) -> Organisation:
    found = Organisation.objects.filter(edrs_number=edrs_number).first()
    if found is not None:
        return found
    return learner_services.organisation_create(
        data={
            "name": f"EDRS {edrs_number} (from the ILR)",
            "edrs_number": edrs_number,
            "address_line1": PLACEHOLDER_ADDRESS,
            "postcode": PLACEHOLDER_POSTCODE,
        }
    )


def _write_qualification(learner: Learner, record: dict[str, Any]) -> None:
    qualification = Qualification.objects.get(reference=record["reference"])
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
    existing = learner.qualifications.filter(qualification=qualification, start_date=start).first()
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


def _write(snapshot: Snapshot) -> Learner:
    data = {
        name: _date(value) if name in DATE_FIELDS else value
        for name, value in snapshot["learner"].items()
    }
    record = Learner.objects.filter(ident__iexact=data["ident"]).first()
    if record is None:
        record = learner_services.learner_create(data=data)
    else:
        record = learner_services.learner_update(learner=record, data=data)
    for qualification in snapshot["qualifications"].values():
        _write_qualification(record, qualification)
    for placement in snapshot["placements"].values():
        organisation = _organisation(placement["edrs_number"])
        start = _day(placement["start_date"])
        existing = Placement.objects.filter(
            learner=record, organisation=organisation, start_date=start
        ).first()
        data = {
            "organisation": organisation,
            "start_date": start,
            "end_date": _date(placement["end_date"]),
        }
        if existing is None:
            learner_services.placement_create(learner=record, data=data)
        else:
            learner_services.placement_update(placement=existing, data=data)
    return record


def _batches(rows: Iterable[Row]) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def commit(
    path: Path, *, user: User | None, file_name: str, record: IlrImport | None = None
) -> IlrImport:
    """Plan the file again and write its new and changed learners, BATCH learners to a
    transaction; conflicts and refusals are left as they are. The import is recorded and
    audited (in ``record`` when the upload made it), and a bad file is recorded as failed with
    its message (IlrFileError raised)."""
    actor = user
    if record is None:
        record = IlrImport.objects.create(user=actor, file_name=file_name, sha256=sha256(path))
    try:
        planned = plan(path)
    except ilr.IlrFileError as error:
        record.state, record.message = ImportState.FAILED, str(error)
        record.save(update_fields=["state", "message"])
        ImportAuditEntry.objects.create(
            actor=actor,
            action="ilr_import_failed",
            ilr_import=record,
            details={"message": str(error)},
        )
        raise
    for batch in _batches(planned.rows):
        with transaction.atomic():
            for row in batch:
                if row.snapshot is None:
                    continue
                if row.outcome in (NEW, CHANGED):
                    learner = _write(row.snapshot)
                else:
                    learner = Learner.objects.get(ident__iexact=row.ref)
                IlrImportedLearner.objects.update_or_create(
                    ident=learner.ident, defaults={"values": row.snapshot, "ilr_import": record}
                )
    record.state = ImportState.COMMITTED
    record.committed_at = timezone.now()
    record.counts = planned.summary()
    record.save(update_fields=["state", "committed_at", "counts"])
    ImportAuditEntry.objects.create(
        actor=actor, action="ilr_import_committed", ilr_import=record, details=record.counts
    )
    return record


def _stored(record: IlrImport) -> Path:
    return Path(settings.ILR_UPLOAD_DIR) / record.stored_name


def upload_store(*, upload: UploadedFile, user: User) -> IlrImport:
    """Keep an uploaded file for its preview and commit, under a name of our own (never the
    uploader's) in ILR_UPLOAD_DIR; the file name is recorded only as the import's label."""
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
    record = IlrImport.objects.create(
        user=user,
        file_name=(upload.name or "")[:255],
        sha256=sha256(folder / name),
        stored_name=name,
    )
    ImportAuditEntry.objects.create(actor=user, action="ilr_uploaded", ilr_import=record)
    return record


def upload_plan(*, record: IlrImport) -> Plan:
    """The preview of an upload waiting for its commit; a bad file is recorded as failed and
    its stored copy dropped, as nothing can come of it."""
    path = _stored(record)
    try:
        return plan(path)
    except ilr.IlrFileError as error:
        path.unlink(missing_ok=True)
        record.state, record.message, record.stored_name = ImportState.FAILED, str(error), ""
        record.save(update_fields=["state", "message", "stored_name"])
        raise


def upload_commit(*, record: IlrImport, user: User) -> IlrImport:
    """Commit an upload once, then drop the stored file."""
    if record.state != ImportState.PREVIEWED or not record.stored_name:
        raise ilr.IlrFileError("This import has been committed or has failed already.")
    path = _stored(record)
    try:
        return commit(path, user=user, file_name=record.file_name, record=record)
    finally:
        path.unlink(missing_ok=True)
        record.stored_name = ""
        record.save(update_fields=["stored_name"])
