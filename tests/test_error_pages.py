"""The product's own error pages, and DEBUG only when a developer asks for it (issue 9.6)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import SuspiciousOperation
from django.urls import include, path

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def _crash(request):
    raise RuntimeError("secret-looking internals: password=hunter2")


def _suspicious(request):
    raise SuspiciousOperation("internal detail of a refused request")


urlpatterns = [
    path("crash/", _crash),
    path("suspicious/", _suspicious),
    path("", include("picsweb.urls")),
]


@pytest.fixture
def crashing_client(staff_client):
    staff_client.raise_request_exception = False
    return staff_client


def _product_page(response) -> str:
    page = response.content.decode()
    assert '<a class="topbar__brand" href="/">picsweb</a>' in page
    assert "/static/css/picsweb.css" in page
    return page


def test_an_unknown_address_shows_the_products_404_page(staff_client):
    response = staff_client.get("/no-such-page/")

    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in _product_page(response)


@pytest.mark.urls(__name__)
def test_a_crash_shows_the_products_500_page_without_details(crashing_client):
    response = crashing_client.get("/crash/")

    assert response.status_code == 500
    page = _product_page(response)
    assert "<h1>Something went wrong</h1>" in page
    assert "hunter2" not in page and "RuntimeError" not in page and "Traceback" not in page


@pytest.mark.urls(__name__)
def test_a_refused_request_shows_the_products_400_page_without_details(crashing_client):
    response = crashing_client.get("/suspicious/")

    assert response.status_code == 400
    page = _product_page(response)
    assert "<h1>picsweb could not understand this request</h1>" in page
    assert "internal detail" not in page


@pytest.mark.urls(__name__)
def test_a_developer_who_asks_for_debug_gets_the_technical_page(crashing_client, settings):
    settings.DEBUG = True

    response = crashing_client.get("/crash/")

    assert response.status_code == 500
    assert "RuntimeError" in response.content.decode()


def _settings_in_a_new_process(**environ) -> str:
    """DEBUG and static-file serving as `make run` would start with this environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ENV")}
    env |= {"DJANGO_SETTINGS_MODULE": "picsweb.settings", **environ}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, settings.WHITENOISE_USE_FINDERS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_make_run_starts_with_debug_off_and_serves_static_files():
    assert _settings_in_a_new_process() == "False True"
    assert _settings_in_a_new_process(DEBUG="true") == "True True"


def test_static_files_are_served_with_debug_off(client, settings):
    assert settings.DEBUG is False

    response = client.get("/static/css/picsweb.css")

    assert response.status_code == 200
    assert b"".join(response.streaming_content).strip()
