"""A local record linked to a Smart Assessor record: an officer to an assessor (F5), an
organisation to an employer (F6).

Each kind is described once, here, and read by everything that handles such links: enrolment
(find, create or adopt the SA record), the links service (link by hand, search), the panels on
the officer's and organisation's pages and the look-up window.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, TypeAlias

from learners.models import Officer, Organisation

from . import mapping
from .client import Page, SmartAssessorClient
from .models import OfficerLink, OrganisationLink

# The local records that are linked, and their links: named, so that their managers and fields
# are known wherever a kind's model is used.
Owner: TypeAlias = Officer | Organisation
Link: TypeAlias = OfficerLink | OrganisationLink


@dataclasses.dataclass(frozen=True)
class LinkedRecordKind:
    """How one kind of local record is linked to its SA record, and how SA is asked about it."""

    # What Smart Assessor calls its record, as people read it ("assessor").
    sa_name: str
    owner_model: type[Officer] | type[Organisation]
    link_model: type[OfficerLink] | type[OrganisationLink]
    # The link's field naming the local record, and the one holding the SA id.
    owner_field: str
    sa_id_field: str
    # The SA records carrying a local record's MIS id (at most one expected).
    find_by_mis_id: Callable[[SmartAssessorClient, str], Page[Any]]
    get: Callable[[SmartAssessorClient, int], Any]
    # (client, payload, idempotency key) -> the created SA record.
    create: Callable[[SmartAssessorClient, Any, str], Any]
    # (client, search text, page, page size) -> one page of SA records for the look-up window.
    search: Callable[[SmartAssessorClient, str | None, int, int], Page[Any]]
    # The local record as the contract's payload.
    payload: Callable[[Any], Any]
    lookup_url_name: str

    def sa_id_of(self, owner: Owner) -> int | None:
        """The SA id of the owner's link (loaded with the owner, or read now), None if unlinked."""
        link = getattr(owner, "smartassessor_link", None)
        return getattr(link, self.sa_id_field) if link else None


ASSESSOR = LinkedRecordKind(
    sa_name="assessor",
    owner_model=Officer,
    link_model=OfficerLink,
    owner_field="officer",
    sa_id_field="assessor_id",
    find_by_mis_id=lambda client, mis_id: client.assessor_page(mis_assessor_id=mis_id, page_size=1),
    get=lambda client, sa_id: client.assessor_get(assessor_id=sa_id),
    create=lambda client, payload, key: client.assessor_create(
        assessor=payload, idempotency_key=key
    ),
    search=lambda client, search, page, page_size: client.assessor_page(
        search=search, page=page, page_size=page_size
    ),
    payload=mapping.assessor_payload,
    lookup_url_name="smartassessor:officer_lookup",
)

EMPLOYER = LinkedRecordKind(
    sa_name="employer",
    owner_model=Organisation,
    link_model=OrganisationLink,
    owner_field="organisation",
    sa_id_field="employer_id",
    find_by_mis_id=lambda client, mis_id: client.employer_page(mis_employer_id=mis_id, page_size=1),
    get=lambda client, sa_id: client.employer_get(employer_id=sa_id),
    create=lambda client, payload, key: client.employer_create(
        employer=payload, idempotency_key=key
    ),
    search=lambda client, search, page, page_size: client.employer_page(
        search=search, page=page, page_size=page_size
    ),
    payload=mapping.employer_payload,
    lookup_url_name="smartassessor:organisation_lookup",
)
