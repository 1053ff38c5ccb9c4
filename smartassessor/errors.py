"""The integration's errors for people: the one door from the client's errors to the product's.

Services that ask Smart Assessor on a person's behalf run the call inside
``smart_assessor_errors()``; views, the API and the commands then only ever see
``ApplicationError`` (whose message they show) and never the client's exception types.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from picsweb.errors import ApplicationError

from .client import NotFound, RateLimited, SmartAssessorError, Transient


class SmartAssessorUnavailable(ApplicationError):
    """Smart Assessor could not be reached, or asked us to wait: the same request may work later."""


class SmartAssessorRefused(ApplicationError):
    """Smart Assessor answered and refused, or did not understand, the request."""


class SmartAssessorNotFound(SmartAssessorRefused):
    """Smart Assessor has no such record."""


@contextmanager
def smart_assessor_errors(*, prefix: str = "", not_found: str = "") -> Iterator[None]:
    """Raise the client's errors within the block as the product's, with the client's message
    after ``prefix``; a missing record with the message ``not_found``, when given."""
    try:
        yield
    except (Transient, RateLimited) as exc:
        raise SmartAssessorUnavailable(f"{prefix}{exc}") from exc
    except NotFound as exc:
        raise SmartAssessorNotFound(not_found or f"{prefix}{exc}") from exc
    except SmartAssessorError as exc:
        raise SmartAssessorRefused(f"{prefix}{exc}") from exc


# How much of an unexpected error's own text is kept on a row for people.
UNEXPECTED_DETAIL_LENGTH = 300


def unexpected_error_text(exc: BaseException) -> str:
    """An unexpected error in words a person can pass on to support, without a traceback."""
    detail = str(exc)[:UNEXPECTED_DETAIL_LENGTH]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
