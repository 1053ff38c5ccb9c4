"""Who may use the integration's pages and actions, and whether it is switched on (F1)."""

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol, cast

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from picsweb import roles

from .models import IntegrationSettings

INTEGRATION_OFF_MESSAGE = (
    "The Smart Assessor integration is switched off. An Integration admin can switch it on "
    "from the Smart Assessor settings."
)


def integration_enabled() -> bool:
    return IntegrationSettings.objects.filter(pk=1, enabled=True).exists()


View = Callable[..., HttpResponse]


def require_permission(perm: str, *, while_enabled: bool = True) -> Callable[[View], View]:
    """A view decorator: 403 without the permission; 404 while the integration is off."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            if while_enabled and not integration_enabled():
                return render(
                    request,
                    "smartassessor/integration_off.html",
                    {"message": INTEGRATION_OFF_MESSAGE},
                    status=404,
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


manage_integration_required = require_permission(roles.MANAGE_INTEGRATION, while_enabled=False)


class _NamesItsPermission(Protocol):
    """Each of the integration's API views names the permission it needs."""

    required_permission: str


class IntegrationPermission(BasePermission):
    """For the API: the permission named by the view, and the integration switched on."""

    message = INTEGRATION_OFF_MESSAGE

    def has_permission(self, request: Request, view: APIView) -> bool:
        required = cast(_NamesItsPermission, view).required_permission
        if not request.user.has_perm(required):
            self.message = "You do not have permission to do this."
            return False
        return integration_enabled()
