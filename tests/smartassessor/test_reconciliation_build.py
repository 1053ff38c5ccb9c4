"""The reconciliation build as a durable operation, with Smart Assessor mocked: what it accepts
from an inconsistent Smart Assessor, one build at a time, and the sweeper that ends a build
whose worker is gone."""

import datetime as dt

import pytest
from django.utils import timezone

from picsweb.errors import ApplicationError
from smartassessor.models import (
    Enrolment,
    OfficerLink,
    OrganisationLink,
    Reconciliation,
    ReconciliationFinding,
)
from smartassessor.services import reconciliation
from tests.factories import LearnerFactory, OfficerFactory, OrganisationFactory

from .client import wire

pytestmark = pytest.mark.django_db

Category = ReconciliationFinding.Category
LINKED_ID = "0a000000-0000-4000-8000-000000000001"
DUPLICATE_ID = "0b000000-0000-4000-8000-000000000002"
NO_MIS_ID = "0c000000-0000-4000-8000-000000000003"


def _lists(sa_http, learners, employers=(), assessors=()):
    for path, items in (
        ("/learners", learners),
        ("/employers", employers),
        ("/assessors", assessors),
    ):
        sa_http.get(wire.API + path, json=wire.page(list(items), page_size=500))


def test_an_inconsistent_smart_assessor_does_not_stop_the_build(sa_http):
    linked = LearnerFactory(ident="LINKED1")
    Enrolment.objects.create(
        learner=linked, state=Enrolment.State.ENROLLED, sa_learner_id=LINKED_ID
    )
    _lists(
        sa_http,
        [
            # Linked, but not of the documented shape: still there, so its link holds.
            wire.learner(SmartAssessorId=LINKED_ID, DateOfBirth="the fifth of May"),
            wire.learner(SmartAssessorId=DUPLICATE_ID, MISLearnerId="ELSEWHERE1"),
            wire.learner(SmartAssessorId=DUPLICATE_ID, MISLearnerId="ELSEWHERE1"),
            wire.learner(SmartAssessorId=NO_MIS_ID, MISLearnerId=None, ULN=None),
        ],
        employers=[wire.employer(MISEmployerId=None, EdsId=None)],
        assessors=[wire.assessor(MISAssessorId=None, Email=None)],
    )

    report = reconciliation.reconciliation_build_now()

    assert report.state == Reconciliation.State.SUCCEEDED, report.error
    assert (report.sa_learners, report.sa_unreadable) == (3, 1)
    found = sorted(report.findings.values_list("category", "sa_id"))
    assert found == [
        (Category.ASSESSOR_UNLINKED, "31"),
        (Category.EMPLOYER_UNLINKED, "12"),
        (Category.LEARNER_UNLINKED, DUPLICATE_ID),
        (Category.LEARNER_UNLINKED, NO_MIS_ID),
    ]


def test_a_linked_employer_or_assessor_whose_mis_id_names_another_record_is_reported(sa_http):
    linked, named = OrganisationFactory(), OrganisationFactory()
    OrganisationLink.objects.create(organisation=linked, employer_id=12)
    officer = OfficerFactory()
    OfficerLink.objects.create(officer=officer, assessor_id=31)
    _lists(
        sa_http,
        [],
        employers=[wire.employer(SmartAssessorId=12, MISEmployerId=str(named.pk))],
        assessors=[wire.assessor(SmartAssessorId=31, MISAssessorId=str(officer.pk))],
    )

    report = reconciliation.reconciliation_build_now()

    (finding,) = report.findings.all()
    assert (finding.category, finding.sa_id, finding.organisation) == (
        Category.EMPLOYER_NAMED,
        "12",
        named,
    )
    assert finding.note == f"It is linked to another record of the MIS (id {linked.pk})."
    # The SA record is taken: nothing to link in one step. The assessor whose MIS id names
    # the officer linked to it is no finding.
    assert not finding.match


def test_two_likely_matches_are_none(sa_http):
    for ident in ("TWIN1", "TWIN2"):
        LearnerFactory(
            ident=ident,
            first_name="Amelia",
            surname="Jones",
            uln="",
            date_of_birth=dt.date(2004, 3, 15),
        )
    _lists(sa_http, [wire.learner(MISLearnerId="SA-ONLY", ULN=None)])

    finding = reconciliation.reconciliation_build_now().findings.get()

    assert finding.learner is None and not finding.match
    assert finding.note == "2 MIS learners have the names and date of birth."


def test_one_build_at_a_time(db):
    under_way = Reconciliation.objects.create()

    assert reconciliation.reconciliation_request(actor=None) == (under_way, False)
    with pytest.raises(ApplicationError, match="already being built"):
        reconciliation.reconciliation_build_now()


def test_a_build_ended_by_the_sweeper_meanwhile_writes_nothing(db, monkeypatch):
    report = Reconciliation.objects.create()

    def swept_while_reading(report_id):
        Reconciliation.objects.filter(pk=report_id).update(state=Reconciliation.State.FAILED)
        return [ReconciliationFinding(report_id=report_id, category=Category.LEARNER_GONE)], {}

    monkeypatch.setattr(reconciliation, "_build", swept_while_reading)
    reconciliation.reconciliation_build(report_id=report.pk)

    report.refresh_from_db()
    assert report.state == Reconciliation.State.FAILED
    assert not ReconciliationFinding.objects.exists()


def test_the_sweeper_fails_a_dead_workers_build_and_sends_a_lost_one_again(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr("smartassessor.tasks.build_reconciliation.delay", sent.append)
    now = timezone.now()
    dead = Reconciliation.objects.create(
        state=Reconciliation.State.RUNNING, lease_until=now - dt.timedelta(seconds=1)
    )

    assert reconciliation.reconciliations_sweep() == 1
    dead.refresh_from_db()
    assert dead.state == Reconciliation.State.FAILED and "worker was stopped" in dead.error

    lost = Reconciliation.objects.create(lease_until=now - dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert reconciliation.reconciliations_sweep() == 1
    assert sent == [lost.pk]
    lost.refresh_from_db()
    assert lost.state == Reconciliation.State.QUEUED and lost.lease_until > now

    Reconciliation.objects.filter(pk=lost.pk).update(
        requested_at=now - reconciliation.GIVE_UP_AFTER - dt.timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        reconciliation.reconciliations_sweep()
    lost.refresh_from_db()
    assert lost.state == Reconciliation.State.FAILED and "No worker took" in lost.error
    assert sent == [lost.pk]
