import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerFactory,
    PlacementFactory,
    QualificationFactory,
    ReviewFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(staff_user):
    client = APIClient()
    client.force_authenticate(staff_user)
    return client


def test_the_list_is_paged_and_searchable(api):
    LearnerFactory(ident="A-1", first_name="Priya", surname="Shah", lrn="LRN1")
    LearnerFactory.create_batch(51)

    first = api.get("/api/learners/").json()
    found = api.get("/api/learners/", {"search": "priya shah"}).json()

    assert first["count"] == 52
    assert len(first["results"]) == 50
    assert first["next"].endswith("/api/learners/?page=2")
    assert [learner["ident"] for learner in found["results"]] == ["A-1"]
    assert found["results"][0]["full_name"] == "Priya Shah"


def test_a_learners_details(api):
    learner = LearnerFactory(
        ident="A-1",
        uln="1234567899",
        main_officer=OfficerFactory(forenames="Zoe", surname="Young"),
    )

    body = api.get("/api/learners/A-1/").json()

    assert body["ident"] == "A-1"
    assert body["uln"] == "1234567899"
    assert body["date_of_birth"] == "2000-05-17"
    assert body["status"] == "in_learning"
    assert body["main_officer"]["full_name"] == "Zoe Young"
    assert body["main_officer"]["id"] == learner.main_officer_id
    assert body["officer_roles"] == []


def test_the_delivery_plan(api):
    today = timezone.localdate()
    learner = LearnerFactory(ident="A-1")
    LearnerQualificationFactory(
        learner=learner,
        qualification=QualificationFactory(reference="603/5074/9"),
        progress_percent=20,
        timeline_percent=50,
    )
    PlacementFactory(
        learner=learner,
        organisation__name="Ended Ltd",
        start_date=today - datetime.timedelta(days=90),
        end_date=today - datetime.timedelta(days=1),
    )
    PlacementFactory(
        learner=learner, organisation__name="Acme", start_date=today - datetime.timedelta(days=5)
    )
    ReviewFactory(learner=learner, notes="On track", review_type__name="Progress Review")

    body = api.get("/api/learners/A-1/delivery-plan/").json()

    assert body["learner"]["ident"] == "A-1"
    [qualification] = body["qualifications"]
    assert qualification["reference"] == "603/5074/9"
    assert qualification["progress_percent"] == "20.00"
    assert qualification["pace"] == "behind"
    assert body["current_placement"]["organisation"]["name"] == "Acme"
    assert body["reviews"][0]["notes"] == "On track"
    assert body["reviews"][0]["review_type"] == "Progress Review"


def test_a_learner_without_placement_has_no_current_placement(api):
    LearnerFactory(ident="A-1")

    assert api.get("/api/learners/A-1/delivery-plan/").json()["current_placement"] is None


def test_an_unknown_learner_is_404(api):
    assert api.get("/api/learners/NOPE/").status_code == 404
    assert api.get("/api/learners/NOPE/delivery-plan/").status_code == 404


@pytest.mark.parametrize(
    "url", ["/api/learners/", "/api/learners/A-1/", "/api/learners/A-1/delivery-plan/"]
)
def test_a_user_without_the_view_right_gets_403(url):
    LearnerFactory(ident="A-1")
    client = APIClient()
    client.force_authenticate(UserFactory(username="nobody"))

    response = client.get(url)

    assert response.status_code == 403
    assert response.json() == {"detail": "Your account may not view learners."}


@pytest.mark.parametrize(
    "url", ["/api/learners/", "/api/learners/A-1/", "/api/learners/A-1/delivery-plan/"]
)
def test_an_anonymous_caller_is_refused_not_redirected(url):
    LearnerFactory(ident="A-1")

    response = APIClient().get(url)

    assert response.status_code in (401, 403)
    assert "credentials were not provided" in response.json()["detail"]


def test_a_token_signs_in(staff_user):
    LearnerFactory(ident="A-1")
    token = Token.objects.create(user=staff_user)
    client = APIClient()

    refused = client.get("/api/learners/", HTTP_AUTHORIZATION="Token not-a-token")
    response = client.get("/api/learners/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert refused.status_code in (401, 403)
    assert refused.json() == {"detail": "Invalid token."}
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_the_session_of_the_pages_signs_in_too(staff_client):
    assert staff_client.get("/api/learners/").status_code == 200


def test_the_schema_is_valid_without_warnings(tmp_path):
    schema = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))

    text = schema.read_text()
    assert "/api/learners/{ident}/delivery-plan/:" in text
    assert "LearnerStatusEnum:" in text and "QualificationStatusEnum:" in text
