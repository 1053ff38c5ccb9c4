"""Reads of the MIS domain, shaped for the pages and the API with a fixed number of queries."""

import re
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from .models import (
    Learner,
    LearnerOfficerRole,
    LearnerQualification,
    Officer,
    Organisation,
    Placement,
    Review,
)

LEARNER_SORTS = {
    "name": ("surname", "first_name"),
    "ident": ("ident",),
    "start": ("start_date",),
    "planned_end": ("planned_end_date",),
    "status": ("status",),
    "officer": ("main_officer__surname", "main_officer__forenames"),
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
    learners = Learner.objects.select_related("main_officer").prefetch_related(
        _current_placements()
    )
    if search:
        learners = learners.filter(
            _matching_every_term(search, ("first_name", "surname", "ident", "lrn", "uln"))
        )
    if status:
        learners = learners.filter(status=status)
    if main_officer:
        learners = learners.filter(main_officer=main_officer)
    descending = sort.startswith("-")
    columns = LEARNER_SORTS.get(sort.removeprefix("-"), LEARNER_SORTS["name"])
    return learners.order_by(
        *(
            F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
            for column in (*columns, "id")
        )
    )


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
            Prefetch(
                "qualifications",
                queryset=LearnerQualification.objects.select_related(
                    "qualification"
                ).prefetch_related("breaks"),
            ),
            Prefetch("placements", queryset=Placement.objects.select_related("organisation")),
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
    officers = (
        Officer.objects.prefetch_related("roles")
        .annotate(main_learner_count=Count("main_learners"))
        # An aggregate drops Meta.ordering.
        .order_by(*(Officer._meta.ordering or ()))
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
    return officer.main_learners.prefetch_related(_current_placements())


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
