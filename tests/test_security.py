"""Secrets stay secret, and the product defends itself (issue 9, point 5)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import responses
from cryptography.fernet import Fernet
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.views.debug import ExceptionReporter
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from smartassessor import connection
from smartassessor.models import IntegrationSettings
from tests.factories import LearnerFactory, OfficerFactory, OrganisationFactory

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parent.parent
SA_URL = "https://sa.security.test"
PASSWORD = "pw-7f3a-never-shown"
CLIENT_KEY = "ck-91c2-never-shown"
ACCESS_TOKEN = "at-55e0-never-shown"
SECRETS = (PASSWORD, CLIENT_KEY, ACCESS_TOKEN)


# --- A crash during the token fetch shows no secret on the DEBUG page -----------------------


@pytest.fixture
def sa_record(db):
    connection._clients.clear()
    record = IntegrationSettings.load()
    record.base_url = SA_URL
    record.username = "api@provider.example"
    record.password = PASSWORD
    record.client_key = CLIENT_KEY
    record.enabled = True
    record.save()
    yield IntegrationSettings.load()
    connection._clients.clear()


def _debug_page_of(action, admin_user) -> str:
    request = RequestFactory().post(
        "/smartassessor/test-connection/", {"password": PASSWORD, "client_key": CLIENT_KEY}
    )
    request.user = admin_user
    request.sensitive_post_parameters = ["password", "client_key"]
    try:
        action()
    except Exception:
        with override_settings(DEBUG=True):
            return ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    raise AssertionError("the token fetch did not fail")


def test_a_crash_when_smart_assessor_cannot_be_reached_during_the_token_fetch(
    sa_record, admin_user
):
    client = connection.client_from_settings(sa_record)
    client._sleep = lambda seconds: None
    with responses.RequestsMock() as mock:
        mock.post(SA_URL + "/api/v1/token", body=requests.ConnectionError("connection refused"))
        page = _debug_page_of(client.authenticate, admin_user)

    assert "_fetch_token" in page and "_exchange" in page, "the page shows the frames"
    for secret in (PASSWORD, CLIENT_KEY):
        assert secret not in page


def test_a_crash_after_the_token_arrived_during_the_token_fetch(sa_record, admin_user, monkeypatch):
    def cache_down(self, key, token):
        raise ConnectionError("the cache is down")

    monkeypatch.setattr(connection.CacheTokenStore, "set", cache_down)
    client = connection.client_from_settings(sa_record)
    with responses.RequestsMock() as mock:
        mock.post(
            SA_URL + "/api/v1/token",
            json={"AccessToken": ACCESS_TOKEN, "TokenType": "Bearer", "ExpiresIn": 3600},
        )
        page = _debug_page_of(lambda: list(client.course_list()), admin_user)

    assert "the cache is down" in page and "_fetch_token" in page
    for secret in SECRETS:
        assert secret not in page


# --- Start-up checks ------------------------------------------------------------------------


def _settings_in_a_new_process(**environment) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"BEHIND_PROXY", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "DJANGO_ENV": "production",
            "SECRET_KEY": "a-secret-key-for-this-test-only",
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
            **environment,
        }
    )
    code = (
        "import picsweb.settings as s; "
        "print('PROXY_HEADER', getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "value, where",
    [
        ("not-a-fernet-key", "the key"),
        (Fernet.generate_key().decode() + ",short", "key 2 of 2"),
    ],
    # Named, not by the random key: every xdist worker must collect the same test ids.
    ids=["malformed", "second-of-two-malformed"],
)
def test_a_malformed_field_encryption_key_stops_the_start_with_a_clear_message(value, where):
    result = _settings_in_a_new_process(FIELD_ENCRYPTION_KEY=value)

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert f"FIELD_ENCRYPTION_KEY is malformed ({where})" in last_line
    assert "site-packages/cryptography" not in result.stderr


def test_the_proxy_ssl_header_is_trusted_only_behind_a_proxy():
    alone = _settings_in_a_new_process()
    behind = _settings_in_a_new_process(BEHIND_PROXY="true")

    assert alone.returncode == 0, alone.stderr
    assert "PROXY_HEADER None" in alone.stdout
    assert "PROXY_HEADER ('HTTP_X_FORWARDED_PROTO', 'https')" in behind.stdout


# --- The API schema and docs, sign-in and API throttling -----------------------------------


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_api_schema_and_docs_need_a_sign_in(client, url):
    response = client.get(url)
    assert response.status_code in (302, 401, 403)
    if response.status_code == 302:
        assert response.url.startswith("/accounts/login/")


def test_signed_in_people_read_the_schema_and_the_docs_without_inline_script(staff_client):
    assert staff_client.get("/api/schema/").status_code == 200
    docs = staff_client.get("/api/docs/")
    assert docs.status_code == 200
    assert _inline_scripts(docs.content.decode()) == []
    script = staff_client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_a_token_holder_reads_the_schema(staff_user):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=staff_user).key)
    assert api.get("/api/schema/").status_code == 200


def test_the_sixth_sign_in_after_five_wrong_passwords_is_locked_out(client, admin_user):
    # The admin has no sign-in of its own: it sends people to this page.
    assert client.get("/admin/login/").url.startswith("/accounts/login/")
    admin_user.set_password("the-right-password-1")
    admin_user.save()
    for attempt in range(5):
        wrong = client.post(
            "/accounts/login/", {"username": admin_user.username, "password": "wrong"}
        )
        assert wrong.status_code == 200, attempt  # the form again, with its error

    sixth = client.post("/accounts/login/", {"username": admin_user.username, "password": "no"})
    right = client.post(
        "/accounts/login/", {"username": admin_user.username, "password": "the-right-password-1"}
    )

    for locked in (sixth, right):
        assert locked.status_code == 429
        page = locked.content.decode()
        assert "Sign-in locked" in page
        assert "ask Support to unlock the account" in page
    assert "_auth_user_id" not in client.session


def test_a_right_password_before_the_limit_signs_in_and_forgets_the_failures(client, staff_user):
    staff_user.set_password("the-right-password-2")
    staff_user.save()
    for _ in range(4):
        client.post("/accounts/login/", {"username": "staff", "password": "wrong"})
    signed_in = client.post(
        "/accounts/login/", {"username": "staff", "password": "the-right-password-2"}
    )
    assert signed_in.status_code == 302


def test_api_token_use_is_throttled_with_retry_after(staff_user, monkeypatch):
    from django.conf import settings
    from django.core.cache import cache

    # The configured rates are sensible: a script may call about ten times a second.
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert UserRateThrottle().parse_rate(rates["user"]) == (600, 60)
    # A small budget keeps the test short; the classes are the configured ones.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**rates, "user": "3/minute"})
    cache.clear()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=staff_user).key)

    answers = [api.get("/api/learners/") for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert 0 < int(answers[-1]["Retry-After"]) <= 60
    cache.clear()


# --- Headers of the pages -----------------------------------------------------------------


def test_pages_with_personal_data_are_never_stored(staff_client, staff_user):
    learner = LearnerFactory()
    for url in (
        reverse("learners:list"),
        learner.get_absolute_url(),
        f"/api/learners/{learner.ident}/",
    ):
        response = staff_client.get(url)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"], url
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=staff_user).key)
    assert "no-store" in api.get(f"/api/learners/{learner.ident}/")["Cache-Control"]


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_ATTRIBUTE = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I)


def _inline_scripts(html: str) -> list[str]:
    scripts = INLINE_SCRIPT.findall(html)
    # JSON data islands are not executed; anything else inline would be refused by the policy.
    return [tag for tag in scripts if 'type="application/json"' not in tag]


def test_the_pages_send_a_content_security_policy_and_have_no_inline_script(
    client, admin_user, sa_record
):
    learner = LearnerFactory()
    officer = OfficerFactory()
    organisation = OrganisationFactory()
    pages = {"sign-in": client.get("/accounts/login/")}
    client.force_login(admin_user)
    for name, url in {
        "learner list": reverse("learners:list"),
        "delivery plan": learner.get_absolute_url(),
        "officers": reverse("learners:officer_list"),
        "officer": officer.get_absolute_url(),
        "organisation": organisation.get_absolute_url(),
        "summary": reverse("smartassessor:summary"),
        "data exchange": reverse("smartassessor:data_exchange"),
        "sync runs": reverse("smartassessor:sync_runs"),
        "admin settings": reverse("admin:smartassessor_integrationsettings_change", args=[1]),
    }.items():
        pages[name] = client.get(url)

    for name, response in pages.items():
        assert response.status_code == 200, name
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, name
        assert "unsafe-inline" not in policy
        html = response.content.decode()
        if name != "admin settings":  # Django's admin is Django's; it is checked to render
            assert _inline_scripts(html) == [], name
            assert EVENT_ATTRIBUTE.findall(html) == [], name
            assert STYLE_ATTRIBUTE.findall(html) == [], name
