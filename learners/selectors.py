"""Reads of the MIS domain, shaped for the pages and the API with a fixed number of queries."""

import re
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    OrderBy,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import BaseExpression
from django.db.models.functions import Coalesce, Lower
from django.shortcuts import get_object_or_404

from . import search_index
from .models import (
    RISK_RANK,
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Officer,
    Organisation,
    Placement,
    Review,
)

# More learners than any provider has: a LIMIT that leaves every match in.
EVERY_MATCH = 2**31 - 1

BY_NAME = ("surname", "first_name", "id")

# Each sort key of the learner list and its columns, the learner's name breaking ties. Every
# column but the main officer's and the current employer's is a learner column that an index
# of Learner.Meta.indexes serves in both directions, so a page is read from the index rather
# than by sorting every learner. Those two are names of another record (a join), and are read
# group by group instead (GROUPED_SORTS, learner_ids_by_group and the list's paginator).
LEARNER_SORTS: dict[str, tuple[str | BaseExpression, ...]] = {
    "name": BY_NAME,
    "ident": ("ident",),
    "lrn": ("lrn", *BY_NAME),
    "status": ("status", *BY_NAME),
    "risk": (RISK_RANK, *BY_NAME),
    "officer": ("main_officer__surname", "main_officer__forenames", *BY_NAME),
    "employer": ("current_employer__name", *BY_NAME),
    "start": ("start_date", *BY_NAME),
    "planned_end": ("planned_end_date", *BY_NAME),
}
# The columns that may be empty (no main officer, no current employer): last both ways.
NULLABLE_SORT_COLUMNS = {
    "main_officer__surname",
    "main_officer__forenames",
    "current_employer__name",
}


@dataclass(frozen=True)
class GroupedSort:
    """A sort by the name of the record a learner points at: the learner's field, the
    record's model, and the fields of its name in the sort's order."""

    field: str
    model: type[Officer] | type[Organisation]
    name: tuple[str, ...]


GROUPED_SORTS = {
    "officer": GroupedSort("main_officer", Officer, ("surname", "forenames")),
    "employer": GroupedSort("current_employer", Organisation, ("name",)),
}


def _search_terms(text: str) -> list[str]:
    return [term for term in re.split(r"[\s,]+", text) if term]


def _matching_every_term(text: str, fields: tuple[str, ...]) -> Q:
    """Each word must be found in one of the fields, so "Sam Taylor" and "Taylor, Sam" match."""
    condition = Q()
    for term in _search_terms(text):
        any_field = Q()
        for field in fields:
            any_field |= Q(**{f"{field}__icontains": term})
        condition &= any_field
    return condition


def _current_placements() -> Prefetch:
    """Each learner's current placements as ``current_placements``, latest start first."""
    return Prefetch(
        "placements",
        queryset=Placement.objects.current().select_related("organisation"),
        to_attr="current_placements",
    )


def _qualifications_with_breaks() -> Prefetch:
    return Prefetch(
        "qualifications",
        queryset=LearnerQualification.objects.select_related("qualification").prefetch_related(
            "breaks"
        ),
    )


def _placements_with_employers() -> Prefetch:
    return Prefetch("placements", queryset=Placement.objects.select_related("organisation"))


def learners_with_records(*, idents: list[str]) -> QuerySet[Learner]:
    """The learners of these Learner Idents (letter case aside), each with its qualifications
    (and their breaks) and placements (and their employers), in three queries more."""
    return (
        Learner.objects.annotate(lowered_ident=Lower("ident"))
        .filter(lowered_ident__in=[ident.lower() for ident in idents])
        .prefetch_related(_qualifications_with_breaks(), _placements_with_employers())
    )


def _officer_roles() -> Prefetch:
    return Prefetch(
        "officer_roles", queryset=LearnerOfficerRole.objects.select_related("officer", "role")
    )


