"""Links between MIS records and Smart Assessor records (F4, F5, F6) and the review mapping."""

import datetime as dt
import logging
import re
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from learners.models import Qualification, ReviewType
from picsweb.errors import ApplicationError
from picsweb.task_queue import queue_on_commit

from ..audit import Actor, actor_user, audit_record
from ..client import EventType, Page, RateLimited, SmartAssessorError, Transient
from ..connection import client_from_settings
from ..errors import smart_assessor_errors, unexpected_error_text
from ..linked_records import LinkedRecordKind, Owner
from ..models import LinkRefresh, QualificationLink, ReviewTypeMapping
from ..selectors.links import sa_link_taken

logger = logging.getLogger(__name__)


def reference_normalise(code: str) -> str:
    """The contract's matching rule (§7.1): without '/', spaces and letter case."""
    return re.sub(r"[/\s]", "", code).upper()


# A refresh is claimed by one worker at a time, for a lease renewed while it works; one whose
# worker is gone is taken over when the lease runs out, and each claim is an attempt.
LINK_REFRESH_ATTEMPTS = 5
LEASE = dt.timedelta(minutes=2)
# A queued refresh no worker has taken is sent again after this; after the longer wait it fails.
REQUEUE_AFTER = dt.timedelta(minutes=1)
GIVE_UP_AFTER = dt.timedelta(minutes=30)


def link_refresh_request(*, actor: Actor) -> LinkRefresh:
    """Store a refresh request and queue it once the transaction commits."""
    from ..tasks import refresh_qualification_links

    refresh = LinkRefresh.objects.create(
        requested_by=actor_user(actor), lease_until=timezone.now() + REQUEUE_AFTER
    )
    queue_on_commit(refresh_qualification_links, refresh.pk)
    return refresh


class _LeaseLost(Exception):
    """Another worker took the refresh over; this one stops without writing."""


class _Claim:
    """This worker's hold on a refresh: the attempt it claimed, which only it may write."""

    def __init__(self, refresh: LinkRefresh, attempt: int):
        self.refresh = refresh
        self.attempt = attempt

    def rows(self) -> QuerySet[LinkRefresh]:
        return LinkRefresh.objects.filter(
            pk=self.refresh.pk, state=LinkRefresh.State.RUNNING, attempts=self.attempt
        )

    def renew(self) -> None:
        if self.rows().update(lease_until=timezone.now() + LEASE) != 1:
            raise _LeaseLost

    def end(self, **fields: Any) -> None:
        if self.rows().update(lease_until=None, **fields) != 1:
            raise _LeaseLost


def _claim(refresh: LinkRefresh) -> _Claim | None:
    """Claim the refresh if it is queued, or running with its lease run out: one conditional
    UPDATE that changes exactly one row, so two deliveries of the task never both run it."""
    now = timezone.now()
    claimed = (
        LinkRefresh.objects.filter(pk=refresh.pk, attempts__lt=LINK_REFRESH_ATTEMPTS)
        .filter(
            Q(state=LinkRefresh.State.QUEUED)
            | Q(state=LinkRefresh.State.RUNNING, lease_until__lt=now)
            # Running without a lease: left by a worker from before leases.
            | Q(state=LinkRefresh.State.RUNNING, lease_until__isnull=True)
        )
        .update(
            state=LinkRefresh.State.RUNNING, lease_until=now + LEASE, attempts=F("attempts") + 1
        )
    )
    if claimed != 1:
        return None
    refresh.refresh_from_db()
    return _Claim(refresh, refresh.attempts)


def _active_courses_by_reference(claim: _Claim) -> dict:
    courses = {}
    for number, course in enumerate(client_from_settings().course_list(page_size=500), 1):
        if course.is_active:
            courses[reference_normalise(course.qan_code)] = course
        if number % 500 == 0:
            claim.renew()
    claim.renew()
    return courses


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


