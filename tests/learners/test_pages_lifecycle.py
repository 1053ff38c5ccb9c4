"""Breaks in learning, returns, withdrawals and off-the-job hours as staff meet them: on the
Delivery Plan and through its forms."""

import datetime
import html
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from learners.models import BreakInLearning, LearnerQualification, QualificationStatus
from tests.factories import (
    BreakInLearningFactory,
    LearnerFactory,
    LearnerQualificationFactory,
    QualificationFactory,
    UserFactory,
)

from .test_forms import field_error, learner_data, qualification_data

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def learner():
    return LearnerFactory(ident="L-1", first_name="Priya", surname="Shah")


@pytest.fixture
def entry(learner):
    return LearnerQualificationFactory(
        learner=learner,
        qualification=QualificationFactory(reference="603/5074/9", title="Software Developer"),
        status=QualificationStatus.IN_PROGRESS,
        timeline_percent=50,
    )


def plan_page(client) -> str:
    response = client.get("/learners/L-1/delivery-plan/")
    assert response.status_code == 200
    return response.content.decode()


def row(page: str, reference: str) -> str:
    return page.split(f"<strong>{reference}</strong>")[1].split("</tr>")[0]


def start_url(entry) -> str:
    return f"/learners/L-1/qualifications/{entry.pk}/breaks/add/"


def return_url(entry, brk) -> str:
    return f"/learners/L-1/qualifications/{entry.pk}/breaks/{brk.pk}/return/"


def shown(response) -> str:
    return html.unescape(response.content.decode())


# --- The Delivery Plan -----------------------------------------------------------------------


def test_each_qualification_shows_its_breaks_ongoing_last(staff_client, entry, learner):
    BreakInLearningFactory(learner_qualification=entry, start_date=D(2026, 11, 2))
    BreakInLearningFactory(
        learner_qualification=entry, start_date=D(2026, 10, 5), end_date=D(2026, 10, 9)
    )
    LearnerQualificationFactory(learner=learner, qualification__reference="ZPROG001")

    page = plan_page(staff_client)

    assert (
        "<dt>Breaks</dt>\n                      <dd>\n                        "
        "5 Oct 2026 – 9 Oct 2026<br>2 Nov 2026 – ongoing\n"
    ) in row(page, "603/5074/9")
    assert re.search(r"<dt>Breaks</dt>\s*<dd>\s*–\s*</dd>", row(page, "ZPROG001"))


@pytest.mark.parametrize(
    ("planned", "actual", "text", "badge"),
    [
        ("120", "42", "42.0 of 120.0 h", '<span class="badge badge--bad">Behind</span>'),
        ("120", "60", "60.0 of 120.0 h", '<span class="badge badge--good">On track</span>'),
        ("120", "90.5", "90.5 of 120.0 h", '<span class="badge badge--info">Ahead</span>'),
        ("120", None, "Not recorded (120.0 h planned)", None),
        (None, "42", "42.0 h (none planned)", None),
        (None, None, "Not recorded", None),
    ],
)
def test_each_qualification_shows_its_off_the_job_hours_against_the_timeline(
    staff_client, entry, planned, actual, text, badge
):
    entry.off_the_job_hours_planned = planned and Decimal(planned)
    entry.off_the_job_hours_actual = actual and Decimal(actual)
    entry.save()

    hours = row(plan_page(staff_client), "603/5074/9").split("</td>")[-2]

    assert text in hours
    assert (badge in hours) if badge else ("badge" not in hours)


def test_the_actions_follow_the_qualifications_state(staff_client, learner, entry):
    on_break = LearnerQualificationFactory(
        learner=learner, status=QualificationStatus.BREAK_IN_LEARNING, qualification__reference="B"
    )
    brk = BreakInLearningFactory(learner_qualification=on_break, start_date=D(2026, 11, 2))
    LearnerQualificationFactory(
        learner=learner,
        status=QualificationStatus.COMPLETED,
        actual_end_date=D(2026, 11, 20),
        qualification__reference="C",
    )

    page = plan_page(staff_client)

    assert f'href="{start_url(entry)}">Record a break' in row(page, "603/5074/9")
    assert "Record the return" not in row(page, "603/5074/9")
    assert f'href="{return_url(on_break, brk)}">Record the return' in row(page, "B")
    assert "Record a break" not in row(page, "B")
    assert "Record" not in row(page, "C")