def learner_list(
    *,
    search: str = "",
    status: str = "",
    main_officer: Officer | None = None,
    sort: str = "name",
) -> QuerySet[Learner]:
    """Learners matching a search over names, Learner Ident, LRN and ULN, in the given order.

    ``sort`` is a key of LEARNER_SORTS, prefixed with "-" for descending order.
    """
    learners = Learner.objects.select_related("main_officer", "current_employer")
    if search:
        condition = _matching_every_term(search, search_index.SEARCHED)
        terms = _search_terms(search)
        if connection.vendor == "postgresql" and all(
            len(term) >= search_index.TRIGRAM for term in terms
        ):
            # The slice keeps the matches a subquery of their own, read first through the
            # trigram indexes (migration 0007). Merged into the list's query, PostgreSQL walks
            # the sort's index instead, testing each learner until a page of matches turns
            # up: a search by surname sorted by surname read almost half of them.
            learners = learners.filter(
                pk__in=Learner.objects.filter(condition).values("pk")[:EVERY_MATCH]
            )
        elif connection.vendor == "sqlite" and any(
            len(term) >= search_index.TRIGRAM for term in terms
        ):
            # The learners the trigram index finds, and of those the ones that match.
            learners = learners.filter(condition, pk__in=search_index.matching(terms))
        else:
            # Only terms too short for a trigram: they match most learners, and walking the
            # sort's index finds a page of them at once.
            learners = learners.filter(condition)
    if status:
        learners = learners.filter(status=status)
    if main_officer:
        learners = learners.filter(main_officer=main_officer)
    key = sort.removeprefix("-")
    if key not in LEARNER_SORTS:
        key = "name"
    return learners.order_by(*_order(LEARNER_SORTS[key], descending=sort.startswith("-")))


def learner_counts_by_group(learners: QuerySet[Learner], *, key: str) -> dict[Any, int]:
    """How many of ``learners`` each record of a GROUPED_SORTS sort's field has (None: those
    without one), in one GROUP BY; their sum is the list's count."""
    field = GROUPED_SORTS[key].field
    return dict(learners.order_by().values_list(field).annotate(learners=Count("pk")))


def learner_ids_by_group(
    learners: QuerySet[Learner],
    *,
    key: str,
    counts: dict[Any, int],
    bottom: int,
    top: int,
    descending: bool,
) -> list[int]:
    """The ids of rows ``bottom`` to ``top`` of ``learners`` in the order of a sort of
    GROUPED_SORTS (``key``), read group by group rather than by sorting every learner through
    the join.

    ``counts`` (``learner_counts_by_group``) says how many learners each officer (or employer)
    has; they are put in order by name (those of one name together, as the join sorts them),
    and only the learners of the few the page falls in are read, in one query: a page within
    one group from the index on (field, name); a page across several from theirs alone.
    Learners without one come last either way.
    """
    sort = GROUPED_SORTS[key]
    by_name: dict[tuple[str, ...], list[Any]] = {}
    # Every record's name, which is quicker than naming thousands of employers' ids.
    for pk, *name in sort.model.objects.values_list("pk", *sort.name):
        if pk in counts:
            by_name.setdefault(tuple(name), []).append(pk)
    groups = [by_name[name] for name in sorted(by_name, reverse=descending)]
    if None in counts:
        groups.append([None])
    involved: list[Any] = []
    first = start = 0
    for group in groups:
        size = sum(counts[pk] for pk in group)
        if start + size > bottom and start < top:
            first = first if involved else start
            involved += group
        start += size
    if not involved:
        return []
    chosen = Q(**{f"{sort.field}__in": [pk for pk in involved if pk is not None]})
    if None in involved:
        chosen |= Q(**{f"{sort.field}__isnull": True})
    ordering = LEARNER_SORTS[key] if len(involved) > 1 else BY_NAME
    rows = learners.filter(chosen).order_by(*_order(ordering, descending=descending))
    return list(rows.values_list("pk", flat=True)[bottom - first : top - first])


