import pytest
from django.apps import apps
from django.urls import reverse

pytestmark = pytest.mark.django_db

MODELS = [
    model._meta.model_name
    for model in apps.get_app_config("smartassessor").get_models()
    if model._meta.model_name != "integrationsettings"
]


@pytest.mark.parametrize("model_name", MODELS)
def test_integration_admins_see_every_record_of_the_integration(admin_client_ia, model_name):
    changelist = reverse(f"admin:smartassessor_{model_name}_changelist")
    assert admin_client_ia.get(changelist).status_code == 200
    assert admin_client_ia.get(changelist, {"q": "a"}).status_code == 200


def test_the_settings_page_is_the_one_record(admin_client_ia):
    response = admin_client_ia.get(reverse("admin:smartassessor_integrationsettings_changelist"))
    assert response.status_code == 302
    assert response.url == reverse("admin:smartassessor_integrationsettings_change", args=[1])


def test_staff_may_not_open_the_integration_admin(staff_client):
    changelist = reverse("admin:smartassessor_enrolment_changelist")
    assert staff_client.get(changelist).status_code == 403
