"""Who may use the integration's pages and actions, and whether it is switched on (F1)."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from rest_framework.permissions import BasePermission

from picsweb import roles

from .models import IntegrationSettings

INTEGRATION_OFF_MESSAGE = (
    "The Smart Assessor integration is switched off. An Integration admin can switch it on "
    "from the Smart Assessor settings."
)


def integration_enabled() -> bool:
    return IntegrationSettings.objects.filter(pk=1, enabled=True).exists()


def require_permission(perm: str, *, while_enabled: bool = True):
    """A view decorator: 403 without the permission; 404 while the integration is off."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
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


class IntegrationPermission(BasePermission):
    """For the API: the permission named by the view, and the integration switched on."""

    message = INTEGRATION_OFF_MESSAGE

    def has_permission(self, request, view) -> bool:
        if not request.user.has_perm(view.required_permission):
            self.message = "You do not have permission to do this."
            return False
        return integration_enabled()
