import datetime

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from learners.models import Attendance, QualificationStatus
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    OfficerRoleFactory,
    PlacementFactory,
    QualificationFactory,
    ReviewFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner():
    return LearnerFactory(
        ident="L-42",
        lrn="LRN42",
        uln="1234567899",
        first_name="Priya",
        surname="Shah",
        ni_number="AB123456C",
        email="priya@learner.example",
        mobile="07700 900123",
        address_line1="1 Mill Lane",
        address_line2="Kelham",
        postcode="S3 8BT",
        risk_band="medium",
        main_officer=OfficerFactory(forenames="Zoe", surname="Young"),
    )


def plan_page(client, learner) -> str:
    response = client.get(f"/learners/{learner.ident}/delivery-plan/")
    assert response.status_code == 200
    return response.content.decode()


def row(page: str, marker: str) -> str:
    """The rest of the table row that contains the marker."""
    return page.split(marker)[1].split("</tr>")[0]


def test_the_details_panel_shows_the_learner(staff_client, learner):
    mentor = OfficerFactory(forenames="Ray", surname="Mentor")
    learner.officer_roles.create(officer=mentor, role=OfficerRoleFactory(name="Mentor"))

    page = plan_page(staff_client, learner)

    for text in [
        "<dd>L-42</dd>",
        "<dd>LRN42</dd>",
        "<dd>1234567899</dd>",
        "<dd>17 May 2000</dd>",
        "<dd>AB123456C</dd>",
        "priya@learner.example</a>",
        "<dd>07700 900123</dd>",
        "1 Mill Lane<br>Kelham<br>S3 8BT",
        "1 Sep 2026 to 1 Mar 2028 (planned)",
        '<span class="badge badge--info">In learning</span>',
        '<span class="badge badge--warning">Medium</span>',
        f'<a href="/officers/{learner.main_officer.pk}/">Zoe Young</a>',
        f'Mentor: <a href="/officers/{mentor.pk}/">Ray Mentor</a>',
    ]:
        assert text in page, text


def test_the_current_employer_is_the_placement_covering_today_latest_start_wins(
    staff_client, learner
):
    today = timezone.localdate()
    days = datetime.timedelta
    PlacementFactory(
        learner=learner,
        organisation__name="Ended Ltd",
        start_date=today - days(300),
        end_date=today - days(1),
    )
    PlacementFactory(
        learner=learner, organisation__name="Older Current Ltd", start_date=today - days(200)
    )
    newest = PlacementFactory(
        learner=learner, organisation__name="Newest Current Ltd", start_date=today - days(10)
    )
    PlacementFactory(learner=learner, organisation__name="Future Ltd", start_date=today + days(5))

    page = plan_page(staff_client, learner)

    assert (
        "<dt>Current employer</dt>\n      <dd>"
        f'<a href="/organisations/{newest.organisation.pk}/">Newest Current Ltd</a></dd>' in page
    )
    assert page.count('<span class="badge badge--info">Current</span>') == 1
    current_row = row(page, "Newest Current Ltd</a></td>")
    assert "Current</span>" in current_row


def test_no_current_placement_says_none(staff_client, learner):
    page = plan_page(staff_client, learner)

    assert "<dt>Current employer</dt>\n      <dd>Not recorded</dd>" in page


