"""Reading an ILR 2025-26 XML file (F32): safely, streamed, checked against the XSD and the rules.

The file is read with defusedxml's SAX parser fed in chunks, so memory stays constant whatever
its size: each ``Learner`` element is built as a small tree, handed on and dropped. SAX (rather
than ElementTree's iterparse) because its locator gives the line each learner starts on, which
refusals name. DTDs, entities and external references are refused by defusedxml, so an entity
expansion bomb or a file that reaches for the network stops with one message.

The rules implemented here, with the names the DfE's validation service prints:

The XSD is checked with lxml (libxml2), streamed, after the safe read has refused DTDs and
entities; lxml itself is told to read no entity, DTD or network resource.

The LearnRefNumber's pattern (up to 12 letters, digits and spaces) is the XSD's: a file that
breaks it fails as a whole, at its line, before any learner is planned.
- ``ULN_04``: the ULN's check digit (the temporary 9999999999 is allowed and means unknown).
- ``DateOfBirth_plausible``: the learner is between 13 and 100 at the start of the year.
- ``LearnStartDate_02``: a delivery starts no more than 10 years before the teaching year.
- ``LearnPlanEndDate_02``: the planned end date is not before the start date; and the MIS's
  own ``MIS_PlanEndAfterStart``: not on the same day either (its records need it after).
- ``LearnActEndDate_01``: the actual end date is not before the start date.
- ``CompStatus_02``: a delivery completed (2) or withdrawn (3) has its LearnActEndDate.
- ``CompStatus_04``: a delivery with a LearnActEndDate is not continuing (CompStatus 1).
"""

import copy
import dataclasses
import datetime
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax import SAXParseException, handler
from xml.sax.expatreader import ExpatLocator

import defusedxml.sax
from defusedxml import DefusedXmlException
from django.conf import settings
from lxml import etree

from learners import validators

NAMESPACE = "ESFA/ILR/2025-26"
XSD = Path(__file__).resolve().parent / "data" / "schemafile25.xsd"
TEACHING_YEAR_START = datetime.date(2025, 8, 1)
TEMPORARY_ULN = "9999999999"
CHUNK = 64 * 1024

# The elements of a Learner the MIS reads; everything else is counted as ignored.
LEARNER_FIELDS = {
    "LearnRefNumber",
    "ULN",
    "FamilyName",
    "GivenNames",
    "DateOfBirth",
    "Sex",
    "NINumber",
    "Postcode",
    "AddLine1",
    "AddLine2",
    "AddLine3",
    "AddLine4",
    "TelNo",
    "Email",
}
DELIVERY_FIELDS = {
    "LearnAimRef",
    "AimType",
    "ProgType",
    "StdCode",
    "LearnStartDate",
    "LearnPlanEndDate",
    "LearnActEndDate",
    "CompStatus",
    "Outcome",
}
EMPLOYMENT_FIELDS = {"EmpStat", "DateEmpStatApp", "EmpId"}


class IlrFileError(Exception):
    """The file as a whole cannot be imported; the message says why and what to do."""


@dataclasses.dataclass
class Delivery:
    values: dict[str, str]
    line: int


@dataclasses.dataclass
class Employment:
    values: dict[str, str]
    line: int


@dataclasses.dataclass
class IlrLearner:
    """One Learner element: the values the MIS reads, and the names of the ones it does not."""

    line: int
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    deliveries: list[Delivery] = dataclasses.field(default_factory=list)
    employments: list[Employment] = dataclasses.field(default_factory=list)
    ignored: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def ref(self) -> str:
        return self.values.get("LearnRefNumber", "")


@dataclasses.dataclass
class Refusal:
    rule: str
    message: str
    line: int

    def __str__(self) -> str:
        return f"{self.rule} (line {self.line}): {self.message}"


