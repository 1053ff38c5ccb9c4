import pytest
from django.apps import apps
from django.urls import reverse

from imports import services

from . import ilr_files

pytestmark = pytest.mark.django_db

MODELS = [model._meta.model_name for model in apps.get_app_config("imports").get_models()]


@pytest.mark.parametrize("model_name", MODELS)
def test_integration_admins_read_every_record_of_the_imports(
    admin_client_ia, catalogue, admin_user, model_name
):
    services.commit(ilr_files.EXAMPLE, user=admin_user, file_name="ilr.xml")
    changelist = reverse(f"admin:imports_{model_name}_changelist")

    response = admin_client_ia.get(changelist)
    assert response.status_code == 200
    assert "ilr" in response.content.decode().lower()
    assert admin_client_ia.get(changelist, {"q": "a"}).status_code == 200


@pytest.mark.parametrize("model_name", MODELS)
def test_staff_do_not(staff_client, model_name):
    response = staff_client.get(reverse(f"admin:imports_{model_name}_changelist"))
    assert response.status_code in (302, 403)
