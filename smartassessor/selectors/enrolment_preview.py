"""Create in Smart Assessor's preview (F8): what will be sent, and everything that blocks it.

A read: requesting an enrolment stores the same preview's payload, and refuses while it has
problems. What Smart Assessor holds of the employer and assessors is asked by
``services.party_lookup`` when a person opens the preview, never when an enrolment is requested.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from learners.models import (
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Officer,
    Organisation,
    Placement,
)
from learners.validators import uln_is_valid

from ..linked_records import ASSESSOR, EMPLOYER, LinkedRecordKind
from ..models import Enrolment, IntegrationSettings


@dataclasses.dataclass(frozen=True)
class Problem:
    message: str
    # The form at the field to fix (its anchor), returning to the Delivery Plan once saved.
    fix_url: str


def _fix_url(form_url: str, learner: Learner, field: str = "") -> str:
    """A form's address that opens at ``field`` (Django's ``id_<name>``) and comes back to
    the learner's Delivery Plan after saving."""
    back = urlencode({"next": learner.get_absolute_url()})
    return f"{form_url}?{back}" + (f"#id_{field}" if field else "")


@dataclasses.dataclass(frozen=True)
class PreviewQualification:
    learner_qualification: LearnerQualification
    course_id: int | None

    @property
    def available(self) -> bool:
        return self.course_id is not None


@dataclasses.dataclass(frozen=True)
class SARecordSeen:
    """An SA employer or assessor as the preview names it."""

    sa_id: int
    name: str
    # What a person tells it by beside its name: a postcode, an email.
    identified_by: str
    mis_id: str | None


@dataclasses.dataclass(frozen=True)
class PartyLookup:
    """What Smart Assessor said of an unlinked employer or assessor when the preview opened."""

    found: SARecordSeen | None = None
    duplicates: tuple[SARecordSeen, ...] = ()
    # Why Smart Assessor could not be asked; empty when it answered.
    failure: str = ""
    # The local record that the SA record found is linked to already: adopting it would stop
    # the enrolment (the rule of "Adopting what already exists").
    found_linked_to: str = ""


@dataclasses.dataclass(frozen=True)
class PreviewParty:
    """The employer or an assessor: linked already, or looked up and linked or created."""

    role: str
    record: Organisation | Officer
    sa_id: int | None
    # None until Smart Assessor is asked (never for a linked record).
    lookup: PartyLookup | None = None

    @property
    def kind(self) -> LinkedRecordKind:
        return EMPLOYER if isinstance(self.record, Organisation) else ASSESSOR

    @property
    def outcome(self) -> str:
        sa_name = self.kind.sa_name
        if self.sa_id:
            return f"Linked to Smart Assessor {sa_name} {self.sa_id}"
        lookup = self.lookup
        if lookup is None:
            return (
                f"Linked to the Smart Assessor {sa_name} with its MIS id if there is one, "
                "else created"
            )
        if lookup.failure:
            return (
                f"Smart Assessor could not be asked ({lookup.failure.rstrip('.')}); the "
                f"{sa_name} will be looked up again at enrolment"
            )
        found = lookup.found
        if found is None:
            return f"Will create a new Smart Assessor {sa_name}"
        if lookup.found_linked_to:
            return (
                f"Smart Assessor {sa_name} {found.sa_id} {found.name} carries its MIS id but is "
                f"linked to {lookup.found_linked_to}: the enrolment will stop until support "
                "checks the links"
            )
        return (
            f"Will link to Smart Assessor {sa_name} {found.sa_id} {found.name} "
            "(found by its MIS id)"
        )

    @property
    def duplicate_warnings(self) -> list[str]:
        sa_name = self.kind.sa_name
        return [
            f"Smart Assessor already has {sa_name} {duplicate.sa_id} {duplicate.name}"
            f"{', ' + duplicate.identified_by if duplicate.identified_by else ''}, with "
            f"{'another' if duplicate.mis_id else 'no'} MIS id: link it by Look Up on the "
            f"{self.record._meta.verbose_name}'s page before enrolling, or a second {sa_name} "
            "will be created."
            for duplicate in (self.lookup.duplicates if self.lookup else ())
        ]


@dataclasses.dataclass(frozen=True)
class Preview:
    learner: Learner
    qualifications: tuple[PreviewQualification, ...]
    parties: tuple[PreviewParty, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]
    current: Enrolment | None

    @property
    def can_confirm(self) -> bool:
        return not self.problems and self.current is None

    @property
    def lookup_failed(self) -> bool:
        """Whether Smart Assessor could not be asked of an unlinked employer or assessor."""
        return any(party.lookup is not None and party.lookup.failure for party in self.parties)

    @property
    def available_references(self) -> list[str]:
        """The references of the qualifications Smart Assessor has a course for."""
        return [
            q.learner_qualification.qualification.reference
            for q in self.qualifications
            if q.available
        ]


def _course_id(learner_qualification: LearnerQualification) -> int | None:
    link = getattr(learner_qualification.qualification, "smartassessor_link", None)
    return link.course_id if link else None


def _age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def enrolment_preview(*, learner: Learner) -> Preview:
    """What Create in Smart Assessor will send, and everything that blocks it."""
    return enrolment_previews(learners=[learner])[0]


