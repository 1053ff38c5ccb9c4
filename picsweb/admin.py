from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from .roles import MANAGE_INTEGRATION

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


APP_NAMES = {
    "auth": "Users and groups",
    "authtoken": "API tokens",
    "django_celery_beat": "Periodic tasks",
}


class PicswebAdminSite(admin.AdminSite):
    """The Django admin, for Integration admins (not for Django's is_staff flag)."""

    # The header reads "picsweb  Admin" in the product's colours (templates/admin/base_site.html).
    site_header = "Admin"
    site_title = "picsweb admin"
    index_title = "Integration settings and reference data"
    site_url = "/"

    def _build_app_dict(self, request: HttpRequest, label: Any = None) -> Any:
        """The apps under the names people use, in sentence case (the libraries' own names are
        in title case: "Periodic Tasks", "Authentication and Authorization")."""
        app_dict = super()._build_app_dict(request, label)
        for app_label, app in app_dict.items():
            app["name"] = APP_NAMES.get(app_label, app["name"])
        return app_dict

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.has_perm(MANAGE_INTEGRATION))

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def refuse_signed_in_users_without_rights(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("The admin is for Integration admins.")
            return inner(request, *args, **kwargs)

        # wraps() gives the guard the view's name and signature: it stands for the view.
        return cast(View, refuse_signed_in_users_without_rights)

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        next_url = request.GET.get("next", reverse("admin:index"))
        return redirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': next_url})}")