class _LearnerHandler(handler.ContentHandler):
    """Builds IlrLearner records from SAX events; finished ones wait in ``ready``."""

    def __init__(self) -> None:
        super().__init__()
        self.ready: list[IlrLearner] = []
        self.stack: list[str] = []
        self.text: list[str] = []
        self.learner: IlrLearner | None = None
        self.record: Delivery | Employment | None = None
        self.root_namespace: str | None = None
        self.year = ""
        self.locator: Any = None

    def setDocumentLocator(self, locator: Any) -> None:
        self.locator = locator

    def _line(self) -> int:
        return self.locator.getLineNumber() if self.locator else 0

    def startElementNS(self, name: tuple[str | None, str], qname: Any, attrs: Any) -> None:
        namespace, local = name
        if self.root_namespace is None:
            self.root_namespace = namespace or ""
            if local != "Message" or namespace != NAMESPACE:
                raise IlrFileError(
                    f"This is not an ILR 2025-26 file: its root is {local!r} in the namespace "
                    f"{namespace or 'none'!r}, where the 2025-26 ILR has Message in {NAMESPACE!r}. "
                    "Export the file for the 2025-26 year from your MIS."
                )
        self.stack.append(local)
        self.text = []
        if local == "Learner" and len(self.stack) == 2:
            self.learner = IlrLearner(line=self._line())
        elif self.learner is not None and len(self.stack) == 3:
            if local == "LearningDelivery":
                self.record = Delivery(values={}, line=self._line())
            elif local == "LearnerEmploymentStatus":
                self.record = Employment(values={}, line=self._line())

    def characters(self, content: str) -> None:
        self.text.append(content)

    def endElementNS(self, name: tuple[str | None, str], qname: Any) -> None:
        local = name[1]
        depth = len(self.stack)
        self.stack.pop()
        value = "".join(self.text).strip()
        self.text = []
        if local == "Year" and self.stack[-2:] == ["Header", "CollectionDetails"]:
            self.year = value
        learner = self.learner
        if learner is None:
            return
        if depth == 2:
            self.ready.append(learner)
            self.learner = None
        elif depth == 3:
            if isinstance(self.record, Delivery) and local == "LearningDelivery":
                learner.deliveries.append(self.record)
            elif isinstance(self.record, Employment) and local == "LearnerEmploymentStatus":
                learner.employments.append(self.record)
            elif local in LEARNER_FIELDS:
                learner.values[local] = value
            else:
                learner.ignored[local] += 1
            self.record = None
        elif depth == 4 and self.record is not None:
            read = DELIVERY_FIELDS if isinstance(self.record, Delivery) else EMPLOYMENT_FIELDS
            if local in read:
                self.record.values[local] = value
            else:
                parent = (
                    "LearningDelivery"
                    if isinstance(self.record, Delivery)
                    else ("LearnerEmploymentStatus")
                )
                learner.ignored[f"{parent}/{local}"] += 1


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size == 0:
        raise IlrFileError("The file is empty (0 bytes): export the ILR file again.")
    limit = settings.ILR_MAX_BYTES
    if size > limit:
        raise IlrFileError(
            f"The file is {size:,} bytes, more than the limit of {limit:,} (ILR_MAX_BYTES): "
            "check it is the right file, or ask for the limit to be raised."
        )


def learners(path: Path) -> Iterator[IlrLearner]:
    """The file's learners one by one, as they are read; IlrFileError if it is not well formed,
    not 2025-26, or holds a DTD or entities."""
    _check_size(path)
    content = _LearnerHandler()
    parser = defusedxml.sax.make_parser()
    parser.setFeature(handler.feature_namespaces, True)
    parser.setFeature(handler.feature_external_ges, False)
    parser.setContentHandler(content)
    # feed() never hands the handler a locator (only parse() does), and refusals need lines.
    content.setDocumentLocator(ExpatLocator(parser))
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                parser.feed(chunk)
                yield from content.ready
                content.ready.clear()
            parser.close()
    except DefusedXmlException as error:
        raise IlrFileError(
            f"The file declares entities or a DTD ({type(error).__name__}), which an ILR file "
            "never has and which can make a file expand without end: it was not read."
        ) from error
    except SAXParseException as error:
        raise IlrFileError(
            f"The file is not well-formed XML (line {error.getLineNumber()}: "
            f"{error.getMessage()}): export the ILR file again."
        ) from error
    yield from content.ready
    if content.year != "2526":
        raise IlrFileError(
            f"The file's collection year is {content.year or 'missing'}, not 2526: import the "
            "2025-26 file."
        )


def _schema() -> etree.XMLSchema:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = etree.XMLSchema(etree.parse(str(XSD), _xml_parser()))
    return _SCHEMA


_SCHEMA: etree.XMLSchema | None = None


