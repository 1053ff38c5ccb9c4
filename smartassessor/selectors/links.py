"""Reads of the links between local and Smart Assessor records, and of their refreshes."""

from django.db.models import QuerySet

from ..linked_records import Link, LinkedRecordKind, Owner
from ..models import LinkRefresh, ReviewTypeMapping


def sa_link_get(*, kind: LinkedRecordKind, owner: Owner) -> Link | None:
    """The owner's link to its SA record, with who made it; None when it has none."""
    return (
        kind.link_model.objects.filter(**{kind.owner_field: owner})
        .select_related("linked_by")
        .first()
    )


def sa_link_taken(*, kind: LinkedRecordKind, owner: Owner, sa_id: int) -> Link | None:
    """The link of another local record to that SA record, with that record; None if free."""
    return (
        kind.link_model.objects.select_related(kind.owner_field)
        .filter(**{kind.sa_id_field: sa_id})
        .exclude(**{kind.owner_field: owner})
        .first()
    )


def link_refreshes() -> QuerySet[LinkRefresh]:
    return LinkRefresh.objects.select_related("requested_by")


def link_refresh_latest() -> LinkRefresh | None:
    return link_refreshes().first()


def review_type_mappings() -> dict[str, ReviewTypeMapping]:
    return {
        row.event_type_code: row for row in ReviewTypeMapping.objects.select_related("review_type")
    }
