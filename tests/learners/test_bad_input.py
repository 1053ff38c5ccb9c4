"""Bad input gets a clear error, never a 500 (issue 9.6): NUL characters and cross-field rules.

PostgreSQL refuses NUL in any query, so each test that sends one runs on the suite's database.
"""

import datetime
import html
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from learners.models import Learner, LearnerQualification, Review
from smartassessor.models import IntegrationSettings
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    OrganisationFactory,
    QualificationFactory,
    ReviewFactory,
)

from .test_forms import field_error, learner_data, qualification_data

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "The request holds a NUL character (U+0000)"


@pytest.fixture
def records():
    learner = LearnerFactory(ident="PW000101")
    return {"learner": learner, "officer": learner.main_officer, "org": OrganisationFactory()}


def _pages(records) -> list[tuple[str, str]]:
    """(address, query parameter) for each search, filter and page number of the pages."""
    officer, org = records["officer"], records["org"]
    return [
        *(("/learners/", name) for name in ("q", "status", "officer", "sort", "page")),
        *(("/officers/", name) for name in ("q", "active", "page")),
        ("/organisations/", "q"),
        ("/organisations/", "page"),
        (f"/officers/{officer.pk}/", "page"),
        (f"/organisations/{org.pk}/", "page"),
        ("/learners/PW000101/delivery-plan/", "anything"),
        (reverse("admin:learners_learner_changelist"), "q"),
        (reverse("admin:learners_learner_changelist"), "status"),
    ]


def test_a_nul_in_any_query_parameter_of_the_pages_answers_400(admin_client_ia, records):
    for url, name in _pages(records):
        assert admin_client_ia.get(url).status_code == 200, url  # the page itself works
        response = admin_client_ia.get(url, {name: "a\x00b"})
        assert response.status_code == 400, (url, name)
        page = html.unescape(response.content.decode())
        assert NUL_MESSAGE + " in the address's search or filters" in page, (url, name)
        assert "Traceback" not in page


def test_a_nul_in_a_query_parameter_name_answers_400(staff_client, db):
    assert staff_client.get("/learners/?q%00=x").status_code == 400


def test_a_nul_in_an_address_answers_400(staff_client, records):
    for url in ("/learners/PW%00/delivery-plan/", "/learners/PW%00/edit/", "/officers/%00/"):
        response = staff_client.get(url)
        assert response.status_code == 400, url
        assert NUL_MESSAGE + " in the address" in html.unescape(response.content.decode())


@pytest.fixture
def api(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/api/learners/?search=%00",
        "/api/learners/?page=%00",
        "/api/learners/PW%00/",
        "/api/learners/PW%00/delivery-plan/",
        "/api/learners/PW%00/enrolment/",
        "/api/learners/PW%00/refresh/",
    ],
)
def test_a_nul_in_an_api_address_answers_400_in_json(api, records, url):
    response = api.get(url)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(NUL_MESSAGE)


def test_a_nul_in_a_json_body_answers_400(api, records):
    IntegrationSettings.objects.update_or_create(pk=1, defaults={"enabled": True})

    response = api.post(
        "/api/learners/PW000101/enrolment/",
        json.dumps({"note": "a\u0000b"}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": NUL_MESSAGE + " in the JSON body, which nothing in "
        "picsweb can store. Remove it and try again."
    }
    assert not records["learner"].smartassessor_enrolments.exists()


def test_an_escaped_backslash_before_u0000_is_text_not_nul(api, records):
    body = json.dumps({"note": "\\u0000"})  # the text backslash-u-0000, escaped once more

    response = api.generic("GET", "/api/learners/", body, content_type="application/json")

    assert response.status_code == 200


def test_a_nul_in_a_form_field_answers_400_and_saves_nothing(staff_client, records):
    response = staff_client.post("/organisations/add/", {"name": "Acme\x00", "postcode": "S1 2AB"})

    assert response.status_code == 400
    assert NUL_MESSAGE + " in a form field" in html.unescape(response.content.decode())
    assert not records["org"].__class__.objects.filter(name__startswith="Acme").exists()


def test_a_nul_in_a_cookie_answers_400(client, db):
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"

    assert client.get("/accounts/login/").status_code == 400


# --- Cross-field rules ------------------------------------------------------------------------


def test_a_date_of_birth_in_the_future_is_refused(staff_client):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    page = staff_client.post(
        "/learners/add/", learner_data(date_of_birth=tomorrow.isoformat())
    ).content.decode()

    assert field_error(page, "date_of_birth") == "The date of birth cannot be in the future."
    assert not Learner.objects.exists()


def test_a_uln_used_by_another_learner_is_refused_naming_that_learner(staff_client):
    LearnerFactory(ident="PW000101", first_name="Sam", surname="Taylor", uln="1234567899")

    page = staff_client.post("/learners/add/", learner_data(uln="1234567899")).content.decode()

    assert html.unescape(field_error(page, "uln")) == (
        "This ULN is already recorded for Sam Taylor (PW000101); a ULN belongs to one learner only."
    )
    assert Learner.objects.count() == 1


def test_a_learner_keeps_its_own_uln_when_edited(staff_client):
    LearnerFactory(ident="PW000101", uln="1234567899")

    response = staff_client.post(
        "/learners/PW000101/edit/", learner_data(uln="1234567899", first_name="Renamed")
    )

    assert response.status_code == 302
    assert Learner.objects.get().first_name == "Renamed"


def test_a_completed_qualification_needs_its_actual_end_date(staff_client):
    LearnerFactory(ident="PW000101")
    qualification = QualificationFactory()
    url = "/learners/PW000101/qualifications/add/"

    refused = staff_client.post(url, qualification_data(qualification, status="completed"))
    accepted = staff_client.post(
        url,
        qualification_data(qualification, status="completed", actual_end_date="2027-06-30"),
    )

    assert field_error(refused.content.decode(), "actual_end_date") == (
        "A completed qualification needs its actual end date."
    )
    assert accepted.status_code == 302
    assert LearnerQualification.objects.get().actual_end_date == datetime.date(2027, 6, 30)


def test_editing_a_qualification_to_completed_needs_its_actual_end_date(staff_client):
    entry = LearnerQualificationFactory(learner=LearnerFactory(ident="PW000101"))

    page = staff_client.post(
        f"/learners/PW000101/qualifications/{entry.pk}/edit/",
        qualification_data(entry.qualification, status="completed"),
    ).content.decode()

    assert "A completed qualification needs its actual end date." in page
    entry.refresh_from_db()
    assert entry.status == "not_started"


def test_an_attended_review_needs_its_actual_date(staff_client):
    learner = LearnerFactory(ident="PW000101")
    review = ReviewFactory(learner=learner, reviewer=OfficerFactory())
    data = {"proposed_at": "2026-10-05T10:00", "attendance": "attended", "notes": ""}

    added = staff_client.post("/learners/PW000101/reviews/add/", data)
    edited = staff_client.post(f"/learners/PW000101/reviews/{review.pk}/edit/", data)

    message = "An attended review needs its actual date and time."
    assert field_error(added.content.decode(), "actual_at") == message
    assert field_error(edited.content.decode(), "actual_at") == message
    assert list(Review.objects.values_list("attendance", flat=True)) == ["unknown"]


def test_a_nul_in_the_api_token_header_answers_400(client, db):
    response = client.get("/api/learners/", headers={"Authorization": "Token abc\x00def"})

    assert response.status_code == 400
    assert response.json()["detail"].startswith(NUL_MESSAGE + " in a header")
