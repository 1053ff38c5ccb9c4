"""The API answers the product's errors 400 with their messages, whatever raised them: an
``ApplicationError`` or a model's ``ValidationError``, never a 500."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from picsweb.errors import ApplicationError
from smartassessor.models import IntegrationSettings
from smartassessor.services import enrolment_requests
from tests.factories import LearnerFactory


def _answer(exc: Exception):
    class Refusing(APIView):
        authentication_classes: list = []
        permission_classes = [AllowAny]

        def post(self, request):
            raise exc

    return Refusing.as_view()(APIRequestFactory().post("/"))


def test_an_application_error_is_a_400_with_its_message():
    response = _answer(ApplicationError("Only a failed enrolment can be retried."))
    assert response.status_code == 400
    assert response.data == {"detail": "Only a failed enrolment can be retried."}


def test_a_model_validation_error_is_a_400_with_each_fields_messages():
    response = _answer(
        ValidationError(
            {
                "email": ["Enter a valid email address."],
                "__all__": ["The end date is before the start date."],
            }
        )
    )
    assert response.status_code == 400
    assert response.data["field_errors"] == {
        "email": ["Enter a valid email address."],
        "": ["The end date is before the start date."],
    }
    assert "Enter a valid email address." in response.data["detail"]
    assert "The end date is before the start date." in response.data["detail"]


def test_a_plain_validation_error_is_a_400_with_its_messages():
    response = _answer(ValidationError(["The ULN's check digit is wrong.", "Too long."]))
    assert response.status_code == 400
    assert response.data == {"detail": "The ULN's check digit is wrong. Too long."}


@pytest.mark.django_db
def test_the_enrolment_api_answers_a_refused_record_with_its_message(staff_client, monkeypatch):
    settings = IntegrationSettings.load()
    settings.enabled = True
    settings.save()
    learner = LearnerFactory()

    def refuse(**kwargs):
        raise ValidationError({"email": ["Enter a valid email address."]})

    monkeypatch.setattr(enrolment_requests, "enrolment_request", refuse)
    response = staff_client.post(f"/api/learners/{learner.ident}/enrolment/")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Enter a valid email address.",
        "field_errors": {"email": ["Enter a valid email address."]},
    }
