"""Reads for the integration's pages."""

from django.db.models import Count, Q

from .models import Enrolment, LinkRefresh, ReviewTypeMapping


def enrolment_counts() -> dict[str, int]:
    current = Enrolment.objects.filter(is_current=True)
    return current.aggregate(
        enrolled=Count(
            "id", filter=Q(state__in=[Enrolment.State.ENROLLED, Enrolment.State.PROBLEMS])
        ),
        failed=Count("id", filter=Q(state=Enrolment.State.FAILED)),
        in_progress=Count(
            "id",
            filter=Q(
                state__in=[
                    Enrolment.State.QUEUED,
                    Enrolment.State.ENROLLING,
                    Enrolment.State.RETRYING,
                ]
            ),
        ),
    )


def link_refresh_latest() -> LinkRefresh | None:
    return LinkRefresh.objects.select_related("requested_by").first()


def review_type_mappings() -> dict[str, ReviewTypeMapping]:
    return {
        row.event_type_code: row for row in ReviewTypeMapping.objects.select_related("review_type")
    }
