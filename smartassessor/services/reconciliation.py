"""The reconciliation report (F24): Smart Assessor's full lists of learners, employers and
assessors, read page by page, compared with the links the MIS holds.

A build is a row first (``Reconciliation``), then a background task that claims it with a
conditional UPDATE and a lease renewed with each page read; the sweeper fails a build whose
worker is gone. The findings are stored as rows in one transaction at the end, which also
removes the reports before it, so the report in use is always a whole one. The report only
reports: nothing is linked, unlinked or changed until a person presses Link, which goes
through the rules of a link made by hand (F12 for learners, the look-up's for employers and
assessors) and is audited there.
"""

import dataclasses
import datetime as dt
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone

from learners.models import Learner, Officer, Organisation
from picsweb import roles
from picsweb.errors import ApplicationError
from picsweb.moments import when
from picsweb.task_queue import queue_on_commit

from .. import record_match
from ..audit import Actor, actor_user
from ..client import MAX_PAGE_SIZE, Listing, MalformedItem, SmartAssessorError
from ..client import Assessor as SAAssessor
from ..client import Employer as SAEmployer
from ..client import Learner as SALearner
from ..connection import client_from_settings
from ..errors import unexpected_error_text
from ..linked_records import ASSESSOR, EMPLOYER
from ..models import Enrolment, OfficerLink, OrganisationLink, Reconciliation
from ..models import ReconciliationFinding as Finding
from . import links
from .learner_sa_id import learner_sa_id_set

logger = logging.getLogger(__name__)

Category = Finding.Category
T = TypeVar("T")

PAGE_SIZE = MAX_PAGE_SIZE
# Renewed with every page read; a page's call, retries included, ends well within it.
LEASE = dt.timedelta(minutes=3)
# A queued build no worker has taken is sent again after this; after the longer wait it fails.
REQUEUE_AFTER = dt.timedelta(minutes=1)
GIVE_UP_AFTER = dt.timedelta(minutes=30)
BATCH_SIZE = 1000


class _LeaseLost(Exception):
    """The sweeper ended the build meanwhile (its lease ran out): this worker writes nothing."""


# --- Requesting a build -----------------------------------------------------------------------


def _create(actor: Actor, *, lease_until: dt.datetime | None) -> Reconciliation:
    try:
        with transaction.atomic():
            return Reconciliation.objects.create(
                requested_by=actor_user(actor), lease_until=lease_until
            )
    except IntegrityError:
        raise ApplicationError(
            "A reconciliation report is already being built: wait for it to finish."
        ) from None


def reconciliation_request(*, actor: Actor) -> tuple[Reconciliation, bool]:
    """Store a build and queue it once the transaction commits; while one is under way, that
    one (and False) instead: one build at a time."""
    from ..tasks import build_reconciliation

    under_way = Reconciliation.objects.filter(state__in=Reconciliation.ACTIVE_STATES).first()
    if under_way is not None:
        return under_way, False
    try:
        report = _create(actor, lease_until=timezone.now() + REQUEUE_AFTER)
    except ApplicationError:
        # Another request made one a moment ago.
        under_way = Reconciliation.objects.filter(state__in=Reconciliation.ACTIVE_STATES).first()
        if under_way is None:
            raise
        return under_way, False
    queue_on_commit(build_reconciliation, report.pk)
    return report, True


def reconciliation_build_now(*, actor: Actor = None) -> Reconciliation:
    """Build a report in the foreground (the command line); refused while one is under way."""
    report = _create(actor, lease_until=None)
    return reconciliation_build(report_id=report.pk)


# --- Building ---------------------------------------------------------------------------------


def _claim(report_id: int) -> bool:
    now = timezone.now()
    return (
        Reconciliation.objects.filter(pk=report_id, state=Reconciliation.State.QUEUED).update(
            state=Reconciliation.State.RUNNING, started_at=now, lease_until=now + LEASE, error=""
        )
        == 1
    )


def _running(report_id: int) -> Any:
    return Reconciliation.objects.filter(pk=report_id, state=Reconciliation.State.RUNNING)


def _progress(report_id: int, **fields: Any) -> None:
    """Record how far the build has read, renewing its lease; stop if it was taken away."""
    if _running(report_id).update(lease_until=timezone.now() + LEASE, **fields) != 1:
        raise _LeaseLost


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


