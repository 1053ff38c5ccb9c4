"""``manage.py smartassessor configure`` and ``check``."""

import getpass
import io
import re
import sys

import pytest
import responses
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection as db_connection

from smartassessor import connection
from smartassessor.models import AuditEntry, IntegrationSettings

BASE_URL = "https://sa.example.test"
PASSWORD = "command-test-password"
CLIENT_KEY = "command-test-client-key"


@pytest.fixture(autouse=True)
def isolated(db, monkeypatch):
    monkeypatch.setattr(connection, "_clients", {})
    monkeypatch.delenv("SMARTASSESSOR_PASSWORD", raising=False)
    monkeypatch.delenv("SMARTASSESSOR_CLIENT_KEY", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # not a terminal unless a test says so
    cache.clear()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args) -> str:
    out = io.StringIO()
    call_command("smartassessor", *args, stdout=out)
    return out.getvalue()


def configure(*extra) -> str:
    return run(
        "configure", "--base-url", BASE_URL + "/", "--username", "api@provider.example", *extra
    )


def store_credentials():
    settings = IntegrationSettings.load()
    settings.base_url = BASE_URL
    settings.username = "api@provider.example"
    settings.password = PASSWORD
    settings.client_key = CLIENT_KEY
    settings.save()


# --- configure ------------------------------------------------------------------------------


def test_configure_takes_secrets_from_the_environment(monkeypatch):
    monkeypatch.setenv("SMARTASSESSOR_PASSWORD", PASSWORD)
    monkeypatch.setenv("SMARTASSESSOR_CLIENT_KEY", CLIENT_KEY)

    output = configure("--enable")

    settings = IntegrationSettings.load()
    assert settings.base_url == BASE_URL  # trailing slash removed
    assert settings.username == "api@provider.example"
    assert settings.enabled
    assert (settings.password, settings.client_key) == (PASSWORD, CLIENT_KEY)
    assert "API base URL: https://sa.example.test\n" in output
    assert "Integration enabled: yes" in output
    assert "Password: set from SMARTASSESSOR_PASSWORD" in output
    assert "Client key: set from SMARTASSESSOR_CLIENT_KEY" in output
    assert PASSWORD not in output and CLIENT_KEY not in output


def test_configure_is_audited_without_the_secrets(monkeypatch):
    store_credentials()
    monkeypatch.setenv("SMARTASSESSOR_PASSWORD", "a-new-password")

    configure("--enable")

    entry = AuditEntry.objects.get()
    assert entry.action == "settings changed"
    assert entry.actor is None
    assert entry.reason == "manage.py smartassessor configure"
    assert entry.changes == {"enabled": [False, True], "password": ["(changed)", "(changed)"]}


def test_configure_that_changes_nothing_leaves_no_audit_entry():
    store_credentials()

    configure()

    assert not AuditEntry.objects.exists()


def test_configure_prompts_without_echo_on_a_terminal(monkeypatch):
    prompts = []
    answers = iter([PASSWORD, CLIENT_KEY])

    def fake_getpass(prompt):
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    monkeypatch.setattr(sys, "stdin", Terminal())

    output = configure()

    settings = IntegrationSettings.load()
    assert (settings.password, settings.client_key) == (PASSWORD, CLIENT_KEY)
    assert prompts == [
        "Password (leave blank to keep the stored one): ",
        "Client key (leave blank to keep the stored one): ",
    ]
    assert "Password: set from what you typed" in output
    assert PASSWORD not in output and CLIENT_KEY not in output


def test_configure_keeps_stored_secrets_when_none_are_given_and_says_so():
    store_credentials()

    output = configure("--disable")

    settings = IntegrationSettings.load()
    assert (settings.password, settings.client_key) == (PASSWORD, CLIENT_KEY)
    assert not settings.enabled
    assert "Password: kept the stored value (SMARTASSESSOR_PASSWORD is not set)" in output


def test_configure_keeps_a_stored_secret_when_the_prompt_is_left_blank(monkeypatch):
    store_credentials()
    monkeypatch.setattr(getpass, "getpass", lambda prompt: "")
    monkeypatch.setattr(sys, "stdin", Terminal())

    output = configure()

    assert IntegrationSettings.load().password == PASSWORD
    assert "Client key: kept the stored value" in output


def test_configure_says_when_a_secret_is_still_missing():
    output = configure()

    assert "Password: not set: set SMARTASSESSOR_PASSWORD or run this in a terminal" in output


def test_configure_leaves_the_switch_alone_unless_asked(monkeypatch):
    settings = IntegrationSettings.load()
    settings.enabled = True
    settings.save()

    configure()

    assert IntegrationSettings.load().enabled


def test_configure_refuses_an_invalid_url_and_saves_nothing():
    with pytest.raises(CommandError, match="Nothing was saved: base_url: Enter a valid URL"):
        run("configure", "--base-url", "not a url", "--username", "someone")

    assert IntegrationSettings.load().username == ""


def test_secrets_are_never_accepted_as_options():
    with pytest.raises(CommandError, match="unrecognized arguments: --password"):
        configure("--password", PASSWORD)


# --- check ----------------------------------------------------------------------------------


