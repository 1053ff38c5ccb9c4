"""Where access tokens are kept between requests (contract §2).

The store is pluggable so that several processes can share one token (the Django side passes a
store backed by its cache). Entries are keyed by ``account_fingerprint``, which is derived from
the base URL, the username and the client key without containing any of them in clear.

Credentials and tokens never sit in clear where an error report can show them: the password
and client key are held in ``Secret`` objects whose repr is redacted, the token request body is
a ``CredentialBody`` (a dict whose repr is redacted), and the functions that handle them are
marked with Django's ``sensitive_variables`` when Django is installed, so its error reports
(the DEBUG page, the admins' e-mails) blank every local of those frames and the frames below.
"""

import dataclasses
import hashlib
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

try:
    from django.views.decorators.debug import sensitive_variables
except ImportError:  # the client works without Django; nothing then reads the marks

    def sensitive_variables(*variables: str) -> Callable[[F], F]:
        return lambda function: function


REDACTED = "********"


def sensitive(function: F) -> F:
    """Every local of ``function`` (and of what it calls) is blanked in Django's error reports."""
    return sensitive_variables()(function)


class Secret:
    """A credential whose repr and str never show it; ``reveal()`` is the only way to it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = __repr__


class CredentialBody(dict):
    """The body of a token request; its repr is redacted, ``json.dumps`` still sees the values."""

    def __repr__(self) -> str:
        return f"CredentialBody({REDACTED!r})"

    __str__ = __repr__


# Renew this long before the server's expiry (at most), so that a request never leaves with a
# token that runs out on its way; short-lived tokens keep most of their life.
RENEW_MARGIN_SECONDS = 60.0
RENEW_MARGIN_SHARE = 0.1


@dataclasses.dataclass(frozen=True, slots=True)
class StoredToken:
    access_token: str = dataclasses.field(repr=False)
    usable_until: float
    """Wall-clock time (``time.time()``) after which the token is renewed, not reused."""


def usable_until(*, issued_at: float, expires_in: float) -> float:
    margin = min(RENEW_MARGIN_SECONDS, expires_in * RENEW_MARGIN_SHARE)
    return issued_at + expires_in - margin


@sensitive
def account_fingerprint(*, base_url: str, username: str, client_key: str) -> str:
    """Names one SA account (tokens and rate limits are per client key) without revealing it."""
    client_key_hash = hashlib.sha256(client_key.encode()).hexdigest()
    identity = "\n".join((base_url.rstrip("/"), username, client_key_hash))
    return hashlib.sha256(identity.encode()).hexdigest()


class TokenStore(Protocol):
    def get(self, key: str) -> StoredToken | None: ...

    def set(self, key: str, token: StoredToken) -> None: ...

    def discard(self, key: str, access_token: str) -> None:
        """Forget the token under ``key`` if it is still ``access_token`` (the one refused)."""


class MemoryTokenStore:
    """A store for one process (the default when nothing shares tokens)."""

    def __init__(self) -> None:
        self._tokens: dict[str, StoredToken] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> StoredToken | None:
        return self._tokens.get(key)

    def set(self, key: str, token: StoredToken) -> None:
        with self._lock:
            self._tokens[key] = token

    def discard(self, key: str, access_token: str) -> None:
        with self._lock:
            current = self._tokens.get(key)
            if current is not None and current.access_token == access_token:
                del self._tokens[key]