class TryAgainLater(Exception):
    """Smart Assessor could not be reached, or the attempt stopped on an unexpected error; the
    refresh is queued again, to be run after ``countdown`` seconds."""

    def __init__(self, message: str, *, countdown: int):
        super().__init__(message)
        self.countdown = countdown


def _attempt_failed(claim: _Claim, message: str, *, last_try: bool) -> LinkRefresh:
    """Queue the refresh again (``TryAgainLater``), or fail it after the last attempt."""
    refresh = claim.refresh
    if last_try or claim.attempt >= LINK_REFRESH_ATTEMPTS:
        claim.end(
            state=LinkRefresh.State.FAILED,
            error=f"{message} Request another refresh; if it fails again, tell support.",
            finished_at=timezone.now(),
        )
        refresh.refresh_from_db()
        return refresh
    countdown = 5 * 2 ** (claim.attempt - 1)
    claim.end(
        state=LinkRefresh.State.QUEUED,
        error=f"Attempt {claim.attempt} of {LINK_REFRESH_ATTEMPTS}: {message} Trying again "
        "shortly.",
    )
    # The sweeper sends it again only if the retry is lost.
    LinkRefresh.objects.filter(pk=refresh.pk, state=LinkRefresh.State.QUEUED).update(
        lease_until=timezone.now() + dt.timedelta(seconds=countdown) + REQUEUE_AFTER
    )
    raise TryAgainLater(message, countdown=countdown)


def qualification_links_refresh(*, refresh: LinkRefresh, last_try: bool = True) -> LinkRefresh:
    """Link each qualification to the active SA course with its normalised reference.

    Links that no longer match are cleared. The counts are stored on the refresh row. Whatever
    stops an attempt is stored on the row; unless it is the last try (given, or the last of
    ``LINK_REFRESH_ATTEMPTS``) the refresh is queued again and ``TryAgainLater`` raised.
    """
    claim = _claim(refresh)
    if claim is None:
        refresh.refresh_from_db()
        return refresh
    try:
        try:
            return _refresh_links(claim)
        except _LeaseLost:
            raise
        except (SmartAssessorError, ApplicationError) as exc:
            # Only an outage is worth another try; a refusal or a bad setting would be the same.
            retry = isinstance(exc, (Transient, RateLimited))
            return _attempt_failed(claim, _sentence(str(exc)), last_try=last_try or not retry)
        except Exception as exc:
            logger.exception("Link refresh %s stopped on an unexpected error", refresh.pk)
            return _attempt_failed(
                claim,
                f"The refresh stopped on an unexpected error ({unexpected_error_text(exc)}).",
                last_try=last_try,
            )
    except _LeaseLost:
        logger.warning("Link refresh %s was taken over by another worker.", refresh.pk)
        refresh.refresh_from_db()
        return refresh


def link_refreshes_sweep() -> int:
    """Send again the refreshes whose task was lost (a restart, a killed worker) and fail the
    ones that cannot finish: a worker stopped on every attempt, or none took it for too long.
    Every row it touches has moved on: it never sends the same refresh for ever."""
    from ..tasks import refresh_qualification_links

    now = timezone.now()
    queued, running = LinkRefresh.State.QUEUED, LinkRefresh.State.RUNNING
    gave_up = LinkRefresh.objects.filter(state=queued, requested_at__lt=now - GIVE_UP_AFTER).update(
        state=LinkRefresh.State.FAILED,
        finished_at=now,
        lease_until=None,
        error=f"No worker finished this refresh within {GIVE_UP_AFTER.seconds // 60} minutes: "
        "check that the background worker is running, then request another refresh.",
    )
    died = LinkRefresh.objects.filter(state=running).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    )
    failed = died.filter(attempts__gte=LINK_REFRESH_ATTEMPTS).update(
        state=LinkRefresh.State.FAILED,
        finished_at=now,
        lease_until=None,
        error=f"The refresh stopped without finishing on each of its {LINK_REFRESH_ATTEMPTS} "
        "attempts (its worker was stopped). Request another refresh; if it fails again, tell "
        "support.",
    )
    lost = LinkRefresh.objects.filter(state=queued).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, requested_at__lt=now - REQUEUE_AFTER)
    )
    resent = list(lost.values_list("pk", flat=True))
    lost.filter(pk__in=resent).update(lease_until=now + REQUEUE_AFTER)
    for pk, attempts in list(died.values_list("pk", "attempts")):
        # Conditional: the worker may have come back and finished in the meantime.
        if LinkRefresh.objects.filter(pk=pk, state=running, attempts=attempts).update(
            state=queued,
            lease_until=now + REQUEUE_AFTER,
            error=f"Attempt {attempts} of {LINK_REFRESH_ATTEMPTS} stopped without finishing "
            "(its worker was stopped). Trying again.",
        ):
            resent.append(pk)
    for pk in resent:
        queue_on_commit(refresh_qualification_links, pk)
    return gave_up + failed + len(resent)