@responses.activate
def test_check_reports_courses_and_round_trip():
    store_credentials()
    responses.post(
        BASE_URL + "/api/v1/token",
        json={"AccessToken": "t", "TokenType": "Bearer", "ExpiresIn": 3600},
    )
    courses = [
        {
            "SmartAssessorId": n,
            "QANCode": f"ST{n:04d}",
            "QualificationTitle": "x",
            "IsActive": n < 4,
        }
        for n in range(1, 6)
    ]
    responses.get(
        BASE_URL + "/api/v1/courses",
        json={"Items": courses, "Page": 1, "PageSize": 500, "TotalCount": 5},
    )

    output = run("check")

    assert output.startswith(
        "Connected to https://sa.example.test as api@provider.example: "
        "5 courses (3 active), round trip "
    )
    assert output.rstrip().endswith(" ms")


@responses.activate
def test_check_fails_with_smart_assessors_message_for_bad_credentials():
    store_credentials()
    responses.post(
        BASE_URL + "/api/v1/token",
        status=401,
        json={
            "Errors": [
                {"Code": "invalid_credentials", "Field": None, "Message": "Wrong client key"}
            ]
        },
    )

    with pytest.raises(CommandError, match="Wrong client key") as caught:
        run("check")

    assert caught.value.returncode != 0
    assert CLIENT_KEY not in str(caught.value) and PASSWORD not in str(caught.value)


def test_check_fails_clearly_when_smart_assessor_is_unreachable():
    store_credentials()
    settings = IntegrationSettings.load()
    settings.base_url = "http://127.0.0.1:9"
    settings.connect_timeout = 0.5
    settings.save()
    client = connection.client_from_settings()
    client._sleep = lambda seconds: None  # the backoff between tries is not under test here

    with pytest.raises(CommandError, match=r"Could not reach Smart Assessor at http://127.0.0.1:9"):
        run("check")


def test_check_asks_for_credentials_that_cannot_be_decrypted():
    store_credentials()
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {IntegrationSettings._meta.db_table} SET client_key = %s",
            ["gAAAAABencrypted-with-another-key"],
        )

    with pytest.raises(CommandError) as caught:
        run("check")

    assert str(caught.value) == (
        "The stored Smart Assessor credentials cannot be decrypted with this deployment's "
        "FIELD_ENCRYPTION_KEY: enter them again."
    )


def test_check_says_what_is_missing_when_not_configured():
    with pytest.raises(CommandError, match="Smart Assessor is not configured: set the API base"):
        run("check")


# --- configure and demo: secrets, bounds, one audited service (issue 9) ----------------------


def _raw_secrets() -> tuple[str, str]:
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT password, client_key FROM smartassessor_integrationsettings")
        return cursor.fetchone()


@pytest.mark.parametrize(
    "new_url",
    ["https://collector.example.net", "http://sa.example.test", "https://sa.example.test:9"],
)
def test_configure_refuses_a_new_host_without_both_secrets_again(monkeypatch, new_url):
    store_credentials()
    monkeypatch.setenv("SMARTASSESSOR_PASSWORD", PASSWORD)  # the client key is not given

    with pytest.raises(CommandError, match="enter the password and client key again"):
        run("configure", "--base-url", new_url, "--username", "api@provider.example")

    assert IntegrationSettings.load().base_url == BASE_URL
    assert not AuditEntry.objects.exists()


def test_configure_takes_a_new_host_with_both_secrets_again(monkeypatch):
    store_credentials()
    monkeypatch.setenv("SMARTASSESSOR_PASSWORD", "new-password")
    monkeypatch.setenv("SMARTASSESSOR_CLIENT_KEY", "new-client-key")

    run(
        "configure", "--base-url", "https://api2.example.test", "--username", "api@provider.example"
    )

    settings = IntegrationSettings.load()
    assert settings.base_url == "https://api2.example.test"
    assert (settings.password, settings.client_key) == ("new-password", "new-client-key")


def test_configure_refuses_plain_http_in_production(monkeypatch, settings):
    settings.DJANGO_ENV = "production"
    monkeypatch.setenv("SMARTASSESSOR_PASSWORD", PASSWORD)
    monkeypatch.setenv("SMARTASSESSOR_CLIENT_KEY", CLIENT_KEY)

    with pytest.raises(CommandError, match="Nothing was saved: base_url: Use https://"):
        run("configure", "--base-url", "http://sa.example.test", "--username", "someone")
    assert IntegrationSettings.load().base_url == ""

    # docker-compose's sandbox: named as a plain-http host for that one command
    settings.SMARTASSESSOR_PLAIN_HTTP_HOSTS = ["sandbox.internal"]
    run("configure", "--base-url", "http://sandbox.internal:8765", "--username", "someone")
    assert IntegrationSettings.load().base_url == "http://sandbox.internal:8765"


@pytest.fixture
def wrong_key(settings):
    from cryptography.fernet import Fernet

    from smartassessor import fields

    store_credentials()
    fields._fernet.cache_clear()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    yield
    fields._fernet.cache_clear()