def _order(columns: tuple[str | BaseExpression, ...], *, descending: bool) -> list[OrderBy]:
    """The ORDER BY of the columns, in the form their indexes serve.

    A column that cannot be empty is sorted plainly: ``DESC NULLS LAST`` on such a column
    would stop PostgreSQL scanning its index backwards (the index holds ``ASC NULLS LAST``).
    """
    order = []
    for column in columns:
        expression = F(column) if isinstance(column, str) else column
        if column in NULLABLE_SORT_COLUMNS:
            order.append(
                expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
            )
        else:
            order.append(expression.desc() if descending else expression.asc())
    return order


def main_officers() -> QuerySet[Officer]:
    """Officers who are the main officer of at least one learner."""
    return Officer.objects.filter(Exists(Learner.objects.filter(main_officer=OuterRef("pk"))))


@dataclass(frozen=True)
class DeliveryPlan:
    learner: Learner
    qualifications: list[LearnerQualification]
    placements: list[Placement]
    current_placement: Placement | None
    reviews: list[Review]
    officer_roles: list[LearnerOfficerRole]


def delivery_plan(*, ident: str) -> DeliveryPlan:
    """A learner's Delivery Plan in a fixed number of queries, whatever the size of the plan."""
    learner = get_object_or_404(
        Learner.objects.select_related("main_officer").prefetch_related(
            _officer_roles(),
            _qualifications_with_breaks(),
            _placements_with_employers(),
            _current_placements(),
            Prefetch("reviews", queryset=Review.objects.select_related("review_type", "reviewer")),
        ),
        ident=ident,
    )
    return DeliveryPlan(
        learner=learner,
        qualifications=list(learner.qualifications.all()),
        placements=list(learner.placements.all()),
        # The latest start wins when placements overlap.
        current_placement=next(iter(learner.current_placements), None),
        reviews=list(learner.reviews.all()),
        officer_roles=list(learner.officer_roles.all()),
    )


def learner_detail(*, ident: str) -> Learner:
    """A learner with its main officer and other officers."""
    return get_object_or_404(
        Learner.objects.select_related("main_officer").prefetch_related(_officer_roles()),
        ident=ident,
    )


def officer_list(*, search: str = "", active: bool | None = None) -> QuerySet[Officer]:
    # A count per officer by a subquery rather than an aggregate over the join: the database
    # counts only the page's officers, where GROUP BY counted every learner for every page.
    main_learner_counts = (
        Learner.objects.filter(main_officer=OuterRef("pk"))
        .order_by()
        .values("main_officer")
        .annotate(count=Count("pk"))
        .values("count")
    )
    officers = Officer.objects.prefetch_related("roles").annotate(
        main_learner_count=Coalesce(Subquery(main_learner_counts), 0)
    )
    if search:
        officers = officers.filter(
            _matching_every_term(search, ("forenames", "surname", "email", "job_title"))
        )
    if active is not None:
        officers = officers.filter(is_active=active)
    return officers


def officer_detail(*, officer_id: int) -> Officer:
    return get_object_or_404(Officer.objects.prefetch_related("roles"), pk=officer_id)


def officer_main_learners(*, officer: Officer) -> QuerySet[Learner]:
    return officer.main_learners.select_related("current_employer")


def organisation_list(*, search: str = "") -> QuerySet[Organisation]:
    current_learner_counts = (
        Placement.objects.current()
        .filter(organisation=OuterRef("pk"))
        .order_by()
        .values("organisation")
        .annotate(count=Count("learner", distinct=True))
        .values("count")
    )
    organisations = Organisation.objects.annotate(
        current_learner_count=Coalesce(Subquery(current_learner_counts), 0)
    )
    if search:
        organisations = organisations.filter(
            _matching_every_term(search, ("name", "postcode", "edrs_number"))
        )
    return organisations


def organisation_current_placements(*, organisation: Organisation) -> QuerySet[Placement]:
    """The placements at the organisation that cover today, with their learners."""
    return (
        Placement.objects.current()
        .filter(organisation=organisation)
        .select_related("learner", "learner__main_officer")
        .order_by("learner__surname", "learner__first_name", "learner_id")
    )
