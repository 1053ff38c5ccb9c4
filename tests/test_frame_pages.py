"""Small things a newcomer trips over (issue 15 pt 11): the icon, the error pages in the product's
frame with DEBUG off, signed in and out, and a password reset offered only where its mail can be
sent."""

import os
import re
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core import mail
from django.db import OperationalError
from django.urls import include, path, reverse

from picsweb import urls as product_urls
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class _UserTheDatabaseCannotRead:
    """request.user once the database has gone: any look at it fails."""

    @property
    def is_authenticated(self) -> bool:
        raise OperationalError("the database has gone away")


def _crash(request):
    raise RuntimeError("boom")


def _crash_with_the_database_gone(request):
    request.user = _UserTheDatabaseCannotRead()
    raise RuntimeError("boom")


handler500 = product_urls.handler500
urlpatterns = [
    path("crash/", _crash),
    path("crash-without-database/", _crash_with_the_database_gone),
    path("", include("picsweb.urls")),
]


def _in_frame(response) -> str:
    page = response.content.decode()
    assert '<a class="topbar__brand" href="/">picsweb</a>' in page
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    return page


def test_the_icon_is_served_and_named_by_the_frame(client):
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert b"<svg" in b"".join(icon.streaming_content)
    response = client.get("/favicon.ico")  # signed out: no sign-in for the icon
    assert response.status_code == 301 and response.url == "/static/favicon.svg"
    _in_frame(client.get(reverse("login")))


def test_the_404_page_is_in_the_frame_signed_out(client):
    page = _in_frame(client.get("/no-such-page/"))
    assert "<h1>Page not found</h1>" in page
    assert '<a href="/accounts/login/">Sign in</a>' in page
    assert "Sign out" not in page


def test_the_404_page_is_in_the_frame_signed_in(staff_client):
    response = staff_client.get("/learners/PW999999/")
    assert response.status_code == 404
    page = _in_frame(response)
    assert "<h1>Page not found</h1>" in page
    assert "Sign out" in page and 'aria-label="Main menu"' in page
    assert "Back to the learners" in page


@pytest.mark.urls(__name__)
def test_the_500_page_is_in_the_frame_for_the_person_signed_in(staff_client):
    staff_client.raise_request_exception = False
    response = staff_client.get("/crash/")

    assert response.status_code == 500
    page = _in_frame(response)
    assert "<h1>Something went wrong</h1>" in page
    assert "Sign out" in page and "boom" not in page


@pytest.mark.urls(__name__)
def test_the_500_page_renders_when_the_request_cannot_be_read(staff_client):
    staff_client.raise_request_exception = False
    response = staff_client.get("/crash-without-database/")

    assert response.status_code == 500
    page = _in_frame(response)
    assert "<h1>Something went wrong</h1>" in page
    assert "Sign out" not in page  # the signed-in parts are left out, not a second crash


def test_the_product_uses_its_own_500_handler():
    assert product_urls.handler500 == "picsweb.errors.server_error"


def test_with_mail_the_sign_in_page_offers_a_reset_and_the_mail_is_sent(client, settings):
    settings.PASSWORD_RESET_ENABLED = True
    UserFactory(username="forgetful", email="forgetful@provider.example")

    sign_in = client.get(reverse("login")).content.decode()
    assert '<a href="/accounts/password_reset/">Forgotten your password?</a>' in sign_in
    _in_frame(client.get(reverse("password_reset")))
    response = client.post(reverse("password_reset"), {"email": "forgetful@provider.example"})

    assert response.status_code == 302
    assert "Check your email" in _in_frame(client.get(response.url))
    (sent,) = mail.outbox
    assert sent.subject == "Reset your picsweb password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", sent.body)
    assert link, sent.body
    confirm = client.get(link.group(1), follow=True)
    assert "Choose a new password" in _in_frame(confirm)


def test_without_mail_the_reset_is_hidden_and_its_pages_are_not_there(client, settings):
    settings.PASSWORD_RESET_ENABLED = False

    assert "Forgotten your password?" not in client.get(reverse("login")).content.decode()
    for name in ("password_reset", "password_reset_done", "password_reset_complete"):
        assert client.get(reverse(name)).status_code == 404, name
    assert client.post(reverse("password_reset"), {"email": "a@b.example"}).status_code == 404
    assert mail.outbox == []


def test_make_run_prints_the_mail_and_production_needs_a_mail_server():
    def setting(**env: str) -> str:
        code = (
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'picsweb.settings'; "
            "django.setup(); from django.conf import settings as s; "
            "print(s.EMAIL_BACKEND, s.PASSWORD_RESET_ENABLED)"
        )
        environment = {k: v for k, v in os.environ.items() if k not in ("EMAIL_URL", "DEBUG")}
        environment.update(env)
        return subprocess.run(
            [sys.executable, "-c", code],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert setting() == "django.core.mail.backends.console.EmailBackend True"
    production = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "mis.example",
    }
    assert setting(**production).endswith(" False")
    assert setting(**production, EMAIL_URL="smtp+tls://u:p@mail.example:587") == (
        "django.core.mail.backends.smtp.EmailBackend True"
    )