def test_configure_with_a_wrong_key_and_no_new_secrets_refuses_and_keeps_them(wrong_key):
    before = _raw_secrets()

    with pytest.raises(CommandError, match=r"cannot be decrypted .* SMARTASSESSOR_PASSWORD and"):
        configure("--enable")

    assert _raw_secrets() == before
    assert not IntegrationSettings.load().enabled
    assert not AuditEntry.objects.exists()


def test_configure_with_a_wrong_key_and_new_secrets_stores_them(wrong_key, monkeypatch):
    monkeypatch.setenv("SMARTASSESSOR_PASSWORD", "re-entered-password")
    monkeypatch.setenv("SMARTASSESSOR_CLIENT_KEY", "re-entered-key")

    configure()

    settings = IntegrationSettings.load()
    assert (settings.password, settings.client_key) == ("re-entered-password", "re-entered-key")
    assert AuditEntry.objects.get().changes == {
        "password": ["(changed)", "(changed)"],
        "client_key": ["(changed)", "(changed)"],
    }


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--connect-timeout", "0", "connect_timeout: Enter a value between 1 and 120 seconds."),
        ("--read-timeout", "600", "read_timeout: Enter a value between 1 and 120 seconds."),
        ("--requests-per-second", "5000", "between 0.1 and 100 requests per second"),
    ],
)
def test_configure_refuses_out_of_range_transport_settings(option, value, message):
    store_credentials()

    with pytest.raises(CommandError, match="Nothing was saved: .*" + re.escape(message)):
        configure(option, value)

    settings = IntegrationSettings.load()
    assert (settings.connect_timeout, settings.read_timeout, settings.requests_per_second) == (
        5,
        30,
        10,
    )


def test_configure_sets_transport_settings_in_range():
    store_credentials()

    output = configure("--read-timeout", "60", "--requests-per-second", "2.5")

    settings = IntegrationSettings.load()
    assert (settings.read_timeout, settings.requests_per_second) == (60, 2.5)
    assert "Read timeout (s): 60" in output
    assert AuditEntry.objects.get().changes == {
        "read_timeout": [30.0, 60.0],
        "requests_per_second": [10.0, 2.5],
    }


DEMO_USERNAME = "api.demo@provider.example"
DEMO_PASSWORD = "generated-demo-password"
DEMO_CLIENT_KEY = "generated-demo-client-key"


@pytest.fixture
def demo_account(monkeypatch):
    """What `make run` passes to `smartassessor demo` from var/sandbox-demo.env."""
    from smartassessor.services import links

    monkeypatch.setenv("SMARTASSESSOR_PASSWORD", DEMO_PASSWORD)
    monkeypatch.setenv("SMARTASSESSOR_CLIENT_KEY", DEMO_CLIENT_KEY)
    requests = []
    monkeypatch.setattr(links, "link_refresh_request", lambda actor: requests.append(actor))
    return requests


def demo() -> str:
    return run("demo", "--username", DEMO_USERNAME)


def test_demo_points_at_the_sandbox_through_the_audited_service(demo_account):
    demo()
    demo()  # already configured: nothing changes

    settings = IntegrationSettings.load()
    assert settings.base_url == "http://127.0.0.1:8765" and settings.enabled
    assert (settings.password, settings.client_key) == (DEMO_PASSWORD, DEMO_CLIENT_KEY)
    entry = AuditEntry.objects.get()
    assert entry.reason == "manage.py smartassessor demo"
    assert entry.changes["password"] == ["(changed)", "(changed)"]
    assert DEMO_PASSWORD not in str(entry.changes) and DEMO_CLIENT_KEY not in str(entry.changes)
    assert demo_account == [None]  # one Refresh Qualification Links, the first time


def test_demo_without_the_demo_secrets_saves_nothing_and_says_what_to_set(
    demo_account, monkeypatch
):
    monkeypatch.delenv("SMARTASSESSOR_CLIENT_KEY")

    with pytest.raises(CommandError, match="Nothing was saved: set SMARTASSESSOR_PASSWORD and"):
        demo()

    assert IntegrationSettings.load().base_url == ""
    assert not AuditEntry.objects.exists() and demo_account == []


def test_demo_gives_the_sandbox_new_demo_credentials_again(demo_account, monkeypatch):
    demo()
    settings = IntegrationSettings.load()
    settings.enabled = False  # an admin switched it off: demo leaves that alone
    settings.save()
    monkeypatch.setenv("SMARTASSESSOR_PASSWORD", "regenerated-demo-password")

    output = demo()

    settings = IntegrationSettings.load()
    assert settings.password == "regenerated-demo-password" and not settings.enabled
    assert settings.client_key == DEMO_CLIENT_KEY
    assert "its demo credentials are up to date" in output
    assert AuditEntry.objects.latest("pk").changes == {"password": ["(changed)", "(changed)"]}
    assert demo_account == [None]


def test_demo_leaves_an_integration_configured_elsewhere_alone(demo_account):
    store_credentials()

    output = demo()

    settings = IntegrationSettings.load()
    assert (settings.base_url, settings.password) == (BASE_URL, PASSWORD)
    assert f"already configured: {BASE_URL}" in output
    assert not AuditEntry.objects.exists() and demo_account == []
