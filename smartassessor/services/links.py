"""Links between MIS records and Smart Assessor records (F4, F5, F6) and the review mapping."""

import logging
import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from learners.models import Officer, Organisation, Qualification, ReviewType
from picsweb.errors import ApplicationError

from ..audit import audit_record
from ..client import NotFound, RateLimited, SmartAssessorError, Transient
from ..connection import client_from_settings
from ..models import (
    LinkRefresh,
    OfficerLink,
    OrganisationLink,
    QualificationLink,
    ReviewTypeMapping,
)

logger = logging.getLogger(__name__)


def reference_normalise(code: str) -> str:
    """The contract's matching rule (§7.1): without '/', spaces and letter case."""
    return re.sub(r"[/\s]", "", code).upper()


def link_refresh_request(*, actor) -> LinkRefresh:
    """Store a refresh request and queue it once the transaction commits."""
    from ..tasks import refresh_qualification_links

    refresh = LinkRefresh.objects.create(requested_by=actor)
    refresh_qualification_links.delay_on_commit(refresh.pk)
    return refresh


def _active_courses_by_reference() -> dict:
    return {
        reference_normalise(course.qan_code): course
        for course in client_from_settings().course_list(page_size=500)
        if course.is_active
    }


def _refresh_failed(refresh: LinkRefresh, exc: Exception) -> LinkRefresh:
    LinkRefresh.objects.filter(pk=refresh.pk).update(
        state=LinkRefresh.State.FAILED, error=str(exc), finished_at=timezone.now()
    )
    refresh.refresh_from_db()
    return refresh


class TryAgainLater(Exception):
    """Smart Assessor could not be reached; the refresh is queued again."""


def qualification_links_refresh(*, refresh: LinkRefresh, last_try: bool = True) -> LinkRefresh:
    """Link each qualification to the active SA course with its normalised reference.

    Links that no longer match are cleared. The counts are stored on the refresh row. Unless
    it is the last try, an unreachable Smart Assessor raises ``TryAgainLater``.
    """
    claimed = LinkRefresh.objects.filter(
        pk=refresh.pk, state__in=[LinkRefresh.State.QUEUED, LinkRefresh.State.RUNNING]
    ).update(state=LinkRefresh.State.RUNNING)
    if claimed != 1:
        return refresh
    try:
        courses = _active_courses_by_reference()
    except (Transient, RateLimited) as exc:
        if not last_try:
            LinkRefresh.objects.filter(pk=refresh.pk).update(
                state=LinkRefresh.State.QUEUED, error=f"{exc}; trying again shortly."
            )
            raise TryAgainLater(str(exc)) from exc
        return _refresh_failed(refresh, exc)
    except (SmartAssessorError, ApplicationError) as exc:
        return _refresh_failed(refresh, exc)

    counts = {"linked": 0, "unlinked": 0, "unchanged": 0}
    with transaction.atomic():
        current = {
            link.qualification_id: (link.course_id, link.course_title)
            for link in QualificationLink.objects.all()
        }
        stale: list[int] = []
        new_links: list[QualificationLink] = []
        taken_courses: set[int] = set()
        for qualification in Qualification.objects.only("id", "reference").order_by("id"):
            course = courses.get(reference_normalise(qualification.reference))
            # Two local references may normalise alike; the course goes to the first.
            target = None
            if course and course.smart_assessor_id not in taken_courses:
                taken_courses.add(course.smart_assessor_id)
                target = (course.smart_assessor_id, course.qualification_title)
            before = current.get(qualification.pk)
            if before == target:
                counts["unchanged"] += 1
                continue
            counts["unlinked" if target is None else "linked"] += 1
            if before is not None:
                stale.append(qualification.pk)
            if target is not None:
                new_links.append(
                    QualificationLink(
                        qualification=qualification, course_id=target[0], course_title=target[1]
                    )
                )
        QualificationLink.objects.filter(qualification_id__in=stale).delete()
        QualificationLink.objects.bulk_create(new_links)
        LinkRefresh.objects.filter(pk=refresh.pk).update(
            state=LinkRefresh.State.SUCCEEDED, finished_at=timezone.now(), error="", **counts
        )
    logger.info("Qualification links refreshed: %s", counts)
    refresh.refresh_from_db()
    return refresh