def _refresh_links(claim: _Claim) -> LinkRefresh:
    refresh = claim.refresh
    courses = _active_courses_by_reference(claim)

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
        # Inside the transaction: a worker that lost its claim writes no links either.
        claim.end(state=LinkRefresh.State.SUCCEEDED, finished_at=timezone.now(), error="", **counts)
    logger.info("Qualification links refreshed: %s", counts)
    refresh.refresh_from_db()
    return refresh


def sa_link_set(
    *, kind: LinkedRecordKind, owner: Owner, sa_id: int, actor: Actor, reason: str = ""
) -> Any:
    """Link a local record to an existing SA record of its kind (F5, F6); returns that record.
    ``reason`` goes with the audit entry (the report a link was made from, say)."""
    client = client_from_settings()
    with smart_assessor_errors(
        prefix="Smart Assessor could not be asked: ",
        not_found=f"Smart Assessor has no record with id {sa_id}.",
    ):
        sa_record = kind.get(client, sa_id)
    with transaction.atomic():
        taken = sa_link_taken(kind=kind, owner=owner, sa_id=sa_id)
        if taken:
            raise ApplicationError(
                f"Smart Assessor id {sa_id} is already linked to "
                f"{getattr(taken, kind.owner_field)}."
            )
        link = kind.link_model.objects.filter(**{kind.owner_field: owner}).first()
        old = getattr(link, kind.sa_id_field) if link else None
        if old == sa_id:
            return sa_record
        if link is None:
            link = kind.link_model(**{kind.owner_field: owner})
        setattr(link, kind.sa_id_field, sa_id)
        link.linked_by = actor_user(actor)
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
            changes={kind.sa_id_field: (old, sa_id)},
            reason=reason,
        )
    return sa_record


def sa_records_search(
    *, kind: LinkedRecordKind, search: str | None, page: int, page_size: int
) -> Page[Any]:
    """One page of SA records of that kind, for the look-up window (F5, F6)."""
    client = client_from_settings()
    with smart_assessor_errors():
        return kind.search(client, search, page, page_size)


def review_type_mapping_save(
    *,
    mapping: dict[str, ReviewType | None],
    names: dict[str, str],
    actor: Actor,
    not_mapped: Iterable[str] = (),
) -> None:
    """Store each SA event type's review type (None: ignore), and forget those ``not_mapped``
    again, auditing what changed."""
    with transaction.atomic():
        existing = {row.event_type_code: row for row in ReviewTypeMapping.objects.all()}
        for code in not_mapped:
            if code in existing:
                row = existing[code]
                audit_record(
                    actor=actor,
                    action="review type mapping changed",
                    instance=row,
                    changes={"review_type": (row.review_type, "not mapped")},
                )
                row.delete()
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


def event_types_fetch(*, glance: bool = False) -> tuple[EventType, ...]:
    """SA's event types, for the review type mapping; with ``glance``, asked once with short
    timeouts (a page part a person waits on)."""
    client = client_from_settings(glance=glance)
    with smart_assessor_errors():
        return client.event_type_list()