def reconciliation_build(*, report_id: int) -> Reconciliation:
    """Read SA's three lists, compare them with the MIS's links and store the findings.

    A build that is not queued (already taken, finished, or swept) is left as it is. Whatever
    stops it is stored on the row as its error, and the report before it stays in use.
    """
    if not _claim(report_id):
        return Reconciliation.objects.get(pk=report_id)
    try:
        findings, read = _build(report_id)
        with transaction.atomic():
            _progress(report_id, stage="")
            Finding.objects.bulk_create(findings, batch_size=BATCH_SIZE)
            _running(report_id).update(
                state=Reconciliation.State.SUCCEEDED,
                finished_at=timezone.now(),
                lease_until=None,
                **read,
            )
            # One report at a time: this one replaces those before it, failed builds included.
            Reconciliation.objects.exclude(pk=report_id).exclude(
                state__in=Reconciliation.ACTIVE_STATES
            ).delete()
        logger.info("Reconciliation %s built: %s findings", report_id, len(findings))
    except _LeaseLost:
        logger.warning("Reconciliation %s was ended while it was being built.", report_id)
    except (SmartAssessorError, ApplicationError) as exc:
        _fail(report_id, f"{_sentence(str(exc))} Build the report again later.")
    except Exception as exc:
        logger.exception("Reconciliation %s stopped on an unexpected error", report_id)
        _fail(
            report_id,
            f"The build stopped on an unexpected error ({unexpected_error_text(exc)}). Build "
            "the report again; if it fails again, tell support.",
        )
    return Reconciliation.objects.get(pk=report_id)


def _fail(report_id: int, message: str) -> None:
    _running(report_id).update(
        state=Reconciliation.State.FAILED,
        finished_at=timezone.now(),
        lease_until=None,
        stage="",
        error=message,
    )


def reconciliations_sweep() -> int:
    """Fail the builds whose worker is gone (their lease ran out) or that no worker took for
    too long, and send again those whose task was lost; every row it touches moves on."""
    from ..tasks import build_reconciliation

    now = timezone.now()
    queued, running = Reconciliation.State.QUEUED, Reconciliation.State.RUNNING
    failed = Reconciliation.objects.filter(state=running, lease_until__lt=now).update(
        state=Reconciliation.State.FAILED,
        finished_at=now,
        lease_until=None,
        stage="",
        error="The build stopped without finishing (its worker was stopped). Build the report "
        "again; if it fails again, tell support.",
    )
    failed += Reconciliation.objects.filter(
        state=queued, requested_at__lt=now - GIVE_UP_AFTER
    ).update(
        state=Reconciliation.State.FAILED,
        finished_at=now,
        lease_until=None,
        error=f"No worker took this build within {GIVE_UP_AFTER.seconds // 60} minutes: check "
        "that the background worker is running, then build the report again.",
    )
    lost = Reconciliation.objects.filter(state=queued, lease_until__lt=now)
    resent = list(lost.values_list("pk", flat=True))
    Reconciliation.objects.filter(pk__in=resent, state=queued).update(
        lease_until=now + REQUEUE_AFTER
    )
    for pk in resent:
        queue_on_commit(build_reconciliation, pk)
    return failed + len(resent)