def enrolment_previews(*, learners: Iterable[Learner]) -> list[Preview]:
    """The previews of several learners (Bulk Create), in their order, read together: the
    same few queries for 3 learners as for 40."""
    learners = list(learners)
    settings = IntegrationSettings.load()
    second_roles = (
        LearnerOfficerRole.objects.filter(role_id=settings.second_assessor_role_id)
        if settings.second_assessor_role_id is not None
        else LearnerOfficerRole.objects.none()
    ).select_related("officer__smartassessor_link")
    loaded = Learner.objects.select_related("main_officer__smartassessor_link").prefetch_related(
        Prefetch(
            "qualifications",
            LearnerQualification.objects.select_related(
                "qualification__smartassessor_link"
            ).order_by("start_date", "id"),
        ),
        Prefetch(
            "placements",
            Placement.objects.current()
            .select_related("organisation__smartassessor_link")
            .order_by("-start_date", "-id"),
            to_attr="preview_current_placements",
        ),
        Prefetch("officer_roles", second_roles, to_attr="preview_second_roles"),
        Prefetch(
            "smartassessor_enrolments",
            Enrolment.objects.filter(is_current=True),
            to_attr="preview_current_enrolments",
        ),
    )
    by_pk = loaded.in_bulk([learner.pk for learner in learners])
    return [_preview(by_pk[learner.pk], settings) for learner in learners]


def _first_prefetched(learner: Learner, to_attr: str) -> Any:
    """The first of the rows ``enrolment_previews`` prefetched into ``to_attr``, or None."""
    rows = getattr(learner, to_attr)
    return rows[0] if rows else None


def _preview(learner: Learner, settings: IntegrationSettings) -> Preview:
    """One learner's preview, from the related rows ``enrolment_previews`` read."""
    edit = reverse("learners:learner_edit", args=[learner.ident])
    problems: list[Problem] = []
    warnings: list[str] = []

    if not learner.email:
        problems.append(
            Problem(
                "The learner has no email address; it is their Smart Assessor login.",
                _fix_url(edit, learner, "email"),
            )
        )
    if not learner.date_of_birth:
        problems.append(
            Problem("The learner has no date of birth.", _fix_url(edit, learner, "date_of_birth"))
        )
    elif not 14 <= _age_on(learner.date_of_birth, timezone.localdate()) <= 100:
        problems.append(
            Problem(
                "Smart Assessor accepts learners aged 14 to 100: check the date of birth.",
                _fix_url(edit, learner, "date_of_birth"),
            )
        )
    if learner.uln and not uln_is_valid(learner.uln):
        problems.append(Problem("The ULN's check digit is wrong.", _fix_url(edit, learner, "uln")))
    for label, name, value, limit in (
        ("First name", "first_name", learner.first_name, 50),
        ("Surname", "surname", learner.surname, 50),
    ):
        if len(value.strip()) > limit:
            problems.append(
                Problem(
                    f"{label} is longer than Smart Assessor's {limit} characters.",
                    _fix_url(edit, learner, name),
                )
            )

    qualifications = tuple(
        PreviewQualification(lq, _course_id(lq)) for lq in learner.qualifications.all()
    )
    if not any(q.available for q in qualifications):
        problems.append(
            Problem(
                "None of the learner's qualifications is available in Smart Assessor: add one "
                "that is, or ask an Integration admin to refresh the qualification links.",
                _fix_url(
                    reverse("learners:learner_qualification_add", args=[learner.ident]),
                    learner,
                    "qualification",
                ),
            )
        )

    parties: list[PreviewParty] = []
    placement: Placement | None = _first_prefetched(learner, "preview_current_placements")
    if placement is None:
        warnings.append(
            "The learner has no current placement: they will be enrolled without an employer."
        )
    else:
        organisation = placement.organisation
        parties.append(PreviewParty("Employer", organisation, EMPLOYER.sa_id_of(organisation)))
    main_officer = learner.main_officer
    if main_officer is None:
        warnings.append(
            "The learner has no main officer: they will be enrolled without an assessor."
        )
    else:
        parties.append(PreviewParty("Assessor", main_officer, ASSESSOR.sa_id_of(main_officer)))
    second_role: LearnerOfficerRole | None = _first_prefetched(learner, "preview_second_roles")
    second = second_role.officer if second_role else None
    if second is not None:
        if main_officer is not None and second.pk == main_officer.pk:
            warnings.append(
                "The second assessor is also the main officer: sent once, as primary assessor."
            )
        else:
            parties.append(PreviewParty("Second assessor", second, ASSESSOR.sa_id_of(second)))
    for party in parties:
        if isinstance(party.record, Officer) and not party.sa_id and not party.record.email:
            problems.append(
                Problem(
                    f"{party.role} {party.record} has no email address, which Smart Assessor "
                    "needs to create them as an assessor.",
                    _fix_url(
                        reverse("learners:officer_edit", args=[party.record.pk]), learner, "email"
                    ),
                )
            )

    current: Enrolment | None = _first_prefetched(learner, "preview_current_enrolments")
    return Preview(
        learner, qualifications, tuple(parties), tuple(problems), tuple(warnings), current
    )
