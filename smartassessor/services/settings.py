"""Every write of the Smart Assessor settings record: the admin form, ``configure`` and ``demo``.

One place checks the rules that protect the stored password and client key, handles them, and
writes one audit entry:

- a new host, scheme or port for the API base URL needs the password and client key entered
  again, so nobody who may edit the settings can send the stored secrets to a server of their
  choosing;
- plain ``http://`` is refused outside development, except for the hosts that
  ``SMARTASSESSOR_PLAIN_HTTP_HOSTS`` names (a sandbox on a private network);
- a blank secret keeps the stored one, and only the fields that changed are written, so
  secrets that this deployment's ``FIELD_ENCRYPTION_KEY`` cannot decrypt keep their ciphertext;
- the audit says that a secret changed, never its value, and only when a new one was given.
"""

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from picsweb.errors import ApplicationError

from ..audit import Actor, audit_record
from ..models import IntegrationSettings
from . import sync

EDITABLE_FIELDS = frozenset(
    {
        "enabled",
        "base_url",
        "username",
        "send_welcome_email",
        "set_student_id_to_lrn",
        "second_assessor_role",
        "learner_demographics_mode",
        "officer_demographics_mode",
        "update_learner_gender",
        "update_risk_from_smart_coach",
        "safety_hold_percent",
        "backwards_hold_percent",
        "read_mode",
        "connect_timeout",
        "read_timeout",
        "requests_per_second",
    }
)
NEW_HOST_MESSAGE = (
    "The API base URL now points at another server (host, scheme or port): enter the "
    "password and client key again, so that the stored ones are never sent to it."
)
DEFAULT_PORTS = {"http": 80, "https": 443}


class SettingsRefused(ApplicationError):
    """The settings were not saved; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, list[str]]):
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        super().__init__(
            f"The Smart Assessor settings were not saved: {problems}", extra={"errors": errors}
        )
        self.errors = errors


def base_url_normalise(value: str) -> str:
    return value.strip().rstrip("/")


@sensitive_variables("password", "client_key")
def integration_settings_problems(
    *,
    record: IntegrationSettings,
    changes: dict[str, Any],
    password: str | None = None,
    client_key: str | None = None,
) -> dict[str, list[str]]:
    """What the rules above find wrong with ``changes`` to the stored ``record``, per field."""
    problems: dict[str, list[str]] = {}
    base_url = base_url_normalise(changes.get("base_url", record.base_url))
    parts = urlsplit(base_url)
    if parts.scheme == "http" and not _plain_http_allowed(parts.hostname or ""):
        problems["base_url"] = [
            "Use https://: over plain http the password and client key would cross the network "
            "unencrypted (http is accepted only in development, and for the hosts in "
            "SMARTASSESSOR_PLAIN_HTTP_HOSTS)."
        ]
    holds_secrets = bool(record.password or record.client_key) or record.credentials_unreadable
    if holds_secrets and _origin(base_url) != _origin(record.base_url):
        for field, given in (("password", password), ("client_key", client_key)):
            if not given:
                problems.setdefault(field, []).append(NEW_HOST_MESSAGE)
    return problems


@sensitive_variables("password", "client_key")
def integration_settings_update(
    *,
    actor: Actor,
    changes: dict[str, Any],
    password: str | None = None,
    client_key: str | None = None,
    daily_sync_time: dt.time | None = None,
    delta_sync_minutes: int | None = None,
    reason: str = "",
) -> IntegrationSettings:
    """Apply ``changes`` (field → new value) and any new secrets; blank secrets keep the stored
    ones. ``daily_sync_time`` and ``delta_sync_minutes`` (0 for off), when given, reschedule
    the periodic tasks, which hold the schedules. Raises ``SettingsRefused`` with every
    problem, and then saves nothing."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not settings that may be changed here: {sorted(unknown)}")
    with transaction.atomic():
        IntegrationSettings.load()  # the one row exists before it is locked
        record = IntegrationSettings.objects.select_for_update().get()
        problems = integration_settings_problems(
            record=record, changes=changes, password=password, client_key=client_key
        )
        changed: dict[str, tuple[Any, Any]] = {}
        for field, value in changes.items():
            if field == "base_url":
                value = base_url_normalise(value)
            if getattr(record, field) != value:
                changed[field] = (getattr(record, field), value)
                setattr(record, field, value)
        for field, given in (("password", password), ("client_key", client_key)):
            stored = getattr(record, field)
            # An unreadable secret reads as "" and so differs from any value given.
            if given and given != stored:
                setattr(record, field, given)
                changed[field] = (None, None)  # the audit stores only that it changed
        written = list(changed)
        if delta_sync_minutes is not None and not 0 <= delta_sync_minutes <= sync.DELTA_MAX_MINUTES:
            problems.setdefault("delta_sync_minutes", []).append(
                f"Between 0 (delta runs off) and {sync.DELTA_MAX_MINUTES} minutes."
            )
        try:
            record.full_clean()
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                problems.setdefault(field, []).extend(messages)
        if problems:
            raise SettingsRefused(problems)
        if written:
            # Only what changed is written: an unreadable secret's column is never touched.
            record.save(update_fields=[*written, "updated_at"])
        if daily_sync_time is not None:
            old_time = sync.daily_sync_time_get()
            if old_time != daily_sync_time:
                sync.daily_sync_time_set(at=daily_sync_time)
                changed["sync_time"] = (old_time, daily_sync_time)
        if delta_sync_minutes is not None:
            old_minutes = sync.delta_sync_minutes_get()
            if old_minutes != delta_sync_minutes:
                sync.delta_sync_minutes_set(minutes=delta_sync_minutes)
                changed["delta_sync_minutes"] = (old_minutes, delta_sync_minutes)
        if changed:
            audit_record(
                actor=actor,
                action="settings changed",
                instance=record,
                changes=changed,
                reason=reason,
            )
    return record


def _plain_http_allowed(host: str) -> bool:
    if django_settings.DJANGO_ENV == "development":
        return True
    return host.lower() in {name.lower() for name in django_settings.SMARTASSESSOR_PLAIN_HTTP_HOSTS}


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """Where a URL sends its requests: scheme, host and port (the scheme's default if none)."""
    if not url:
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:  # a malformed port: the URL's own validation says so
        port = None
    return scheme, (parts.hostname or "").lower(), port