def test_each_qualification_shows_its_progress_and_pace(staff_client, learner):
    LearnerQualificationFactory(
        learner=learner,
        qualification=QualificationFactory(reference="603/5074/9", title="Software Developer"),
        status=QualificationStatus.IN_PROGRESS,
        progress_percent=42,
        assessed_percent="37.50",
        mapped_percent=30,
        timeline_percent=60,
    )
    LearnerQualificationFactory(
        learner=learner,
        qualification=QualificationFactory(reference="ZPROG001", title="Programme aim"),
        progress_percent=55,
        timeline_percent=50,
        actual_end_date=datetime.date(2027, 12, 1),
        status=QualificationStatus.COMPLETED,
    )
    LearnerQualificationFactory(
        learner=learner,
        qualification=QualificationFactory(reference="Z-AHEAD", title="Functional Skills"),
        progress_percent=80,
        timeline_percent=20,
    )

    page = plan_page(staff_client, learner)

    behind = row(page, "<strong>603/5074/9</strong>")
    assert "<br>Software Developer" in behind
    assert '<span class="badge badge--info">In progress</span>' in behind
    assert 'value="42.00"' in behind and "<span>42%</span>" in behind
    assert "<dt>Assessed</dt><dd>37.5%</dd>" in behind
    assert "<dt>Mapped</dt><dd>30%</dd>" in behind
    assert "<dt>Timeline</dt><dd>60%</dd>" in behind
    assert '<span class="badge badge--bad">Behind</span>' in behind
    on_track = row(page, "<strong>ZPROG001</strong>")
    assert '<span class="badge badge--good">On track</span>' in on_track
    assert "<dt>Actual end</dt><dd>1 Dec 2027</dd>" in on_track
    assert '<span class="badge badge--good">Completed</span>' in on_track
    ahead = row(page, "<strong>Z-AHEAD</strong>")
    assert '<span class="badge badge--info">Ahead</span>' in ahead


def test_reviews_newest_first_with_their_attendance(staff_client, learner):
    reviewer = OfficerFactory(forenames="Amy", surname="Baker")
    ReviewFactory(
        learner=learner,
        review_type__name="Progress Review",
        proposed_at=datetime.datetime(2026, 10, 5, 9, 0, tzinfo=datetime.UTC),
        actual_at=datetime.datetime(2026, 10, 6, 14, 30, tzinfo=datetime.UTC),
        reviewer=reviewer,
        attendance=Attendance.ATTENDED,
        notes="Good progress\non the portfolio",
    )
    ReviewFactory(
        learner=learner,
        review_type__name="Exit Review",
        proposed_at=datetime.datetime(2027, 1, 10, 10, 0, tzinfo=datetime.UTC),
        reviewer=None,
        attendance=Attendance.NOT_ATTENDED,
    )

    page = plan_page(staff_client, learner)

    assert page.index("Exit Review") < page.index("Progress Review")
    first = row(page, "<td>Progress Review</td>")
    assert "<dt>Proposed</dt><dd>5 Oct 2026 10:00</dd>" in first  # in UK time
    assert "<dt>Actual</dt><dd>6 Oct 2026 15:30</dd>" in first
    assert f'<a href="/officers/{reviewer.pk}/">Amy Baker</a>' in first
    assert '<span class="badge badge--good">Attended</span>' in first
    assert "Good progress<br>on the portfolio" in first
    exit_review = row(page, "<td>Exit Review</td>")
    assert '<span class="badge badge--bad">Not attended</span>' in exit_review


def test_staff_get_the_add_and_edit_links(staff_client, learner):
    entry = LearnerQualificationFactory(learner=learner)
    placement = PlacementFactory(learner=learner)
    review = ReviewFactory(learner=learner)

    page = plan_page(staff_client, learner)

    for url in [
        "/learners/L-42/edit/",
        "/learners/L-42/qualifications/add/",
        f"/learners/L-42/qualifications/{entry.pk}/edit/",
        "/learners/L-42/placements/add/",
        f"/learners/L-42/placements/{placement.pk}/edit/",
        f"/learners/L-42/placements/{placement.pk}/end/",
        "/learners/L-42/reviews/add/",
        f"/learners/L-42/reviews/{review.pk}/edit/",
        "/learners/L-42/officers/add/",
    ]:
        assert f'href="{url}"' in page, url


def test_a_reader_without_edit_rights_gets_no_edit_links(client, learner):
    reader = UserFactory(username="reader")
    reader.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="learners", codename__startswith="view")
    )
    client.force_login(reader)
    LearnerQualificationFactory(learner=learner)
    ReviewFactory(learner=learner)

    page = plan_page(client, learner)

    assert "/edit/" not in page
    assert "/add/" not in page
    assert "Priya Shah" in page


def test_an_unknown_learner_is_not_found(staff_client):
    assert staff_client.get("/learners/NOPE/delivery-plan/").status_code == 404
