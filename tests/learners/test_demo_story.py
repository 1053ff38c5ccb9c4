"""The demo tells a true story: the README's tour, run on the demo data against the sandbox.

Enrol a demo learner, advance the sandbox, refresh: progress and reviews arrive, nothing the
MIS held is undone by Smart Assessor's 0 % of a new enrolment, and no session is attended on a
day still to come in the MIS.
"""

import datetime as dt

import pytest
from django.utils import timezone

from learners.demo import demo_data_load
from learners.models import (
    Attendance,
    Learner,
    LearnerQualification,
    LearnerStatus,
    QualificationStatus,
    Review,
    ReviewType,
)
from smartassessor.connection import client_from_settings
from smartassessor.forms import ReviewTypeMappingForm
from smartassessor.models import Enrolment, LinkRefresh, ReviewLink
from smartassessor.services import enrolment_requests, links
from smartassessor.services.sync import refresh
from tests.smartassessor.conftest import sa_sandbox  # noqa: F401

pytestmark = pytest.mark.django_db

LIVE = (LearnerStatus.IN_LEARNING, LearnerStatus.BREAK_IN_LEARNING)


def test_no_learner_in_learning_carries_progress_before_smart_assessor_sends_it(db):
    demo_data_load()

    live = LearnerQualification.objects.filter(learner__status__in=LIVE)
    assert live.count() > 30
    figures = ("progress_percent", "assessed_percent", "mapped_percent", "timeline_percent")
    for entry in live.exclude(status=QualificationStatus.COMPLETED):
        assert [getattr(entry, name) for name in figures] == [0, 0, 0, 0], entry
    # Ended programmes keep the figures they ended with.
    completed = LearnerQualification.objects.filter(status=QualificationStatus.COMPLETED)
    assert completed.exists()
    assert set(completed.values_list("progress_percent", flat=True)) == {100}


@pytest.fixture
def demo_at_the_sandbox(sa_sandbox):  # noqa: F811 (the fixture imported above)
    """The demo data, and the integration at the sandbox with its qualification links, as
    ``make run`` leaves them (``smartassessor demo`` and Refresh Qualification Links)."""
    demo_data_load()
    links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
    return sa_sandbox


def test_the_readme_tour_enrol_advance_refresh_brings_progress_and_reviews(demo_at_the_sandbox):
    learner = Learner.objects.get(ident="PW000101")
    standard = learner.qualifications.get(qualification__reference="ST0070")
    assert standard.progress_percent == 0
    reviews_before = learner.reviews.count()

    # As staff: Create in Smart Assessor, confirmed.
    enrolment, _ = enrolment_requests.enrolment_request(learner=learner, actor=None)
    enrolment = enrolment_requests.enrolment_run(enrolment_id=enrolment.pk)
    assert enrolment.state == Enrolment.State.ENROLLED, enrolment.last_error

    # Straight after the enrolment Smart Assessor says 0 %, and nothing is lost by it.
    refresh.learner_refresh_now(learner=learner)
    standard.refresh_from_db()
    assert standard.progress_percent == 0

    # The sandbox's clock moves on 14 days (the README's curl).
    demo_at_the_sandbox.advance(14)

    # As integration-admin, the Smart Assessor page proposes the event types whose names
    # are review types'; saving the page confirms them. The gateway is named differently on
    # each side, so it stays not mapped unless chosen by hand.
    event_types = client_from_settings().event_type_list()
    form = ReviewTypeMappingForm(event_types=event_types, current={})
    assert form.proposed == {"PR", "IND", "AV", "EXIT"}
    by_id = {str(review_type.pk): review_type for review_type in ReviewType.objects.all()}
    links.review_type_mapping_save(
        mapping={code: by_id[form.fields[code].initial] for code in form.proposed},
        names={event_type.code: event_type.name for event_type in event_types},
        actor=None,
    )

    # As staff: Refresh with Smart Assessor on the Delivery Plan.
    run = refresh.learner_refresh_now(learner=learner)
    assert run.state == run.State.SUCCEEDED, run.error

    standard.refresh_from_db()
    assert 0 < standard.progress_percent < 100
    assert 0 < standard.timeline_percent < 100
    from_sa = Review.objects.filter(learner=learner, pk__in=ReviewLink.objects.values("review_id"))
    assert from_sa.count() > 0
    assert learner.reviews.count() == reviews_before + from_sa.count()
    assert from_sa.filter(attendance=Attendance.ATTENDED).exists()
    # Nothing is attended on a day still to come in the MIS, though the sandbox is 14 days on.
    today = timezone.localdate()
    tomorrow = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time()))
    assert not from_sa.filter(attendance=Attendance.ATTENDED, actual_at__gte=tomorrow).exists()
    assert not from_sa.filter(actual_at__gt=timezone.now()).exists()