def test_a_reader_without_the_right_gets_no_lifecycle_actions(client, entry):
    reader = UserFactory(username="reader")
    reader.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="learners", codename__startswith="view")
    )
    client.force_login(reader)

    page = plan_page(client)

    assert "603/5074/9" in page
    assert "/breaks/" not in page


# --- Record a break, record the return ---------------------------------------------------------


def test_recording_a_break_puts_the_qualification_on_a_break(staff_client, entry):
    form = staff_client.get(start_url(entry)).content.decode()
    response = staff_client.post(start_url(entry), {"start_date": "2026-11-02"}, follow=True)

    assert "Record a break in learning: 603/5074/9 Software Developer for Priya Shah" in form
    assert '<label for="id_start_date">Start date</label>' in form
    assert f'value="{timezone.localdate():%Y-%m-%d}"' in form
    assert response.redirect_chain == [("/learners/L-1/delivery-plan/", 302)]
    assert "603/5074/9 Software Developer is on a break in learning from 2 Nov 2026." in shown(
        response
    )
    entry.refresh_from_db()
    assert entry.status == QualificationStatus.BREAK_IN_LEARNING
    assert entry.breaks.get().start_date == D(2026, 11, 2)


def test_a_break_in_the_future_is_refused_next_to_its_date(staff_client, entry):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    page = staff_client.post(start_url(entry), {"start_date": f"{tomorrow:%Y-%m-%d}"})

    assert field_error(page.content.decode(), "start_date") == (
        "A break cannot start in the future."
    )
    assert not BreakInLearning.objects.exists()


def test_a_break_on_a_completed_qualification_is_refused_with_what_to_do(staff_client, entry):
    entry.status, entry.actual_end_date = QualificationStatus.COMPLETED, D(2026, 11, 20)
    entry.save()

    page = staff_client.post(start_url(entry), {"start_date": "2026-11-02"}).content.decode()

    assert html.unescape(field_error(page, "start_date")) == (
        "The qualification is completed: a break can be recorded only on a qualification that "
        "is not started or in progress."
    )
    assert "Nothing was saved" in page
    assert not BreakInLearning.objects.exists()


def test_recording_the_return_puts_the_qualification_back_in_progress(staff_client, entry):
    staff_client.post(start_url(entry), {"start_date": "2026-10-05"})
    brk = entry.breaks.get()

    form = staff_client.get(return_url(entry, brk)).content.decode()
    refused = staff_client.post(return_url(entry, brk), {"end_date": "2026-10-04"})
    blank = staff_client.post(return_url(entry, brk), {"end_date": ""})
    response = staff_client.post(return_url(entry, brk), {"end_date": "2026-11-02"}, follow=True)

    assert "Record the return from the break of 5 Oct 2026" in form
    assert '<label for="id_end_date">Return date</label>' in form
    assert field_error(refused.content.decode(), "end_date") == (
        "The return cannot be before the start of the break."
    )
    assert field_error(blank.content.decode(), "end_date") == "This field is required."
    assert (
        "603/5074/9 Software Developer: the learner returned on 2 Nov 2026 and the "
        "qualification is in progress."
    ) in shown(response)
    brk.refresh_from_db()
    entry.refresh_from_db()
    assert brk.end_date == D(2026, 11, 2)
    assert entry.status == QualificationStatus.IN_PROGRESS


