"""An encrypted text field for the Smart Assessor credentials.

Fernet with keys of its own (``FIELD_ENCRYPTION_KEYS``), never derived from ``SECRET_KEY``.
A value that no current key can decrypt reads as an ``UnreadableSecret`` rather than failing
or leaking ciphertext, so the product can ask for the credentials to be entered again; saving
the record writes that ciphertext back byte for byte, so a wrong key (a deployment started
with the wrong environment) never destroys what the right key can still read.
"""

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class UnreadableSecret(str):
    """A stored secret that the configured keys cannot decrypt: it reads as empty and keeps
    the ciphertext it came from, so that saving the record again stores it unchanged."""

    ciphertext: str

    def __new__(cls, ciphertext: str) -> "UnreadableSecret":
        secret = super().__new__(cls, "")
        secret.ciphertext = ciphertext
        return secret


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in settings.FIELD_ENCRYPTION_KEYS])


class EncryptedTextField(models.TextField):
    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        if not value:
            return ""
        try:
            return _fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            return UnreadableSecret(value)

    def get_prep_value(self, value: Any) -> str:
        if isinstance(value, UnreadableSecret):
            return value.ciphertext
        value = super().get_prep_value(value)
        if not value:
            return ""
        return _fernet().encrypt(value.encode()).decode()
