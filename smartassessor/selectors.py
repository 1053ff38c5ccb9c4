"""Reads for the integration's pages."""

from django.db.models import Count, Q

from .models import Enrolment, LinkRefresh, ReviewTypeMapping, SyncRun


def enrolment_counts() -> dict[str, int]:
    current = Enrolment.objects.filter(is_current=True)
    return current.aggregate(
        enrolled=Count("id", filter=Q(state__in=Enrolment.SYNCED_STATES)),
        failed=Count("id", filter=Q(state=Enrolment.State.FAILED)),
        in_progress=Count("id", filter=Q(state__in=Enrolment.ACTIVE_STATES)),
    )


def link_refresh_latest() -> LinkRefresh | None:
    return LinkRefresh.objects.select_related("requested_by").first()


def review_type_mappings() -> dict[str, ReviewTypeMapping]:
    return {
        row.event_type_code: row for row in ReviewTypeMapping.objects.select_related("review_type")
    }


def sync_runs_recent():
    """Daily and hand-started runs, newest first (one learner's refreshes are on its page)."""
    return (
        SyncRun.objects.exclude(trigger=SyncRun.Trigger.LEARNER)
        .select_related("requested_by")
        .order_by("-requested_at", "-id")
    )


def sync_run_last_finished() -> SyncRun | None:
    return (
        sync_runs_recent()
        .exclude(state__in=[*SyncRun.ACTIVE_STATES, SyncRun.State.SKIPPED])
        .first()
    )
