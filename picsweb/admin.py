from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse

from .roles import MANAGE_INTEGRATION


class PicswebAdminSite(admin.AdminSite):
    """The Django admin, for Integration admins (not for Django's is_staff flag)."""

    site_header = "picsweb administration"
    site_title = "picsweb admin"
    index_title = "Integration settings and reference data"

    def has_permission(self, request) -> bool:
        return request.user.is_active and request.user.has_perm(MANAGE_INTEGRATION)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def refuse_signed_in_users_without_rights(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("The admin is for Integration admins.")
            return inner(request, *args, **kwargs)

        return refuse_signed_in_users_without_rights

    def login(self, request, extra_context=None):
        next_url = request.GET.get("next", reverse("admin:index"))
        return redirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': next_url})}")
