from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        exc = exceptions.ValidationError({"detail": exc.message, **exc.extra})
    return drf_exception_handler(exc, context)
