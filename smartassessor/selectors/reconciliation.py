"""Reads of the reconciliation report (F24): the latest build, the report in use, its counts
and its lines, each in a fixed number of queries."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from ..models import Reconciliation, ReconciliationFinding

Category = ReconciliationFinding.Category


def reconciliation_latest() -> Reconciliation | None:
    """The newest build, whatever its state: the one under way, or the last to end."""
    return Reconciliation.objects.select_related("requested_by").first()


def reconciliation_report() -> Reconciliation | None:
    """The report in use: the newest that was built."""
    return (
        Reconciliation.objects.filter(state=Reconciliation.State.SUCCEEDED)
        .select_related("requested_by")
        .first()
    )


@dataclass(frozen=True)
class CategoryCount:
    category: str
    label: str
    count: int


def reconciliation_counts(*, report: Reconciliation | None) -> list[CategoryCount]:
    """Every category with its number of lines in the report (0 included), in one query."""
    found: dict[str, int] = {}
    if report is not None:
        found = dict(
            report.findings.order_by()
            .values("category")
            .annotate(count=Count("id"))
            .values_list("category", "count")
        )
    return [CategoryCount(value, label, found.get(value, 0)) for value, label in Category.choices]


def reconciliation_findings(
    *, report: Reconciliation, category: str = "", search: str = ""
) -> QuerySet[ReconciliationFinding]:
    """The report's lines, of one category if given, matching the search text if given."""
    findings = report.findings.select_related(
        "learner", "linked_learner", "organisation", "officer", "linked_by"
    )
    if category:
        findings = findings.filter(category=category)
    for word in search.split():
        findings = findings.filter(
            Q(sa_id__icontains=word)
            | Q(sa_name__icontains=word)
            | Q(sa_email__icontains=word)
            | Q(sa_mis_id__icontains=word)
            | Q(sa_uln__icontains=word)
            | Q(sa_eds_id__icontains=word)
            | Q(sa_postcode__icontains=word)
            | Q(learner__ident__icontains=word)
            | Q(learner__first_name__icontains=word)
            | Q(learner__surname__icontains=word)
            | Q(organisation__name__icontains=word)
            | Q(officer__surname__icontains=word)
            | Q(officer__email__icontains=word)
        )
    return findings