def _xml_parser() -> etree.XMLParser:
    """lxml reading nothing but the file: no entities, no DTD, no network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def _iterparse(path: Path, **options: Any) -> Any:
    return etree.iterparse(
        str(path), resolve_entities=False, no_network=True, load_dtd=False, **options
    )


def _schema_error(path: Path) -> str | None:
    """The file's first departure from the XSD, or None when it follows it.

    libxml2 validates the file as it streams it (constant memory, about a second for 5,000
    learners), but a streamed validation cannot say where: it is then validated again one
    top-level element at a time (each Learner in a Message of its own, with the file's Header
    and LearningProvider), which names the line, the learner and the element.
    """
    try:
        for _, element in _iterparse(path, events=("end",), schema=_schema()):
            parent = element.getparent()
            if parent is not None and parent.getparent() is None:
                element.clear()  # a top-level element is done with: drop it and those before
                while element.getprevious() is not None:
                    del parent[0]
        return None
    except etree.XMLSyntaxError as error:
        streamed = error.msg
    return _locate(path) or (
        f"The file does not follow the ILR 2025-26 schema: {_readable(streamed)}. Correct it in "
        "your MIS and export it again."
    )


def _readable(message: str) -> str:
    return message.replace("{" + NAMESPACE + "}", "").rstrip(".")


def _locate(path: Path) -> str | None:
    shell: list[Any] = []  # the top-level elements before the first Learner
    first_learner = None
    learners = 0
    for _, element in _iterparse(path, events=("end",)):
        parent = element.getparent()
        if parent is None or parent.getparent() is not None:
            continue
        local = etree.QName(element).localname
        if local == "Learner":
            learners += 1
            if first_learner is None:
                first_learner = copy.deepcopy(element)
        elif first_learner is None:
            shell.append(copy.deepcopy(element))
            continue
        message = etree.Element(parent.tag, nsmap=parent.nsmap)
        message.extend(copy.deepcopy(part) for part in shell)
        if local != "Learner":
            message.append(copy.deepcopy(first_learner))
        message.append(element)  # moved, with its lines
        schema = _schema()
        if not schema.validate(message):
            entry = schema.error_log[0]
            where = f"line {entry.line}"
            if local == "Learner":
                ref = element.findtext(f"{{{NAMESPACE}}}LearnRefNumber") or "?"
                where += f", in Learner {learners} (LearnRefNumber {ref})"
            return (
                f"The file does not follow the ILR 2025-26 schema at {where}: "
                f"{_readable(entry.message)}. Correct it in your MIS and export it again."
            )
    return None


def check(path: Path) -> dict[str, int]:
    """Check the whole file before anything is planned; IlrFileError with one message if it is
    bad. Returns the number of learners and of deliveries."""
    refs: set[str] = set()
    deliveries = 0
    for learner in learners(path):
        if learner.ref in refs:
            raise IlrFileError(
                f"The LearnRefNumber {learner.ref!r} is in the file twice (again on line "
                f"{learner.line}): each learner is in an ILR file once; correct the file."
            )
        refs.add(learner.ref)
        deliveries += len(learner.deliveries)
    # Read safely already (above: no DTD, no entities), so lxml may read it for the XSD.
    error = _schema_error(path)
    if error is not None:
        raise IlrFileError(error)
    return {"learners": len(refs), "deliveries": deliveries}


def _date(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def refusals(learner: IlrLearner) -> list[Refusal]:
    """What stops this learner being imported, each named by its ILR rule."""
    found = []
    uln = learner.values.get("ULN", "")
    if uln != TEMPORARY_ULN and not validators.uln_is_valid(uln):
        found.append(Refusal("ULN_04", f"The ULN {uln} fails its check digit.", learner.line))
    born = _date(learner.values.get("DateOfBirth"))
    if born is not None:
        age = (TEACHING_YEAR_START - born).days // 365
        if not 13 <= age <= 100:
            found.append(
                Refusal(
                    "DateOfBirth_plausible",
                    f"The date of birth {born:%d/%m/%Y} makes the learner {age} at the start of "
                    "the year.",
                    learner.line,
                )
            )
    earliest = TEACHING_YEAR_START.replace(year=TEACHING_YEAR_START.year - 10)
    for delivery in learner.deliveries:
        values = delivery.values
        aim = values.get("LearnAimRef", "")
        start = _date(values.get("LearnStartDate"))
        planned = _date(values.get("LearnPlanEndDate"))
        actual = values.get("LearnActEndDate")
        status = values.get("CompStatus")
        if start and start < earliest:
            found.append(
                Refusal(
                    "LearnStartDate_02",
                    f"The aim {aim} starts on {start:%d/%m/%Y}, more than 10 years before the "
                    "teaching year.",
                    delivery.line,
                )
            )
        if start and planned and planned < start:
            found.append(
                Refusal(
                    "LearnPlanEndDate_02",
                    f"The aim {aim}'s planned end date is before its start date.",
                    delivery.line,
                )
            )
        elif start and planned and planned == start:
            found.append(
                Refusal(
                    "MIS_PlanEndAfterStart",
                    f"The aim {aim} ends on the day it starts; the MIS needs the planned end "
                    "date after the start date.",
                    delivery.line,
                )
            )
        ended = _date(actual)
        if start and ended and ended < start:
            found.append(
                Refusal(
                    "LearnActEndDate_01",
                    f"The aim {aim}'s actual end date is before its start date.",
                    delivery.line,
                )
            )
        if status in ("2", "3") and not actual:
            found.append(
                Refusal(
                    "CompStatus_02",
                    f"The aim {aim} is completed or withdrawn (CompStatus {status}) without a "
                    "LearnActEndDate.",
                    delivery.line,
                )
            )
        if status == "1" and actual:
            found.append(
                Refusal(
                    "CompStatus_04",
                    f"The aim {aim} has a LearnActEndDate but is continuing (CompStatus 1).",
                    delivery.line,
                )
            )
    return found
