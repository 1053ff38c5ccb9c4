from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with the product's errors answered 400 with their messages: an
    ``ApplicationError``, or a model's ``ValidationError`` (its fields' messages under
    ``field_errors``), so that a refusal a person can act on never comes back as a 500."""
    if isinstance(exc, ApplicationError):
        exc = exceptions.ValidationError({"detail": exc.message, **exc.extra})
    elif isinstance(exc, DjangoValidationError):
        answer: dict[str, Any] = {"detail": " ".join(exc.messages)}
        if hasattr(exc, "error_dict"):
            answer["field_errors"] = {
                ("" if field == NON_FIELD_ERRORS else field): messages
                for field, messages in exc.message_dict.items()
            }
        exc = exceptions.ValidationError(answer)
    return drf_exception_handler(exc, context)
