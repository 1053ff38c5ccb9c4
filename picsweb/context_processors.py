from django.http import HttpRequest

from .roles import MANAGE_INTEGRATION


def navigation(request: HttpRequest) -> dict[str, bool]:
    user = getattr(request, "user", None)
    return {"can_manage_integration": bool(user and user.has_perm(MANAGE_INTEGRATION))}
