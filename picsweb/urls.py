from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from .health import healthz

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="learners:list", permanent=False), name="home"),
    path("healthz/", healthz, name="healthz"),
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
