"""What the enrolment preview says of the employer and assessors (F8), asked of Smart Assessor
when a person opens it.

Each unlinked record is looked up as the enrolment will look it up (``sa_record_ensure``): the
SA record with its MIS id, found with the exact filter; when there is none, a new record will be
created, and one ``Search`` looks for a likely duplicate that a person should link first. So a
record costs at most two calls of one page each, made with the glance client (one try, short
timeouts). Answers are kept in the cache for a minute, per account and record, so reopening the
preview asks nothing. When Smart Assessor cannot be asked, the preview says so and can still be
confirmed: the enrolment looks the records up again.
"""

import dataclasses
import hashlib
import time

from django.core.cache import cache

from learners.models import Learner
from picsweb.errors import ApplicationError

from .. import record_match
from ..client import Assessor, Employer, SmartAssessorClient, account_fingerprint
from ..connection import client_from_settings
from ..errors import smart_assessor_errors
from ..models import IntegrationSettings
from ..selectors.enrolment_preview import (
    PartyLookup,
    Preview,
    PreviewParty,
    SARecordSeen,
    enrolment_preview,
)
from ..selectors.links import sa_link_taken

LOOKUP_CACHE_SECONDS = 60
# However slowly Smart Assessor answers, the preview asks no more once this much time is spent:
# the records not asked yet are looked up at enrolment.
LOOKUP_BUDGET_SECONDS = 4.0
SLOW = "it answered too slowly for every record to be asked now"
# A duplicate is searched by postcode or email: a page this size holds every plausible match.
DUPLICATE_SEARCH_PAGE_SIZE = 50


def enrolment_preview_looked_up(*, learner: Learner) -> Preview:
    """The learner's preview, its unlinked employer and assessors looked up in Smart Assessor."""
    preview = enrolment_preview(learner=learner)
    return dataclasses.replace(preview, parties=preview_parties_look_up(parties=preview.parties))


def preview_parties_look_up(*, parties: tuple[PreviewParty, ...]) -> tuple[PreviewParty, ...]:
    """The parties with what Smart Assessor holds of each unlinked one.

    Once one look-up fails the others are not tried: Smart Assessor down would otherwise keep
    the person waiting once for each record.
    """
    if all(party.sa_id for party in parties):
        return parties
    try:
        client = client_from_settings(glance=True)
    except ApplicationError as exc:
        unasked = PartyLookup(failure=exc.message)
        return tuple(party if party.sa_id else _seen_with(party, unasked) for party in parties)
    account = _account()
    failure: PartyLookup | None = None
    looked_up = []
    started, asked = time.monotonic(), False
    for party in parties:
        if party.sa_id:
            looked_up.append(party)
            continue
        key = _cache_key(party, account)
        lookup: PartyLookup | None = failure or cache.get(key)
        if lookup is None and asked and time.monotonic() - started > LOOKUP_BUDGET_SECONDS:
            lookup = failure = PartyLookup(failure=SLOW)
        if lookup is None:
            asked = True
            try:
                with smart_assessor_errors():
                    lookup = _ask(client, party)
            except ApplicationError as exc:
                lookup = failure = PartyLookup(failure=exc.message)
            else:
                cache.set(key, lookup, LOOKUP_CACHE_SECONDS)
        looked_up.append(_seen_with(party, lookup))
    return tuple(looked_up)


def _account() -> str:
    settings = IntegrationSettings.load()
    return account_fingerprint(
        base_url=settings.base_url, username=settings.username, client_key=settings.client_key
    )


def _cache_key(party: PreviewParty, account: str) -> str:
    # The local values the duplicate check compares are part of the key: after a person fixes
    # the postcode or the email, the preview asks again.
    compared = "\x1f".join(record_match.duplicate_compared_values(party.record))
    digest = hashlib.sha256(compared.encode()).hexdigest()[:16]
    return f"smartassessor:preview-lookup:{account}:{party.kind.sa_name}:{party.record.pk}:{digest}"


def _ask(client: SmartAssessorClient, party: PreviewParty) -> PartyLookup:
    kind, owner = party.kind, party.record
    found = kind.find_by_mis_id(client, str(owner.pk)).items
    if found:
        return PartyLookup(found=_seen(found[0]))
    search = record_match.duplicate_search_text(owner)
    if search is None:
        return PartyLookup()
    candidates = kind.search(client, search, 1, DUPLICATE_SEARCH_PAGE_SIZE).items
    return PartyLookup(
        duplicates=tuple(
            _seen(candidate)
            for candidate in candidates
            if record_match.is_likely_duplicate(owner, candidate)
        )
    )


def _seen(sa_record: Employer | Assessor) -> SARecordSeen:
    return SARecordSeen(
        sa_id=sa_record.smart_assessor_id,
        name=record_match.sa_record_name(sa_record),
        identified_by=record_match.sa_record_identified_by(sa_record),
        mis_id=record_match.sa_record_mis_id(sa_record),
    )


def _seen_with(party: PreviewParty, lookup: PartyLookup) -> PreviewParty:
    """The party with its look-up, and whether the SA record found is another's already: read
    now, not cached, as links change at any time."""
    if lookup.found is not None:
        taken = sa_link_taken(kind=party.kind, owner=party.record, sa_id=lookup.found.sa_id)
        if taken is not None:
            other = getattr(taken, party.kind.owner_field)
            lookup = dataclasses.replace(lookup, found_linked_to=str(other))
    return dataclasses.replace(party, lookup=lookup)
