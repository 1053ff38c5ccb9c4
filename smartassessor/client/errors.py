"""Typed failures of a Smart Assessor call (contract §3).

Callers branch on the class: permanent refusals (``ValidationFailed``, ``Forbidden``, ...) wait for
a person; ``Transient`` and ``RateLimited`` may be tried again later; ``ProtocolError`` means the
server and this client disagree about the contract. ``str()`` of any of them reads as a sentence
and never contains a credential or a token.
"""

from typing import Any, NamedTuple

# Smart Assessor writes its messages, so they are cut before they are kept: one message (or
# detail) to this many characters, and a response's Errors list to this many entries. Whatever
# stores or shows ``str()`` of an error is bounded by them.
MAX_MESSAGE_CHARS = 500
MAX_ERRORS = 10
_MAX_CODE_CHARS = 60
_MAX_FIELD_CHARS = 100


def cut(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` of at most ``limit`` characters, ending with an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class ErrorDetail(NamedTuple):
    """One entry of a response's ``Errors`` list."""

    code: str
    field: str | None
    message: str


class SmartAssessorError(Exception):
    """Base of every failure the client raises."""

    summary = "Smart Assessor call failed"

    def __init__(
        self,
        detail: str = "",
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        errors: list[ErrorDetail] | None = None,
    ):
        errors = list(errors or [])
        self.detail = cut(detail)
        self.method = method
        self.path = cut(path, 200)
        self.status = status
        self.errors = [
            ErrorDetail(
                code=cut(error.code, _MAX_CODE_CHARS),
                field=None if error.field is None else cut(error.field, _MAX_FIELD_CHARS),
                message=cut(error.message),
            )
            for error in errors[:MAX_ERRORS]
        ]
        self.errors_left_out = len(errors) - len(self.errors)
        super().__init__(str(self))

    @property
    def code(self) -> str | None:
        """The first error code Smart Assessor gave, if any."""
        return self.errors[0].code if self.errors else None

    @property
    def messages(self) -> list[str]:
        """Smart Assessor's messages, each prefixed with its field when it names one."""
        return [f"{e.field}: {e.message}" if e.field else e.message for e in self.errors]

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        if self.status is not None:
            where = f"{where} answered {self.status}" if where else f"status {self.status}"
        text = f"{self.summary} ({where})" if where else self.summary
        left_out = f"and {self.errors_left_out} more" if self.errors_left_out else ""
        reasons = "; ".join(filter(None, [self.detail, *self.messages, left_out]))
        return f"{text}: {reasons}" if reasons else text


class ValidationFailed(SmartAssessorError):
    """400: the request itself is wrong (``validation``, ``unknown_field``, ``malformed_json``)."""

    summary = "Smart Assessor rejected the data"

    @property
    def field_messages(self) -> dict[str | None, list[str]]:
        """Messages by field name (None for those about the request as a whole)."""
        grouped: dict[str | None, list[str]] = {}
        for error in self.errors:
            grouped.setdefault(error.field, []).append(error.message)
        return grouped


class AuthenticationFailed(SmartAssessorError):
    """401 that a new token cannot cure: wrong credentials, or a fresh token refused again."""

    summary = "Smart Assessor refused the credentials"


class Forbidden(SmartAssessorError):
    """403: the client key lacks the right (read-only key, unlicensed module)."""

    summary = "Smart Assessor does not allow this"

    @property
    def read_only(self) -> bool:
        return any(error.code == "read_only" for error in self.errors)


class NotFound(SmartAssessorError):
    summary = "Not found in Smart Assessor"


class Conflict(SmartAssessorError):
    """409: the object already exists; ``existing_id`` names it (int or GUID, as the resource)."""

    summary = "Already exists in Smart Assessor"

    def __init__(
        self, detail: str = "", *, existing_id: int | str | None = None, **kwargs: Any
    ) -> None:
        self.existing_id = existing_id
        super().__init__(detail, **kwargs)


class InvalidTransition(SmartAssessorError):
    """409 ``invalid_transition``: the enrolment cannot move to that status (§7.5); only a
    person can settle it, so it is never retried."""

    summary = "Smart Assessor refused the change of status"


class IdempotencyKeyReused(SmartAssessorError):
    """422: the Idempotency-Key was already used for a different request (a bug of the caller)."""

    summary = "Idempotency key reused for a different request"


class RateLimited(SmartAssessorError):
    """429 still answered after the client waited as long as it may."""

    summary = "Smart Assessor is rate limiting this client"

    def __init__(self, detail: str = "", *, retry_after: float, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(detail, **kwargs)


class Transient(SmartAssessorError):
    """5xx, timeout or connection failure: trying again later may succeed.

    ``ambiguous`` is True when the server may have acted on the request before the failure
    (a 5xx, a read timeout, a connection dropped after sending). For a POST that means the
    object may exist: repeat it with the same Idempotency-Key, or look it up first.
    """

    summary = "Smart Assessor is unavailable"

    def __init__(self, detail: str = "", *, ambiguous: bool, **kwargs: Any) -> None:
        self.ambiguous = ambiguous
        super().__init__(detail, **kwargs)


class ProtocolError(SmartAssessorError):
    """The exchange broke the contract (a body that is not the documented JSON, a 405, ...)."""

    summary = "Unexpected answer from Smart Assessor"
