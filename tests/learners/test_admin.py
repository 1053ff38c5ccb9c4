import pytest
from django.apps import apps
from django.urls import reverse

from learners.models import Learner, Organisation
from tests.factories import (
    LearnerFactory,
    LearnerQualificationFactory,
    OfficerRoleFactory,
    PlacementFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db

MODELS = [model._meta.model_name for model in apps.get_app_config("learners").get_models()]


@pytest.fixture
def some_of_everything():
    learner = LearnerFactory()
    LearnerQualificationFactory(learner=learner)
    PlacementFactory(learner=learner)
    ReviewFactory(learner=learner)
    learner.officer_roles.create(officer=learner.main_officer, role=OfficerRoleFactory())
    return learner


@pytest.mark.parametrize("model_name", MODELS)
def test_each_changelist_loads_searches_and_adds_for_an_integration_admin(
    admin_client_ia, some_of_everything, model_name
):
    changelist = reverse(f"admin:learners_{model_name}_changelist")

    assert admin_client_ia.get(changelist).status_code == 200
    assert admin_client_ia.get(changelist, {"q": "a"}).status_code == 200
    assert admin_client_ia.get(reverse(f"admin:learners_{model_name}_add")).status_code == 200


def test_the_learner_change_page_shows_its_plan_inline(admin_client_ia, some_of_everything):
    url = reverse("admin:learners_learner_change", args=[some_of_everything.pk])

    page = admin_client_ia.get(url).content.decode()

    assert "qualifications-0-qualification" in page
    assert "placements-0-organisation" in page
    assert "officer_roles-0-officer" in page


def test_the_admin_normalises_the_postcode_as_the_pages_do(admin_client_ia):
    response = admin_client_ia.post(
        reverse("admin:learners_organisation_add"),
        {"name": "Acme", "address_line1": "1 Mill Lane", "postcode": "s3 8bt"},
    )

    assert response.status_code == 302
    assert Organisation.objects.get().postcode == "S3 8BT"


def test_every_learners_model_is_registered():
    from django.contrib import admin

    assert {
        model._meta.model_name
        for model in admin.site._registry
        if model._meta.app_label == "learners"
    } == set(MODELS)
    assert Learner in admin.site._registry
