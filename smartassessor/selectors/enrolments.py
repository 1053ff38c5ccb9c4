"""Reads of enrolments, and of the learner's records an enrolment is built from."""

from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet

from learners.models import Learner, Officer, Placement

from ..models import Enrolment, IntegrationSettings


def enrolment_counts() -> dict[str, int]:
    current = Enrolment.objects.filter(is_current=True)
    return current.aggregate(
        enrolled=Count("id", filter=Q(state__in=Enrolment.SYNCED_STATES)),
        failed=Count("id", filter=Q(state=Enrolment.State.FAILED)),
        in_progress=Count("id", filter=Q(state__in=Enrolment.ACTIVE_STATES)),
    )


def enrolments_with_courses() -> QuerySet[Enrolment]:
    """Enrolments with their learner, who asked, and each course's qualification."""
    return Enrolment.objects.select_related("learner", "requested_by").prefetch_related(
        "courses__learner_qualification__qualification"
    )


def learner_enrolment_current(*, learner: Learner) -> Enrolment | None:
    """The learner's current enrolment (at most one: the database allows no more), or None."""
    return Enrolment.objects.filter(learner=learner, is_current=True).first()


def learner_enrolment_current_with_courses(*, learner: Learner) -> Enrolment | None:
    return enrolments_with_courses().filter(learner=learner, is_current=True).first()


def enrolments_by_learner_name(*, ids: Iterable[int]) -> list[Enrolment]:
    """These enrolments with their courses, in the learners' alphabetical order."""
    return list(
        Enrolment.objects.filter(pk__in=ids)
        .select_related("learner")
        .prefetch_related("courses__learner_qualification__qualification")
        .order_by("learner__surname", "learner__first_name")
    )


def learners_by_ident(*, idents: Iterable[str]) -> list[Learner]:
    """The learners with these Learner Idents, by name (the unknown ones left out)."""
    return list(Learner.objects.filter(ident__in=idents).order_by("surname", "first_name"))


def learner_placement_current(*, learner: Learner) -> Placement | None:
    """The learner's current placement, latest first, with its organisation's SA link."""
    return (
        Placement.objects.current()
        .filter(learner=learner)
        .select_related("organisation__smartassessor_link")
        .order_by("-start_date", "-id")
        .first()
    )


def learner_main_officer(*, learner: Learner) -> Officer | None:
    """The learner's main officer, read afresh with its SA link."""
    if not learner.main_officer_id:
        return None
    return Officer.objects.select_related("smartassessor_link").get(pk=learner.main_officer_id)


def learner_second_assessor(*, learner: Learner, settings: IntegrationSettings) -> Officer | None:
    """The officer in the role the settings name as second assessor, with its SA link."""
    if settings.second_assessor_role_id is None:
        return None
    role = (
        learner.officer_roles.filter(role_id=settings.second_assessor_role_id)
        .select_related("officer__smartassessor_link")
        .first()
    )
    return role.officer if role else None
