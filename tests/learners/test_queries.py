"""The learner list and the Delivery Plan cost the same number of queries whatever the data."""

import datetime

import pytest
from django.utils import timezone

from tests.factories import (
    BreakInLearningFactory,
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerRoleFactory,
    PlacementFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db

# Each page reads the session, the user and the user's and groups' permissions (4), then its
# own data, then whatever the extension slots' renderers read (a couple at most).
# The list: a count, the officers of the filter, the page's ids, its learners (with their main
# officers and current employers).
LIST_QUERIES = 4 + 4 + 2
# By main officer or current employer the page's ids are found group by group: their learners
# counted (which is the list's count), and the officers or employers named
# (learners.selectors.learner_ids_by_group).
LIST_BY_GROUP_QUERIES = LIST_QUERIES + 1
# The plan: the learner, officer roles, qualifications, their breaks, placements, current
# ones, reviews.
DELIVERY_PLAN_QUERIES = 4 + 7 + 2


def learners_with_placements(count: int) -> None:
    today = timezone.localdate()
    for learner in LearnerFactory.create_batch(count):
        PlacementFactory(learner=learner, start_date=today - datetime.timedelta(days=30))
        PlacementFactory(
            learner=learner,
            start_date=today - datetime.timedelta(days=400),
            end_date=today - datetime.timedelta(days=31),
        )


def learner_with_a_plan(size: int):
    learner = LearnerFactory()
    for entry in LearnerQualificationFactory.create_batch(size, learner=learner):
        BreakInLearningFactory(learner_qualification=entry, end_date=datetime.date(2026, 10, 9))
        BreakInLearningFactory(learner_qualification=entry, start_date=datetime.date(2026, 11, 2))
    ReviewFactory.create_batch(size, learner=learner)
    PlacementFactory.create_batch(size, learner=learner)
    for number in range(size):
        learner.officer_roles.create(
            officer=learner.main_officer, role=OfficerRoleFactory(name=f"Role {number}")
        )
    return learner


@pytest.mark.parametrize("sort", ["officer", "-employer"])
@pytest.mark.parametrize("count", [3, 60])
def test_the_learner_list_runs_a_fixed_number_of_queries(
    staff_client, django_assert_max_num_queries, count, sort
):
    learners_with_placements(count)

    with django_assert_max_num_queries(LIST_BY_GROUP_QUERIES):
        response = staff_client.get("/learners/", {"sort": sort})

    assert response.content.decode().count("/delivery-plan/") == min(count, 25)


@pytest.mark.parametrize("size", [2, 50])
def test_the_delivery_plan_runs_a_fixed_number_of_queries(
    staff_client, django_assert_max_num_queries, size
):
    learner = learner_with_a_plan(size)

    with django_assert_max_num_queries(DELIVERY_PLAN_QUERIES):
        response = staff_client.get(learner.get_absolute_url())

    page = response.content.decode()
    # An edit link and a return link each, and the add link.
    assert page.count("/qualifications/") == 2 * size + 1
    assert page.count("/return/") == size
    assert page.count("5 Oct 2026 – 9 Oct 2026<br>2 Nov 2026 – ongoing") == size
    assert page.count("/reviews/") == size + 1


@pytest.mark.parametrize("size", [2, 50])
def test_the_delivery_plan_api_runs_a_fixed_number_of_queries(
    staff_client, django_assert_max_num_queries, size
):
    learner = learner_with_a_plan(size)

    with django_assert_max_num_queries(DELIVERY_PLAN_QUERIES):
        response = staff_client.get(f"/api/learners/{learner.ident}/delivery-plan/")

    qualifications = response.json()["qualifications"]
    assert len(qualifications) == size
    assert [len(entry["breaks"]) for entry in qualifications] == [2] * size


@pytest.mark.parametrize("count", [3, 60])
def test_the_officer_and_organisation_lists_run_a_fixed_number_of_queries(
    staff_client, django_assert_max_num_queries, count
):
    learners_with_placements(count)

    with django_assert_max_num_queries(LIST_QUERIES):
        staff_client.get("/officers/")
    with django_assert_max_num_queries(LIST_QUERIES):
        staff_client.get("/organisations/")
