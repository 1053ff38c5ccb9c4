from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .health import healthz

# The 500 page in the product's frame, signed in where the request can still be read.
handler500 = "picsweb.errors.server_error"

PASSWORD_RESET_PAGES = [
    ("password_reset/", auth_views.PasswordResetView.as_view(), "password_reset"),
    ("password_reset/done/", auth_views.PasswordResetDoneView.as_view(), "password_reset_done"),
    (
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        "password_reset_confirm",
    ),
    ("reset/done/", auth_views.PasswordResetCompleteView.as_view(), "password_reset_complete"),
]


def _when_mail_can_be_sent(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """The page, or 404 where no mail can be sent: Django would log the failure and still say
    the mail was sent."""

    @wraps(view)  # keeps the view's login_not_required mark
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.PASSWORD_RESET_ENABLED:
            raise Http404("Password reset is not available: no mail server is configured.")
        return view(request, *args, **kwargs)

    return guarded


@login_not_required
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """The product's icon, for browsers that ask for /favicon.ico (resolved per request, so
    a production build finds it in the collected files' manifest)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="learners:list", permanent=False), name="home"),
    path("healthz/", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the API's JSON, for one).
    path("favicon.ico", favicon),
    # The password reset pages only where a mail can be sent (settings.PASSWORD_RESET_ENABLED).
    *(
        path(f"accounts/{route}", _when_mail_can_be_sent(view), name=name)
        for route, view, name in PASSWORD_RESET_PAGES
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The schema answers signed-in people and token holders (SERVE_PERMISSIONS); the docs page
    # sends a visitor to sign in. The split view serves its start-up script as a file of its
    # own, so the Content-Security-Policy needs no inline script.
    path(
        "api/docs/",
        login_required(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("api/", include("learners.api_urls")),
    path("api/", include("smartassessor.api_urls")),
    path("smartassessor/", include("smartassessor.urls")),
    path("imports/", include("imports.urls")),
    path("", include("learners.urls")),
]