def _pages(count: int) -> int:
    return -(-count // PAGE_SIZE)


def _paged(report_id: int, listing: Listing[T], stage: str) -> Iterator[T]:
    """The listing's items, recording as the build's progress each page as it arrives."""
    _progress(report_id, stage=stage, pages_read=0, pages_total=0)
    read = 0
    for read, item in enumerate(listing, 1):
        if read % PAGE_SIZE == 1:
            total = _pages(listing.total_count or 0)
            _progress(report_id, pages_read=_pages(read), pages_total=max(total, _pages(read)))
        yield item
    _progress(report_id, pages_read=_pages(read), pages_total=_pages(read))


def _build(report_id: int) -> tuple[list[Finding], dict[str, int]]:
    client = client_from_settings()
    report = Reconciliation(pk=report_id)
    learners = _LearnerComparison(report)
    for item in _paged(report_id, client.learner_scan(page_size=PAGE_SIZE), "learners"):
        learners.add(item)
    employers = _Comparison(report, _EMPLOYERS)
    for employer in _paged(report_id, client.employer_list(page_size=PAGE_SIZE), "employers"):
        employers.add(employer)
    assessors = _Comparison(report, _ASSESSORS)
    for assessor in _paged(report_id, client.assessor_list(page_size=PAGE_SIZE), "assessors"):
        assessors.add(assessor)
    findings = [*learners.findings(), *employers.findings(), *assessors.findings()]
    read = {
        "sa_learners": len(learners.seen),
        "sa_employers": len(employers.seen),
        "sa_assessors": len(assessors.seen),
        "sa_unreadable": learners.unreadable,
    }
    return findings, read


# --- Comparing --------------------------------------------------------------------------------


def folded(text: str | None) -> str:
    """A name as people compare it: no accents, no letter case, words one space apart."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())


def _postcode_key(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "").upper()


def _digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def _one(candidates: Iterable[int], allowed: set[int] | frozenset[int]) -> tuple[int | None, int]:
    """The one candidate still free to be linked, and how many there were."""
    free = sorted(set(candidates) & allowed)
    return (free[0] if len(free) == 1 else None), len(free)


class _LearnerComparison:
    """Smart Assessor's learners, as read, against the MIS's learners and their links.

    The MIS side is loaded once into dicts (a few tens of thousands of small rows); the SA
    side is judged as it is read, and what needs the whole list (links that point nowhere,
    swapped pairs, likely matches) once it has been read."""

    def __init__(self, report: Reconciliation):
        self.report = report
        self.seen: set[str] = set()
        self.unreadable = 0
        self.sa_by_learner: dict[int, str] = {}
        self.learner_by_sa: dict[str, int] = {}
        current = Enrolment.objects.filter(is_current=True).values_list(
            "learner_id", "sa_learner_id"
        )
        self.enrolled: set[int] = set()
        for learner_id, sa_id in current:
            self.enrolled.add(learner_id)
            if sa_id:
                self.sa_by_learner[learner_id] = sa_id.lower()
                self.learner_by_sa[sa_id.lower()] = learner_id
        self.by_ident: dict[str, int] = {}
        self.by_uln: dict[str, list[int]] = defaultdict(list)
        self.by_person: dict[tuple, list[int]] = defaultdict(list)
        everyone = Learner.objects.values_list(
            "pk", "ident", "first_name", "surname", "date_of_birth", "uln"
        )
        for pk, ident, first_name, surname, born, uln in everyone:
            self.by_ident[ident.lower()] = pk
            if uln:
                self.by_uln[uln].append(pk)
            self.by_person[(folded(first_name), folded(surname), born)].append(pk)
        # SA's MIS id of each SA learner the MIS links to, for the swapped pairs.
        self.names_of_linked: dict[str, int | None] = {}
        self.mismatched: list[tuple[Finding, int, int]] = []
        self.unlinked: list[tuple[Finding, tuple]] = []

    def add(self, item: SALearner | MalformedItem) -> None:
        if isinstance(item, MalformedItem):
            self.unreadable += 1
            # Its id may still be readable: a learner linked to it is not pointing nowhere.
            if isinstance(item.smart_assessor_id, str):
                self.seen.add(item.smart_assessor_id.lower())
            return
        sa_id = item.smart_assessor_id.lower()
        if sa_id in self.seen:
            return
        self.seen.add(sa_id)
        named = self.by_ident.get(item.mis_learner_id.lower()) if item.mis_learner_id else None
        linked = self.learner_by_sa.get(sa_id)
        if linked is not None:
            self.names_of_linked[sa_id] = named
            if named is not None and named != linked:
                self.mismatched.append((self._finding(item), named, linked))
        else:
            finding = self._finding(item)
            finding.learner_id = named
            person = (folded(item.given_names), folded(item.family_name), item.date_of_birth)
            self.unlinked.append((finding, person))

    def _finding(self, item: SALearner) -> Finding:
        return Finding(
            report=self.report,
            sa_id=item.smart_assessor_id.lower(),
            sa_name=f"{item.given_names} {item.family_name}",
            sa_date_of_birth=item.date_of_birth,
            sa_uln=item.uln or "",
            sa_email=item.email or "",
            sa_mis_id=item.mis_learner_id or "",
            sa_postcode=item.address_post_code or "",
        )

    def findings(self) -> Iterator[Finding]:
        gone = {learner for sa_id, learner in self.learner_by_sa.items() if sa_id not in self.seen}
        for learner_id in sorted(gone):
            yield Finding(
                report=self.report,
                category=Category.LEARNER_GONE,
                sa_id=self.sa_by_learner[learner_id],
                learner_id=learner_id,
            )
        # Free to be linked: not linked (nor being enrolled), or linked to what is not there.
        free = frozenset(set(self.by_ident.values()) - self.enrolled) | gone
        yield from self._mismatched()
        for finding, person in self.unlinked:
            if finding.learner_id is not None:
                finding.category = Category.LEARNER_NAMED
                finding.linked_sa_id = self.sa_by_learner.get(finding.learner_id, "")
                if finding.learner_id in free:
                    finding.match = "its MIS id is this learner's ident"
                yield finding
                continue
            finding.category = Category.LEARNER_UNLINKED
            self._match(finding, person, free)
            yield finding

    def _mismatched(self) -> Iterator[Finding]:
        for finding, named, linked in self.mismatched:
            other_sa_id = self.sa_by_learner.get(named, "")
            finding.learner_id, finding.linked_learner_id = named, linked
            finding.linked_sa_id = other_sa_id
            if self.names_of_linked.get(other_sa_id) == linked:
                if finding.sa_id > other_sa_id:
                    continue  # the pair is one finding, listed from its lower SA id
                finding.category = Category.LEARNER_SWAPPED
                finding.note = "Each is linked to the SA learner whose MIS id names the other."
            else:
                finding.category = Category.LEARNER_NAMED
            yield finding

    def _match(self, finding: Finding, person: tuple, free: frozenset[int]) -> None:
        for reason, candidates in (
            ("same ULN", self.by_uln.get(finding.sa_uln, []) if finding.sa_uln else []),
            ("same names and date of birth", self.by_person.get(person, [])),
        ):
            match, count = _one(candidates, free)
            if match is not None:
                finding.learner_id, finding.match = match, reason
                return
            if count > 1:
                finding.note = f"{count} MIS learners have the {reason.removeprefix('same ')}."
                return


@dataclasses.dataclass(frozen=True)
class _RecordKind:
    """How the SA records of one kind (employers, assessors) meet the local ones."""

    categories: tuple[str, str, str]  # gone, named, unlinked
    links: Callable[[], Iterable[tuple[int, int]]]  # (local pk, SA id)
    owners: Callable[[], Iterable[tuple[int, str, list[str]]]]  # (pk, text, match keys)
    owner_field: str  # the finding's field naming the local record
    # (SA record) -> its keys, in the order of ``reasons``.
    sa_keys: Callable[[Any], list[str]]
    reasons: tuple[str, ...]
    describe: Callable[[Any], dict[str, Any]]


def _organisation_keys(name: str, postcode: str, edrs: str) -> list[str]:
    # The name compared as the enrolment preview compares it, so both call the same employers
    # likely duplicates.
    name_key = record_match.organisation_name_key(name)
    return [_digits(edrs), f"{name_key}|{_postcode_key(postcode)}" if name else ""]


_EMPLOYERS = _RecordKind(
    categories=(Category.EMPLOYER_GONE, Category.EMPLOYER_NAMED, Category.EMPLOYER_UNLINKED),
    links=lambda: OrganisationLink.objects.values_list("organisation_id", "employer_id"),
    owners=lambda: (
        (pk, str(pk), _organisation_keys(name, postcode, edrs))
        for pk, name, postcode, edrs in Organisation.objects.values_list(
            "pk", "name", "postcode", "edrs_number"
        )
    ),
    owner_field="organisation_id",
    sa_keys=lambda employer: _organisation_keys(
        employer.name, employer.address_post_code or "", employer.eds_id or ""
    ),
    reasons=("same EDRS number", "same name and postcode"),
    describe=lambda employer: {
        "sa_name": employer.name,
        "sa_mis_id": employer.mis_employer_id or "",
        "sa_eds_id": employer.eds_id or "",
        "sa_postcode": employer.address_post_code or "",
    },
)

_ASSESSORS = _RecordKind(
    categories=(Category.ASSESSOR_GONE, Category.ASSESSOR_NAMED, Category.ASSESSOR_UNLINKED),
    links=lambda: OfficerLink.objects.values_list("officer_id", "assessor_id"),
    owners=lambda: (
        (pk, str(pk), [email.strip().casefold()])
        for pk, email in Officer.objects.values_list("pk", "email")
    ),
    owner_field="officer_id",
    sa_keys=lambda assessor: [(assessor.email or "").strip().casefold()],
    reasons=("same email",),
    describe=lambda assessor: {
        "sa_name": f"{assessor.first_name} {assessor.last_name}",
        "sa_mis_id": assessor.mis_assessor_id or "",
        "sa_email": assessor.email or "",
    },
)


class _Comparison:
    """Smart Assessor's employers or assessors against the organisations or officers and their
    links: the MIS side loaded once, the SA side judged as it is read."""

    def __init__(self, report: Reconciliation, kind: _RecordKind):
        self.report, self.kind = report, kind
        self.seen: set[int] = set()
        self.sa_by_owner = dict(kind.links())
        self.linked = set(self.sa_by_owner.values())
        self.by_mis_id: dict[str, int] = {}
        self.by_key: list[dict[str, list[int]]] = [defaultdict(list) for _ in kind.reasons]
        for pk, mis_id, keys in kind.owners():
            self.by_mis_id[mis_id] = pk
            for index, key in enumerate(keys):
                if key:
                    self.by_key[index][key].append(pk)
        self.owner_by_sa = {sa_id: owner for owner, sa_id in self.sa_by_owner.items()}
        self.unlinked: list[tuple[Finding, list[str]]] = []
        # Linked SA records whose MIS id names another local record than the one linked.
        self.mismatched: list[Finding] = []

    def add(self, record: SAEmployer | SAAssessor) -> None:
        sa_id = record.smart_assessor_id
        if sa_id in self.seen:
            return
        self.seen.add(sa_id)
        finding = Finding(report=self.report, sa_id=str(sa_id), **self.kind.describe(record))
        if sa_id not in self.linked:
            self.unlinked.append((finding, self.kind.sa_keys(record)))
            return
        named = self.by_mis_id.get(finding.sa_mis_id) if finding.sa_mis_id else None
        linked = self.owner_by_sa[sa_id]
        if named is not None and named != linked:
            finding.category = self.kind.categories[1]
            setattr(finding, self.kind.owner_field, named)
            finding.note = f"It is linked to another record of the MIS (id {linked})."
            self.mismatched.append(finding)

    def findings(self) -> Iterator[Finding]:
        gone_category, named_category, unlinked_category = self.kind.categories
        gone = {owner for owner, sa_id in self.sa_by_owner.items() if sa_id not in self.seen}
        for owner in sorted(gone):
            yield Finding(
                report=self.report,
                category=gone_category,
                sa_id=str(self.sa_by_owner[owner]),
                **{self.kind.owner_field: owner},
            )
        free = frozenset(set(self.by_mis_id.values()) - set(self.sa_by_owner)) | gone
        yield from self.mismatched
        for finding, keys in self.unlinked:
            named = self.by_mis_id.get(finding.sa_mis_id) if finding.sa_mis_id else None
            if named is not None:
                finding.category = named_category
                setattr(finding, self.kind.owner_field, named)
                if named in free:
                    finding.match = "its MIS id is this record's id"
                yield finding
                continue
            finding.category = unlinked_category
            for reason, key, index in zip(self.kind.reasons, keys, self.by_key, strict=True):
                match, count = _one(index.get(key, []) if key else [], free)
                if match is not None:
                    setattr(finding, self.kind.owner_field, match)
                    finding.match = reason
                    break
                if count > 1:
                    finding.note = f"{count} local records have the {reason.removeprefix('same ')}."
                    break
            yield finding


# --- Linking from the report ------------------------------------------------------------------


def finding_link_permission(finding: Finding) -> str:
    """Who may press Link: Support for a learner (F12), an Integration admin for an employer
    or an assessor (the look-up's rule, F5 and F6)."""
    if finding.kind == "learner":
        return roles.SET_LEARNER_SA_ID
    return roles.MANAGE_INTEGRATION


def link_reason(report: Reconciliation) -> str:
    # Findings come from a built report; its request is the moment of one still building.
    built = report.finished_at or report.requested_at
    return f"Linked from the reconciliation report of {when(built)}"


def reconciliation_link(*, finding: Finding, actor: Actor) -> str:
    """Link the finding's likely match to its SA record, through the rules of a link made by
    hand (which check SA and audit it); returns what was done, in words."""
    report = finding.report
    if report.state != Reconciliation.State.SUCCEEDED:
        raise ApplicationError("This report has been replaced: open the latest one.")
    if finding.linked_at is not None:
        raise ApplicationError("This line was linked from the report already.")
    if not finding.match:
        raise ApplicationError(
            "This line has no likely match to link: link it by hand from the record's page."
        )
    if finding.kind == "learner" and finding.learner is not None:
        learner_sa_id_set(
            learner=finding.learner,
            sa_learner_id=finding.sa_id,
            reason=link_reason(report),
            actor=actor,
        )
        done = f"{finding.learner} is linked to Smart Assessor learner {finding.sa_id}."
    elif finding.organisation is not None:
        links.sa_link_set(
            kind=EMPLOYER,
            owner=finding.organisation,
            sa_id=int(finding.sa_id),
            actor=actor,
            reason=link_reason(report),
        )
        done = f"{finding.organisation} is linked to Smart Assessor employer {finding.sa_id}."
    elif finding.officer is not None:
        links.sa_link_set(
            kind=ASSESSOR,
            owner=finding.officer,
            sa_id=int(finding.sa_id),
            actor=actor,
            reason=link_reason(report),
        )
        done = f"{finding.officer} is linked to Smart Assessor assessor {finding.sa_id}."
    else:
        raise ApplicationError("This line has no local record to link.")
    Finding.objects.filter(pk=finding.pk).update(
        linked_at=timezone.now(), linked_by=actor_user(actor)
    )
    return done
