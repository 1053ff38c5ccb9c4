import pytest
from django.apps import apps
from django.urls import reverse

pytestmark = pytest.mark.django_db

MODELS = [
    model._meta.model_name
    for model in apps.get_app_config("smartassessor").get_models()
    if model._meta.model_name != "integrationsettings"
]


@pytest.mark.parametrize("model_name", MODELS)
def test_integration_admins_see_every_record_of_the_integration(admin_client_ia, model_name):
    changelist = reverse(f"admin:smartassessor_{model_name}_changelist")
    assert admin_client_ia.get(changelist).status_code == 200
    assert admin_client_ia.get(changelist, {"q": "a"}).status_code == 200


def test_the_settings_page_is_the_one_record(admin_client_ia):
    response = admin_client_ia.get(reverse("admin:smartassessor_integrationsettings_changelist"))
    assert response.status_code == 302
    assert response.url == reverse("admin:smartassessor_integrationsettings_change", args=[1])


def test_staff_may_not_open_the_integration_admin(staff_client):
    changelist = reverse("admin:smartassessor_enrolment_changelist")
    assert staff_client.get(changelist).status_code == 403


# --- The settings form (issue 9: secrets and bounds) ---------------------------------------

SA_URL = "https://sa.example.test"
PASSWORD = "admin-test-password"
CLIENT_KEY = "admin-test-client-key"
SETTINGS_URL = "/admin/smartassessor/integrationsettings/1/change/"


@pytest.fixture
def stored(db):
    from smartassessor.models import IntegrationSettings

    record = IntegrationSettings.load()
    record.base_url = SA_URL
    record.username = "api@provider.example"
    record.password = PASSWORD
    record.client_key = CLIENT_KEY
    record.save()
    return record


def _raw_secrets() -> tuple[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT password, client_key FROM smartassessor_integrationsettings")
        return cursor.fetchone()


def _post_settings(client, **changes):
    page = client.get(SETTINGS_URL)
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form.initial.get(name)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value.pk if hasattr(value, "pk") else value
    data.update(password="", client_key="", sync_time="")
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = value
    return client.post(SETTINGS_URL, data)


def _errors(response) -> dict:
    return response.context["adminform"].form.errors


@pytest.mark.parametrize(
    "new_url",
    [
        "https://collector.example.net",  # another host
        "http://sa.example.test",  # another scheme
        "https://sa.example.test:8443",  # another port
    ],
)
def test_a_new_host_without_the_secrets_again_is_refused(admin_client_ia, stored, new_url):
    from smartassessor.models import AuditEntry, IntegrationSettings

    response = _post_settings(admin_client_ia, base_url=new_url, password=PASSWORD)

    assert response.status_code == 200
    assert "enter the password and client key again" in " ".join(_errors(response)["client_key"])
    assert IntegrationSettings.load().base_url == SA_URL
    assert not AuditEntry.objects.exists()


def test_a_new_host_with_both_secrets_again_is_saved(admin_client_ia, stored):
    from smartassessor.models import IntegrationSettings

    response = _post_settings(
        admin_client_ia,
        base_url="https://api2.sa.example.test:883/",
        password="new-password",
        client_key="new-client-key",
    )

    assert response.status_code == 302, _errors(response)
    record = IntegrationSettings.load()
    assert record.base_url == "https://api2.sa.example.test:883"
    assert (record.password, record.client_key) == ("new-password", "new-client-key")


def test_the_same_host_keeps_the_secrets_without_entering_them(admin_client_ia, stored):
    from smartassessor.models import IntegrationSettings

    response = _post_settings(admin_client_ia, base_url=SA_URL + ":443/", read_timeout="45")

    assert response.status_code == 302, _errors(response)
    record = IntegrationSettings.load()
    assert (record.password, record.client_key, record.read_timeout) == (PASSWORD, CLIENT_KEY, 45)


def test_plain_http_is_refused_in_production(admin_client_ia, stored, settings):
    from smartassessor.models import IntegrationSettings

    settings.DJANGO_ENV = "production"
    refused = _post_settings(
        admin_client_ia, base_url="http://sa.example.test", password="p", client_key="k"
    )
    assert refused.status_code == 200
    assert "Use https://" in " ".join(_errors(refused)["base_url"])
    assert IntegrationSettings.load().base_url == SA_URL

    settings.SMARTASSESSOR_PLAIN_HTTP_HOSTS = ["sandbox.internal"]
    sandbox = _post_settings(
        admin_client_ia, base_url="http://sandbox.internal:8765", password="p", client_key="k"
    )
    assert sandbox.status_code == 302, _errors(sandbox)


@pytest.fixture
def wrong_key(settings):
    """The deployment started with another FIELD_ENCRYPTION_KEY than the one that stored them."""
    from cryptography.fernet import Fernet

    from smartassessor import fields

    fields._fernet.cache_clear()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    yield
    fields._fernet.cache_clear()


def test_with_a_wrong_key_saving_other_settings_keeps_the_ciphertext(
    admin_client_ia, stored, wrong_key
):
    from smartassessor.models import IntegrationSettings

    before = _raw_secrets()
    page = admin_client_ia.get(SETTINGS_URL).content.decode()
    assert "cannot be decrypted" in page

    response = _post_settings(admin_client_ia, read_timeout="50", enabled="on")

    assert response.status_code == 302, _errors(response)
    assert _raw_secrets() == before
    record = IntegrationSettings.load()
    assert record.read_timeout == 50 and record.enabled
    assert record.credentials_unreadable


def test_an_admin_save_is_audited_once_and_claims_only_what_changed(admin_client_ia, stored):
    from smartassessor.models import AuditEntry

    _post_settings(admin_client_ia, connect_timeout="7", sync_time="03:30")
    _post_settings(admin_client_ia, client_key="a-new-client-key")

    first, second = AuditEntry.objects.order_by("id")
    assert first.changes == {"connect_timeout": [5.0, 7.0], "sync_time": ["02:00:00", "03:30:00"]}
    assert "password" not in first.changes and "client_key" not in first.changes
    assert second.changes == {"client_key": ["(changed)", "(changed)"]}
    assert first.actor.username == "integration-admin"
    for entry in (first, second):
        assert "a-new-client-key" not in str(entry.changes) and PASSWORD not in str(entry.changes)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("connect_timeout", "0", "between 1 and 120 seconds"),
        ("read_timeout", "86400", "between 1 and 120 seconds"),
        ("requests_per_second", "0", "between 0.1 and 100 requests per second"),
        ("requests_per_second", "100000", "between 0.1 and 100 requests per second"),
    ],
)
def test_out_of_range_transport_settings_are_refused(
    admin_client_ia, stored, field, value, message
):
    from smartassessor.models import IntegrationSettings

    response = _post_settings(admin_client_ia, **{field: value})

    assert response.status_code == 200
    assert message in " ".join(_errors(response)[field])
    assert getattr(IntegrationSettings.load(), field) == getattr(stored, field)


