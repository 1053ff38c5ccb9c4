from django.conf import settings
from django.http import HttpRequest

from .roles import MANAGE_INTEGRATION


def navigation(request: HttpRequest) -> dict[str, bool]:
    user = getattr(request, "user", None)
    return {
        "can_manage_integration": bool(user and user.has_perm(MANAGE_INTEGRATION)),
        # The sign-in page offers a password reset only where its mail can be sent.
        "password_reset_available": settings.PASSWORD_RESET_ENABLED,
    }
