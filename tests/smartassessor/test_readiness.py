"""Readiness on the Summary page (F34), and event types proposed for mapping (issue 13 pt 3)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from learners.models import Learner, LearnerStatus
from smartassessor.models import (
    CourseEnrolment,
    Enrolment,
    QualificationLink,
    ReviewTypeMapping,
    SyncRun,
)
from smartassessor.selectors import readiness
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    PlacementFactory,
    QualificationFactory,
    ReviewTypeFactory,
)

from .client import wire

TODAY = timezone.localdate()


def _ready(**overrides):
    """An in-learning learner Smart Assessor would take, but for ``overrides``."""
    learner = LearnerFactory(**overrides)
    PlacementFactory(learner=learner, start_date=TODAY - dt.timedelta(days=30))
    qualification = QualificationFactory()
    QualificationLink.objects.create(
        qualification=qualification, course_id=qualification.pk + 100, course_title="Course"
    )
    LearnerQualificationFactory(learner=learner, qualification=qualification)
    return learner


@pytest.fixture
def mix(sa_settings):
    learners = {
        "fine": _ready(),
        "no_email": _ready(email=""),
        "no_officer": _ready(main_officer=None),
        "young": _ready(date_of_birth=TODAY.replace(year=TODAY.year - 13)),
        "no_employer": LearnerFactory(),
        "withdrawn": _ready(
            email="", status=LearnerStatus.WITHDRAWN, actual_end_date=TODAY - dt.timedelta(days=60)
        ),
    }
    LearnerQualificationFactory(learner=learners["no_employer"])  # a course SA does not offer
    bad_uln, temporary = _ready(), _ready()
    # Stored before the rule, or by an import: the forms would refuse both.
    Learner.objects.filter(pk=bad_uln.pk).update(uln="1000000001")
    Learner.objects.filter(pk=temporary.pk).update(uln=readiness.TEMPORARY_ULN)
    learners |= {"bad_uln": bad_uln, "temporary": temporary}
    enrolled = _ready(email="")
    enrolment = Enrolment.objects.create(
        learner=enrolled, state=Enrolment.State.ENROLLED, sa_learner_id=wire.LEARNER_ID
    )
    CourseEnrolment.objects.create(
        enrolment=enrolment,
        learner_qualification=enrolled.qualifications.get(),
        state=CourseEnrolment.State.ENROLLED,
        sa_learner_course_id=wire.LEARNER_COURSE_ID,
    )
    learners["enrolled"] = enrolled
    return learners


def _counts():
    return {
        group: (total, {p.key: p.count for p in problems})
        for group, (total, problems) in readiness.readiness_counts().items()
    }


def test_the_counts_of_a_seeded_mix(mix):
    assert _counts() == {
        readiness.WOULD_ENROL: (
            7,
            {
                "no_email": 1,
                "no_employer": 1,
                "no_officer": 1,
                "no_qualification": 1,
                "bad_uln": 2,
                "age": 1,
            },
        ),
        readiness.SYNCED: (
            1,
            {
                "no_email": 1,
                "no_employer": 0,
                "no_officer": 0,
                "no_qualification": 0,
                "bad_uln": 0,
                "age": 0,
            },
        ),
    }


def test_each_count_opens_its_learners(mix, admin_client_ia):
    url = reverse("smartassessor:readiness_learners", args=[readiness.WOULD_ENROL, "bad_uln"])
    page = admin_client_ia.get(url).content.decode()
    assert mix["bad_uln"].full_name in page and mix["temporary"].full_name in page
    assert mix["fine"].full_name not in page
    missing = reverse("smartassessor:readiness_learners", args=[readiness.WOULD_ENROL, "nope"])
    assert admin_client_ia.get(missing).status_code == 404


def test_staff_may_not_see_the_readiness_lists(mix, staff_client):
    url = reverse("smartassessor:readiness_learners", args=[readiness.SYNCED, "no_email"])
    assert staff_client.get(url).status_code == 403


def test_the_counts_cost_the_same_queries_for_few_learners_and_many(
    sa_settings, django_assert_num_queries
):
    _ready(email="")
    with django_assert_num_queries(2) as few:
        readiness.readiness_counts()
    for _ in range(15):
        _ready(email="", main_officer=None)
    with django_assert_num_queries(len(few.captured_queries)):
        counts = readiness.readiness_counts()
    assert counts[readiness.WOULD_ENROL][0] == 16


# --- Event types proposed for mapping ------------------------------------------------------


@pytest.fixture
def event_types(sa_http):
    sa_http.get(
        wire.API + "/event-types",
        json={
            "Items": [
                {"Code": "PR", "Name": "Progress Review"},
                {"Code": "AV", "Name": "Assessment Visit"},
                {"Code": "OT", "Name": "Other"},
            ]
        },
    )
    return sa_http


def test_event_types_named_as_review_types_are_proposed_and_the_rest_say_what_they_hide(
    event_types, admin_client_ia
):
    review = ReviewTypeFactory(name="progress review")
    ReviewTypeMapping.objects.create(event_type_code="AV", review_type=None)  # ignored
    SyncRun.objects.create(
        trigger=SyncRun.Trigger.DAILY,
        state=SyncRun.State.SUCCEEDED,
        finished_at=timezone.now(),
        unmapped_event_types=19,
        unmapped_codes=["OT", "PR"],
        unmapped_sessions={"PR": 15, "OT": 4},
    )

    # The Summary's mapping part, which loads after the page.
    response = admin_client_ia.get(
        reverse("smartassessor:review_mapping_panel"), headers={"HX-Request": "true"}
    )
    form = response.context["mapping_form"]
    assert form["PR"].initial == str(review.pk)
    assert form.proposed == {"PR"}
    assert form["OT"].initial == "" and form["AV"].initial == "ignore"
    page = response.content.decode()
    assert "Proposed: the names match. Save to confirm." in page
    assert "Progress Review (PR): 15 sessions hidden in the last daily run" in page
    assert "Other (OT): 4 sessions hidden in the last daily run" in page
    assert "Assessment Visit (AV):" not in page  # ignored on purpose: not a warning
    assert "2 Smart Assessor event types not mapped yet</a>, hiding 19 sessions" in page


def test_saving_confirms_a_proposal_and_keeps_an_unchosen_type_unmapped(
    event_types, admin_client_ia
):
    review = ReviewTypeFactory(name="Progress Review")
    response = admin_client_ia.post(
        reverse("smartassessor:review_mapping"), {"PR": str(review.pk), "AV": "ignore", "OT": ""}
    )
    assert response.status_code == 302
    rows = dict(ReviewTypeMapping.objects.values_list("event_type_code", "review_type_id"))
    assert rows == {"PR": review.pk, "AV": None}

    admin_client_ia.post(
        reverse("smartassessor:review_mapping"), {"PR": "", "AV": "ignore", "OT": ""}
    )
    assert set(ReviewTypeMapping.objects.values_list("event_type_code", flat=True)) == {"AV"}


def test_the_sql_uln_check_agrees_with_the_forms_rule(sa_settings):
    """The readiness count works the check digit out in SQL; it must agree with the rule
    the forms apply (learners.validators), for good, bad and malformed ULNs."""
    import random

    from learners.validators import uln_is_valid

    chance = random.Random(15)
    ulns = {f"{chance.randrange(1_000_000_000, 10_000_000_000)}" for _ in range(80)}
    ulns |= {"0123456789", "12345678", "12345 7890", "12345x7890", " 123456789", ""}
    ulns.add(readiness.TEMPORARY_ULN)
    learners = {}
    for uln in sorted(ulns):
        learner = _ready()
        Learner.objects.filter(pk=learner.pk).update(uln=uln)
        learners[learner.pk] = uln
    expected = {
        pk
        for pk, uln in learners.items()
        if uln and (uln == readiness.TEMPORARY_ULN or not uln_is_valid(uln))
    }

    _, found = readiness.readiness_learners(group=readiness.WOULD_ENROL, problem="bad_uln")

    assert any(uln_is_valid(uln) for uln in ulns) and expected
    assert {learner.pk for learner in found} == expected
    assert _counts()[readiness.WOULD_ENROL][1]["bad_uln"] == len(expected)


def test_the_summary_loads_its_counts_after_the_page(mix, admin_client_ia, staff_user):
    from django.test import Client

    summary = admin_client_ia.get(reverse("smartassessor:summary")).content.decode()
    panel = reverse("smartassessor:readiness_panel")

    assert f'hx-get="{panel}" hx-trigger="load"' in summary
    assert (
        "Counting the learners" in summary
        and readiness.GROUPS[readiness.WOULD_ENROL] not in summary
    )

    loaded = admin_client_ia.get(panel, HTTP_HX_REQUEST="true").content.decode()
    assert loaded.startswith('<div class="detail-grid detail-grid--wide" id="readiness">')
    assert f"{readiness.GROUPS[readiness.WOULD_ENROL]}: " in loaded
    no_email = reverse("smartassessor:readiness_learners", args=[readiness.WOULD_ENROL, "no_email"])
    assert f'<a href="{no_email}">1</a>' in loaded
    # Without htmx (no JavaScript): a page of its own, in the frame.
    page = admin_client_ia.get(panel).content.decode()
    assert '<h1 id="readiness-title">Readiness</h1>' in page and f'href="{no_email}"' in page
    staff = Client()
    staff.force_login(staff_user)
    assert staff.get(panel).status_code == 403