def _link_set(*, link_model, owner_field: str, owner, id_field: str, sa_id: int, fetch, actor):
    try:
        sa_record = fetch(sa_id)
    except NotFound:
        raise ApplicationError(f"Smart Assessor has no record with id {sa_id}.") from None
    except SmartAssessorError as exc:
        raise ApplicationError(f"Smart Assessor could not be asked: {exc}") from exc
    with transaction.atomic():
        taken = (
            link_model.objects.select_related(owner_field)
            .filter(**{id_field: sa_id})
            .exclude(**{owner_field: owner})
            .first()
        )
        if taken:
            raise ApplicationError(
                f"Smart Assessor id {sa_id} is already linked to {getattr(taken, owner_field)}."
            )
        link = link_model.objects.filter(**{owner_field: owner}).first()
        old = getattr(link, id_field) if link else None
        if old == sa_id:
            return sa_record
        if link is None:
            link = link_model(**{owner_field: owner})
        setattr(link, id_field, sa_id)
        link.linked_by = actor
        try:
            with transaction.atomic():
                link.save()
        except IntegrityError:
            raise ApplicationError(
                f"Smart Assessor id {sa_id} was linked to another record a moment ago."
            ) from None
        audit_record(
            actor=actor,
            action="Smart Assessor link set",
            instance=owner,
            changes={id_field: (old, sa_id)},
        )
    return sa_record


def officer_link_set(*, officer: Officer, assessor_id: int, actor):
    """Link an officer to an existing SA assessor (F5); returns the SA assessor."""
    client = client_from_settings()
    return _link_set(
        link_model=OfficerLink,
        owner_field="officer",
        owner=officer,
        id_field="assessor_id",
        sa_id=assessor_id,
        fetch=lambda sa_id: client.assessor_get(assessor_id=sa_id),
        actor=actor,
    )


def organisation_link_set(*, organisation: Organisation, employer_id: int, actor):
    """Link an organisation to an existing SA employer (F6); returns the SA employer."""
    client = client_from_settings()
    return _link_set(
        link_model=OrganisationLink,
        owner_field="organisation",
        owner=organisation,
        id_field="employer_id",
        sa_id=employer_id,
        fetch=lambda sa_id: client.employer_get(employer_id=sa_id),
        actor=actor,
    )


def review_type_mapping_save(
    *, mapping: dict[str, ReviewType | None], names: dict[str, str], actor
):
    """Store each SA event type's review type (None: ignore), auditing what changed."""
    with transaction.atomic():
        existing = {row.event_type_code: row for row in ReviewTypeMapping.objects.all()}
        for code, review_type in mapping.items():
            row = existing.get(code) or ReviewTypeMapping(event_type_code=code)
            old = row.review_type if row.pk else None
            row.event_type_name = names.get(code, row.event_type_name)
            row.review_type = review_type
            row.save()
            if old != review_type:
                audit_record(
                    actor=actor,
                    action="review type mapping changed",
                    instance=row,
                    changes={"review_type": (old, review_type)},
                )


def event_types_fetch():
    """SA's event types, for the review type mapping."""
    return client_from_settings().event_type_list()


def assessors_search(*, search: str | None, page: int, page_size: int):
    """One page of SA assessors for the look-up window (F5)."""
    return client_from_settings().assessor_page(search=search, page=page, page_size=page_size)


def employers_search(*, search: str | None, page: int, page_size: int):
    """One page of SA employers for the look-up window (F6)."""
    return client_from_settings().employer_page(search=search, page=page, page_size=page_size)
