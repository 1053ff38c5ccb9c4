"""An encrypted text field for the Smart Assessor credentials.

Fernet with keys of its own (``FIELD_ENCRYPTION_KEYS``), never derived from ``SECRET_KEY``.
A value that no current key can decrypt reads as ``UNREADABLE`` rather than failing or
leaking ciphertext, so the product can ask for the credentials to be entered again.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class UnreadableSecret(str):
    """Marks a stored secret that the configured keys cannot decrypt."""


UNREADABLE = UnreadableSecret("")


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in settings.FIELD_ENCRYPTION_KEYS])


class EncryptedTextField(models.TextField):
    def from_db_value(self, value, expression, connection):
        if not value:
            return ""
        try:
            return _fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            return UNREADABLE

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return ""
        return _fernet().encrypt(value.encode()).decode()
