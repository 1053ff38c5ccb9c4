"""The integration's records in words people read: a run's counts, a refresh's changes in a
line, and one change as a person says it. The pages' filters (templatetags) and the Smart
Assessor block (panels) both use them."""

from collections.abc import Iterable

from .models import SyncChange, SyncRun
from .services.sync.planning import ADOPT_COURSE, CREATE_REVIEW, ENROL_COURSE


def _counted(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


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
            parts.append(_counted(count, one, many))
    if run.deltas_skipped:
        parts.append(f"{_counted(run.deltas_skipped, 'delta run', 'delta runs')} waited for it")
    return "; ".join(parts)


# A refresh's changes in a line, in the order a person reads them: (key, one, many).
_REFRESH_COUNTS = (
    ("qualifications_updated", "qualification updated", "qualifications updated"),
    ("qualifications_enrolled", "qualification enrolled", "qualifications enrolled"),
    ("qualifications_linked", "qualification linked", "qualifications linked"),
    ("reviews_added", "review added", "reviews added"),
    ("reviews_updated", "review updated", "reviews updated"),
    ("details_updated", "learner detail updated", "learner details updated"),
    ("officers_updated", "officer updated", "officers updated"),
)
_QUALIFICATION_ROWS = {
    ENROL_COURSE: "qualifications_enrolled",
    ADOPT_COURSE: "qualifications_linked",
}
# What a plan row that is not one field of a record means, in words (see sync.planning).
_OWN_ROWS = {
    CREATE_REVIEW: "added from Smart Assessor",
    ENROL_COURSE: "enrolled in Smart Assessor",
}


def refresh_summary(changes: Iterable[SyncChange]) -> str:
    """What a refresh changed, in one line: "3 qualifications updated, 4 reviews added, risk
    now Medium"; blank when it changed nothing."""
    counted: dict[str, set[object]] = {key: set() for key, _, _ in _REFRESH_COUNTS}
    risk = ""
    for change in changes:
        record = change.record_id or change.record
        if change.target == SyncChange.Target.QUALIFICATION:
            counted[_QUALIFICATION_ROWS.get(change.attr, "qualifications_updated")].add(record)
        elif change.target == SyncChange.Target.REVIEW:
            added = change.attr == CREATE_REVIEW
            # A new review has no row yet: each of its plan rows is one review.
            counted["reviews_added" if added else "reviews_updated"].add(
                change.pk if added else record
            )
        elif change.target == SyncChange.Target.LEARNER:
            counted["details_updated"].add(change.field)
        elif change.target == SyncChange.Target.OFFICER:
            counted["officers_updated"].add(change.officer_id or change.record)
        elif change.target == SyncChange.Target.RISK:
            risk = change.new_value
    parts = []
    for name, one, many in _REFRESH_COUNTS:
        count = len(counted[name])
        if count:
            parts.append(_counted(count, one, many))
    if risk:
        parts.append(f"risk now {risk}")
    return ", ".join(parts)


def change_in_words(change: SyncChange) -> str:
    """One change as a person says it: "ST0070 Business Administrator: Status changed from
    Not started to In progress"."""
    if change.attr in _OWN_ROWS:
        return f"{change.record}: {_OWN_ROWS[change.attr]}"
    if change.target == SyncChange.Target.QUALIFICATION and change.attr == ADOPT_COURSE:
        return f"{change.record}: {change.new_value[:1].lower()}{change.new_value[1:]}"
    subject = (
        "Risk" if change.target == SyncChange.Target.RISK else f"{change.record}: {change.field}"
    )
    old, new = change.old_value, change.new_value
    if old and new:
        return f"{subject} changed from {old} to {new}"
    if new:
        return f"{subject} set to {new}"
    return f"{subject} cleared (was {old})" if old else f"{subject} cleared"


def changes_for_people(changes: Iterable[SyncChange]) -> list[SyncChange]:
    """The changes record by record, then field by field, as a person reads a list."""
    return sorted(changes, key=lambda c: (c.target != SyncChange.Target.RISK, c.record, c.field))