def test_the_qualification_form_takes_planned_off_the_job_hours(staff_client, entry):
    url = f"/learners/L-1/qualifications/{entry.pk}/edit/"

    form = staff_client.get(url).content.decode()
    refused = staff_client.post(
        url, qualification_data(entry.qualification, off_the_job_hours_planned="5000.5")
    ).content.decode()
    staff_client.post(
        url, qualification_data(entry.qualification, off_the_job_hours_planned="412.5")
    )

    assert '<label for="id_off_the_job_hours_planned">Planned off-the-job hours' in form
    assert 'name="off_the_job_hours_actual"' not in form
    assert "less than or equal to 5000" in field_error(refused, "off_the_job_hours_planned")
    entry.refresh_from_db()
    assert entry.off_the_job_hours_planned == Decimal("412.5")


def test_the_qualification_form_sends_breaks_to_their_own_page(staff_client, entry):
    url = f"/learners/L-1/qualifications/{entry.pk}/edit/"

    page = staff_client.post(
        url, qualification_data(entry.qualification, status="break_in_learning")
    ).content.decode()

    assert field_error(page, "status") == (
        "A break in learning is recorded with its start date: use Record a break on the "
        "Delivery Plan rather than the status."
    )
    assert LearnerQualification.objects.get().status == QualificationStatus.IN_PROGRESS


def test_withdrawing_on_a_break_from_the_qualification_form_ends_the_break(staff_client, entry):
    staff_client.post(start_url(entry), {"start_date": "2026-10-05"})

    staff_client.post(
        f"/learners/L-1/qualifications/{entry.pk}/edit/",
        qualification_data(entry.qualification, status="withdrawn", actual_end_date="2026-11-20"),
    )

    entry.refresh_from_db()
    assert entry.status == QualificationStatus.WITHDRAWN
    assert entry.breaks.get().end_date == D(2026, 11, 20)


def test_withdrawing_the_learner_withdraws_their_qualifications(staff_client, learner, entry):
    refused = staff_client.post("/learners/L-1/edit/", learner_data(status="withdrawn"))
    response = staff_client.post(
        "/learners/L-1/edit/",
        learner_data(
            first_name="Priya", surname="Shah", status="withdrawn", actual_end_date="2026-11-20"
        ),
        follow=True,
    )

    assert field_error(refused.content.decode(), "actual_end_date") == (
        "A withdrawn learner needs their actual end date."
    )
    assert "Priya Shah&#x27;s details were saved." in response.content.decode()
    entry.refresh_from_db()
    assert (entry.status, entry.actual_end_date) == ("withdrawn", D(2026, 11, 20))


# --- Who may --------------------------------------------------------------------------------------


@pytest.fixture
def lifecycle_pages(entry):
    brk = BreakInLearningFactory(learner_qualification=entry, start_date=D(2026, 10, 5))
    return [start_url(entry), return_url(entry, brk)]


def test_anonymous_visitors_are_sent_to_log_in(client, lifecycle_pages):
    for url in lifecycle_pages:
        response = client.post(url, {"start_date": "2026-11-02", "end_date": "2026-11-02"})
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url
    assert BreakInLearning.objects.get().end_date is None


def test_a_user_without_the_right_is_refused(nobody_client, lifecycle_pages):
    for url in lifecycle_pages:
        assert nobody_client.get(url).status_code == 403, url
        response = nobody_client.post(url, {"start_date": "2026-11-02", "end_date": "2026-11-02"})
        assert response.status_code == 403, url
    assert BreakInLearning.objects.get().end_date is None


def test_a_qualification_or_break_of_another_learner_is_not_found(staff_client, entry):
    LearnerFactory(ident="L-2")
    other_break = BreakInLearningFactory(start_date=D(2026, 10, 5))
    own_break = BreakInLearningFactory(learner_qualification=entry, start_date=D(2026, 10, 5))
    other_entry = other_break.learner_qualification

    assert (
        staff_client.get(f"/learners/L-2/qualifications/{entry.pk}/breaks/add/").status_code == 404
    )
    assert staff_client.get(start_url(other_entry)).status_code == 404
    assert staff_client.get(return_url(entry, other_break)).status_code == 404
    assert (
        staff_client.get(
            f"/learners/L-2/qualifications/{entry.pk}/breaks/{own_break.pk}/return/"
        ).status_code
        == 404
    )
