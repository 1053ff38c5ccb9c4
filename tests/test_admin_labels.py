"""The Django admin reads like the product (issue 15 pt 7): its header, colours and icon, UK
24-hour dates, sentence-case labels, correct plurals, and a history that names only what a save
changed."""

import datetime as dt
import re

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from smartassessor.models import AuditEntry, IntegrationSettings

pytestmark = pytest.mark.django_db

SETTINGS_URL = "/admin/smartassessor/integrationsettings/1/change/"
# Django's naive plural: a name ending like these takes "es" or "ies" instead of a bare "s".
NAIVE_PLURAL = re.compile(r"(s|sh|ch|x|z|[^aeiou]y)s$")


def _registered_models() -> list:
    return [model for model in admin.site._registry if model._meta.app_label != "auth"]


def _labels(model) -> list[str]:
    return [
        str(field.verbose_name)
        for field in model._meta.get_fields()
        if field.concrete and hasattr(field, "verbose_name")
    ]


@pytest.mark.parametrize("model", _registered_models(), ids=lambda model: model._meta.label)
def test_every_model_in_the_admin_has_a_proper_plural_and_labels(model):
    plural = str(model._meta.verbose_name_plural)
    assert not NAIVE_PLURAL.search(plural), plural
    for label in [str(model._meta.verbose_name), *_labels(model)]:
        # "ID", not "id"; "record", not "object repr"; no Python names showing through.
        assert not re.search(r"\bid\b|\brepr\b|_", label), f"{model._meta.label}: {label!r}"


def test_the_plurals_named_in_the_issue():
    names = {str(model._meta.verbose_name_plural) for model in admin.site._registry}
    assert {"link refreshes", "sync retries", "pushes"} <= names


def test_the_admin_wears_the_products_header_colours_and_icon(admin_client_ia):
    page = admin_client_ia.get(reverse("admin:index")).content.decode()

    assert '<a class="picsweb-brand" href="/">picsweb</a>' in page
    assert "/static/css/admin.css" in page
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert "dark_mode.css" not in page  # the product has one, light, theme
    assert "<title>Integration settings and reference data · picsweb admin</title>" in page
    assert "Django administration" not in page
    # The libraries' apps in sentence case; the product's words for the user tools.
    assert "Periodic tasks" in page and "Periodic Tasks" not in page
    assert '<form id="logout-form" method="post" action="/accounts/logout/">' in page
    assert ">Sign out</button>" in page and "Log out" not in page
    app_page = admin_client_ia.get("/admin/django_celery_beat/").content.decode()
    assert "<h1>Periodic tasks administration</h1>" in app_page


def test_the_settings_form_labels_are_in_sentence_case(admin_client_ia):
    IntegrationSettings.load()
    form = admin_client_ia.get(SETTINGS_URL).context["adminform"].form

    labels = {name: str(field.label) for name, field in form.fields.items()}
    assert labels["sync_time"] == "Daily synchronisation time"
    assert labels["delta_minutes"] == "Delta synchronisation every (minutes)"
    assert labels["password"] == "Password" and labels["client_key"] == "Client key"
    assert all(label[0].isupper() for label in labels.values()), labels
    for name in ("password", "client_key"):
        assert form.fields[name].widget.attrs["autocomplete"] == "new-password"


def test_admin_lists_show_uk_24_hour_dates(admin_client_ia):
    at = timezone.make_aware(dt.datetime(2026, 7, 3, 14, 5))
    entry = AuditEntry.objects.create(action="settings.changed", object_type="x", object_id="1")
    AuditEntry.objects.filter(pk=entry.pk).update(at=at)

    page = admin_client_ia.get(reverse("admin:smartassessor_auditentry_changelist"))

    assert "3 Jul 2026 14:05" in page.content.decode()
    assert "p.m." not in page.content.decode()


def _post_settings(client, **changes) -> None:
    form = client.get(SETTINGS_URL).context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value.pk if hasattr(value, "pk") else value
    data.update(changes)
    response = client.post(SETTINGS_URL, data)
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_the_history_names_only_what_a_save_changed(admin_client_ia):
    record = IntegrationSettings.load()
    record.base_url, record.username = "https://sa.example.test", "api@provider.example"
    record.password, record.client_key = "stored-password", "stored-client-key"
    record.save()

    # Both secrets and both schedules left blank: nothing of theirs changes.
    _post_settings(
        admin_client_ia,
        username="other@provider.example",
        password="",
        client_key="",
        sync_time="",
        delta_minutes="",
    )
    _post_settings(admin_client_ia, client_key="a-new-client-key", sync_time="03:30")
    _post_settings(admin_client_ia)

    first, second, third = (
        entry.get_change_message() for entry in LogEntry.objects.order_by("action_time", "id")
    )
    assert first == "Changed Username."
    assert second == "Changed Client key and Daily synchronisation time."
    assert third == "No fields changed."
    record.refresh_from_db()
    assert record.password == "stored-password" and record.client_key == "a-new-client-key"
