"""The contract's error body (§3) as an exception every layer of the sandbox can raise."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"Code": self.code, "Field": self.field, "Message": self.message}


class ApiError(Exception):
    """An answer other than 2xx: a status, one or more problems and any extra top-level fields."""

    def __init__(
        self,
        status: int,
        problems: list[Problem],
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.status = status
        self.problems = problems
        self.extra = extra or {}
        self.headers = headers or {}

    @classmethod
    def of(
        cls,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        **kwargs: Any,
    ) -> "ApiError":
        return cls(status, [Problem(code, message, field)], **kwargs)

    def body(self) -> dict[str, Any]:
        return {"Errors": [problem.as_json() for problem in self.problems], **self.extra}


def invalid(problems: list[Problem]) -> ApiError:
    return ApiError(400, problems)


def not_found(message: str) -> ApiError:
    return ApiError.of(404, "not_found", message)