def test_a_crash_while_saving_shows_no_posted_secret_on_the_debug_page(
    admin_client_ia, stored, settings, monkeypatch
):
    from smartassessor.services import settings as settings_service

    def crash(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(settings_service, "integration_settings_update", crash)
    settings.DEBUG = True
    admin_client_ia.raise_request_exception = False

    response = _post_settings(
        admin_client_ia, password="posted-password-123", client_key="posted-key-456"
    )

    assert response.status_code == 500
    page = response.content.decode()
    assert "the database went away" in page
    assert "posted-password-123" not in page and "posted-key-456" not in page


# --- Periodic tasks -------------------------------------------------------------------------


def _periodic_task_form(client, url, **changes):
    from django_celery_beat.models import CrontabSchedule

    schedule = CrontabSchedule.objects.create(minute="0", hour="4")
    data = {
        "name": "nightly",
        "regtask": "",
        "task": "",
        "enabled": "on",
        "description": "",
        "crontab": schedule.pk,
        "start_time_0": "",
        "start_time_1": "",
        "expires_0": "",
        "expires_1": "",
        "expire_seconds": "",
        "priority": "",
    }
    data.update(changes)
    return client.post(url, data)


@pytest.mark.parametrize(
    "task", ["smartassessor.tasks.enrol_learner", "celery.backend_cleanup", "os.system"]
)
def test_a_periodic_task_cannot_be_pointed_at_another_task(admin_client_ia, task):
    from django.test import Client
    from django_celery_beat.models import PeriodicTask

    from tests.factories import UserFactory

    superuser = Client()
    superuser.force_login(UserFactory(username="root", is_superuser=True))
    before = set(PeriodicTask.objects.values_list("task", flat=True))
    response = _periodic_task_form(
        superuser, reverse("admin:django_celery_beat_periodictask_add"), task=task
    )

    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors.get("task", []))
    assert "is not one of the product's periodic tasks" in errors
    assert set(PeriodicTask.objects.values_list("task", flat=True)) == before

    daily = PeriodicTask.objects.get(task="smartassessor.tasks.sync_daily")
    changed = _periodic_task_form(
        admin_client_ia,
        reverse("admin:django_celery_beat_periodictask_change", args=[daily.pk]),
        name=daily.name,
        task=task,
    )
    assert changed.status_code == 200
    daily.refresh_from_db()
    assert daily.task == "smartassessor.tasks.sync_daily"


def test_the_daily_synchronisation_may_still_be_rescheduled(admin_client_ia):
    from django_celery_beat.models import PeriodicTask

    daily = PeriodicTask.objects.get(task="smartassessor.tasks.sync_daily")
    response = _periodic_task_form(
        admin_client_ia,
        reverse("admin:django_celery_beat_periodictask_change", args=[daily.pk]),
        name=daily.name,
        regtask="smartassessor.tasks.sync_daily",
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    daily.refresh_from_db()
    assert daily.crontab.hour == "4"


def test_setting_the_daily_time_repairs_a_task_pointed_elsewhere(db):
    import datetime as dt

    from django_celery_beat.models import PeriodicTask

    from smartassessor.services import sync

    PeriodicTask.objects.filter(name=sync.DAILY_TASK_NAME).update(
        task="smartassessor.tasks.enrol_learner", args="[1]"
    )

    sync.daily_sync_time_set(at=dt.time(3, 15))

    task = PeriodicTask.objects.get(name=sync.DAILY_TASK_NAME)
    assert (task.task, task.args, task.crontab.hour) == (
        "smartassessor.tasks.sync_daily",
        "[]",
        "3",
    )
