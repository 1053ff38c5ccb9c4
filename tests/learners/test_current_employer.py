"""Each learner's current employer is stored for the lists, and follows the placements: as
they are written (by the services, the admin or in bulk) and as their dates pass."""

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from learners import employers, services, tasks
from learners.models import Learner, Placement
from tests.factories import LearnerFactory, OrganisationFactory, PlacementFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = dt.timedelta(days=1)


def employer_of(learner: Learner):
    return Learner.objects.get(pk=learner.pk).current_employer


def test_the_services_placements_set_the_employer_latest_start_winning():
    learner = LearnerFactory()
    acme, birch = OrganisationFactory(name="Acme"), OrganisationFactory(name="Birch")
    assert employer_of(learner) is None

    first = services.placement_create(
        learner=learner, data={"organisation": acme, "start_date": TODAY - 30 * DAY}
    )
    assert employer_of(learner) == acme
    services.placement_create(
        learner=learner, data={"organisation": birch, "start_date": TODAY - 5 * DAY}
    )
    assert employer_of(learner) == birch
    # A placement starting tomorrow is not current yet.
    services.placement_create(
        learner=learner, data={"organisation": acme, "start_date": TODAY + DAY}
    )
    assert employer_of(learner) == birch

    later = Placement.objects.get(learner=learner, organisation=birch)
    services.placement_end(placement=later, end_date=TODAY - DAY)
    assert employer_of(learner) == acme
    services.placement_end(placement=first, end_date=TODAY - DAY)
    assert employer_of(learner) is None


def test_an_edit_or_a_delete_outside_the_services_counts_too():
    learner = LearnerFactory()
    placement = PlacementFactory(learner=learner, start_date=TODAY)
    assert employer_of(learner) == placement.organisation

    other = OrganisationFactory()
    placement.organisation = other
    placement.save()
    assert employer_of(learner) == other

    placement.delete()
    assert employer_of(learner) is None


def test_a_placement_given_to_another_learner_leaves_the_first():
    first, second = LearnerFactory(), LearnerFactory()
    placement = PlacementFactory(learner=first, start_date=TODAY)

    moved = Placement.objects.get(pk=placement.pk)
    moved.learner = second
    moved.save()

    assert employer_of(first) is None
    assert employer_of(second) == placement.organisation


def test_an_admins_edit_of_a_placement_moves_the_learner(admin_client_ia):
    learner = LearnerFactory()
    placement = PlacementFactory(learner=learner, start_date=TODAY - 10 * DAY)
    other = OrganisationFactory(name="Moved Ltd")

    response = admin_client_ia.post(
        reverse("admin:learners_placement_change", args=[placement.pk]),
        {
            "learner": learner.pk,
            "organisation": other.pk,
            "start_date": (TODAY - 10 * DAY).isoformat(),
            "end_date": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert employer_of(learner) == other


def test_the_refresh_follows_the_days_and_writes_only_what_changed():
    ending = LearnerFactory()
    PlacementFactory(learner=ending, start_date=TODAY - 90 * DAY, end_date=TODAY)
    starting = LearnerFactory()
    PlacementFactory(learner=starting, start_date=TODAY + DAY)
    staying = LearnerFactory()
    stays_at = PlacementFactory(learner=staying, start_date=TODAY - 90 * DAY).organisation
    stamped = Learner.objects.get(pk=staying.pk).updated_at

    assert employers.current_employers_refresh() == 0
    assert employers.current_employers_refresh(on=TODAY + DAY) == 2

    assert employer_of(ending) is None
    assert employer_of(starting) == Placement.objects.get(learner=starting).organisation
    assert employer_of(staying) == stays_at
    assert Learner.objects.get(pk=staying.pk).updated_at == stamped


def test_the_refresh_reads_every_learner_a_batch_at_a_time(monkeypatch):
    monkeypatch.setattr(employers, "BATCH", 3)
    learners = LearnerFactory.create_batch(8)
    organisation = OrganisationFactory()
    Placement.objects.bulk_create(  # no signals: the refresh must find them all
        Placement(learner=learner, organisation=organisation, start_date=TODAY)
        for learner in learners
    )

    assert employers.current_employers_refresh() == 8
    assert Learner.objects.filter(current_employer=organisation).count() == 8


def test_the_beat_refreshes_every_hour():
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-current-employers"]
    assert entry["task"] == "learners.tasks.refresh_current_employers"
    assert entry["schedule"].minute == {1}
    assert len(entry["schedule"].hour) == 24

    learner = LearnerFactory()
    Placement.objects.bulk_create(
        [Placement(learner=learner, organisation=OrganisationFactory(), start_date=TODAY)]
    )
    assert tasks.refresh_current_employers.apply().get() == 1
    assert employer_of(learner) is not None


@pytest.mark.postgres
def test_the_hourly_run_leaves_a_learner_another_transaction_holds_to_the_next_run(
    transactional_db,
):
    """It never waits on a lock, so it cannot deadlock with an import's or a sync's writes."""
    import threading

    from django.db import connection, transaction

    held, free = LearnerFactory(), LearnerFactory()
    for learner in (held, free):
        Placement.objects.bulk_create(  # no signals: the refresh has work to do
            [Placement(learner=learner, organisation=OrganisationFactory(), start_date=TODAY)]
        )
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                Learner.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        assert tasks.refresh_current_employers.apply().get() == 1
        assert employer_of(held) is None and employer_of(free) is not None
    finally:
        release.set()
        holder.join(10)

    assert tasks.refresh_current_employers.apply().get() == 1
    assert employer_of(held) is not None
