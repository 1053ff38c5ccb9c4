"""Template helpers of the integration's pages."""

from django import template

from ..models import SyncRun

register = template.Library()

# What a run's counts say, in the order a person reads them: (field, one, many).
_RUN_COUNTS = (
    ("qualifications_updated", "qualification updated", "qualifications updated"),
    ("qualifications_enrolled", "qualification enrolled", "qualifications enrolled"),
    ("reviews_created", "review created", "reviews created"),
    ("reviews_updated", "review updated", "reviews updated"),
    ("details_pushed", "detail pushed", "details pushed"),
    ("details_pulled", "detail pulled", "details pulled"),
    ("officers_updated", "officer updated", "officers updated"),
    ("risk_updated", "risk band updated", "risk bands updated"),
    ("qualifications_backwards", "qualification moved backwards", "qualifications moved backwards"),
    ("error_count", "error", "errors"),
)


@register.filter
def run_summary(run: SyncRun) -> str:
    """A run's result in one line: "12 of 12 learners; 3 qualifications updated; 1 error";
    blank when there is nothing to count."""
    parts = (
        [f"{run.learners_seen} of {run.learners_in_scope} learners"]
        if run.learners_in_scope
        else []
    )
    for field, one, many in _RUN_COUNTS:
        count = getattr(run, field)
        if count:
            parts.append(f"{count} {one if count == 1 else many}")
    if run.deltas_skipped:
        parts.append(
            f"{run.deltas_skipped} delta run{'' if run.deltas_skipped == 1 else 's'} waited for it"
        )
    return "; ".join(parts)
