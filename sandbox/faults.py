"""Fault injection: the knobs of ``PUT /_sandbox/faults`` and the rules they hold.

Faults are the running server's state, like its tokens: a restart or a reset clears them.
"""

import random
import re
import threading
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, Problem, invalid
from .validation import reject_unknown

CODES_BY_STATUS = {
    400: "validation",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "duplicate_mis_id",
    422: "idempotency_key_reused",
    429: "rate_limited",
    500: "server_error",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def fault_error(status: int, reason: str) -> ApiError:
    """The contract's error for a status a fault answers with."""
    default = "unavailable" if status >= 500 else "validation"
    headers = {"Retry-After": "1"} if status == 429 else {}
    return ApiError.of(
        status,
        CODES_BY_STATUS.get(status, default),
        f"Injected by the sandbox: {reason}.",
        headers=headers,
    )


@dataclass
class Matcher:
    """A rule (answer with ``status``) or a drop (``status`` None): which requests, how often."""

    method: str | None
    path: re.Pattern[str]
    times: int | None
    status: int | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.path.search(path))

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"Method": self.method, "Path": self.path.pattern}
        if self.status is not None:
            shown["Status"] = self.status
        shown["Times"] = self.times
        return shown


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


class _Reader:
    """Checks the fields of a faults body, collecting every problem."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, name: str, message: str) -> None:
        self.problems.append(Problem("validation", f"{name} {message}", name))

    def number(
        self, name: str, value: Any, low: float, high: float, *, whole: bool = True
    ) -> float | None:
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            self.fail(name, f"must be {kind} from {_plain(low)} to {_plain(high)}.")
            return None
        return value

    def flag(self, name: str, value: Any) -> bool | None:
        if not isinstance(value, bool):
            self.fail(name, "must be true or false.")
            return None
        return value

    def matchers(self, name: str, value: Any, *, with_status: bool) -> list[Matcher] | None:
        if not isinstance(value, list):
            self.fail(name, "must be a list.")
            return None
        allowed = {"Method", "Path", "Times"} | ({"Status"} if with_status else set())
        result = []
        for index, item in enumerate(value):
            where = f"{name}[{index}]"
            if not isinstance(item, dict):
                self.fail(where, "must be an object.")
                continue
            for unknown in sorted(set(item) - allowed):
                self.problems.append(
                    Problem(
                        "unknown_field", f"{unknown} is not a known field.", f"{where}.{unknown}"
                    )
                )
            method = item.get("Method")
            if method is not None and method not in METHODS:
                self.fail(f"{where}.Method", f"must be one of {', '.join(METHODS)}, or null.")
            pattern = None
            try:
                pattern = re.compile(item["Path"]) if isinstance(item.get("Path"), str) else None
            except re.error as error:
                self.fail(f"{where}.Path", f"is not a regular expression: {error}.")
            else:
                if pattern is None:
                    self.fail(f"{where}.Path", "must be a regular expression matching the path.")
            times = item.get("Times")
            if times is not None:
                times = self.number(f"{where}.Times", times, 1, 1_000_000)
            status = None
            if with_status:
                status = self.number(f"{where}.Status", item.get("Status"), 400, 599)
            if pattern is not None:
                result.append(Matcher(method, pattern, times, int(status) if status else None))
        return result


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.latency_ms = 0
            self.error_rate = 0.0
            self.error_status = 503
            self.rules: list[Matcher] = []
            self.drop_responses: list[Matcher] = []
            self.rate_limit_per_second: float | None = 20
            self.token_lifetime_seconds = 3600
            self.read_only = False
            self.smart_coach_licensed = True

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "LatencyMs": self.latency_ms,
                "ErrorRate": self.error_rate,
                "ErrorStatus": self.error_status,
                "Rules": [rule.as_json() for rule in self.rules],
                "DropResponses": [drop.as_json() for drop in self.drop_responses],
                "RateLimitPerSecond": self.rate_limit_per_second,
                "TokenLifetimeSeconds": self.token_lifetime_seconds,
                "ReadOnly": self.read_only,
                "SmartCoachLicensed": self.smart_coach_licensed,
            }

    def update(self, body: dict[str, Any]) -> None:
        """Apply any subset of the knobs; nothing changes unless every given value is valid."""
        reject_unknown(sorted(set(body) - set(self.as_json())), "fault setting")
        reader = _Reader()
        changes: dict[str, Any] = {}
        for name, value in body.items():
            match name:
                case "LatencyMs":
                    changes[name] = reader.number(name, value, 0, 60_000)
                case "ErrorRate":
                    rate = reader.number(name, value, 0, 1, whole=False)
                    changes[name] = None if rate is None else float(rate)
                case "ErrorStatus":
                    changes[name] = reader.number(name, value, 400, 599)
                case "Rules":
                    changes[name] = reader.matchers(name, value, with_status=True)
                case "DropResponses":
                    changes[name] = reader.matchers(name, value, with_status=False)
                case "RateLimitPerSecond":
                    # null switches the limit off, for benchmarks that measure something else.
                    changes[name] = value
                    if value is not None:
                        changes[name] = reader.number(name, value, 0.1, 100_000, whole=False)
                case "TokenLifetimeSeconds":
                    changes[name] = reader.number(name, value, 1, 86_400)
                case "ReadOnly" | "SmartCoachLicensed":
                    changes[name] = reader.flag(name, value)
        if reader.problems:
            unknown = [problem for problem in reader.problems if problem.code == "unknown_field"]
            raise ApiError(400, unknown) if unknown else invalid(reader.problems)
        with self._lock:
            for name, value in changes.items():
                setattr(self, _ATTRIBUTES[name], value)

    def take_rule(self, method: str, path: str) -> Matcher | None:
        with self._lock:
            return self._take(self.rules, method, path)

    def take_drop(self, method: str, path: str) -> bool:
        with self._lock:
            return self._take(self.drop_responses, method, path) is not None

    @staticmethod
    def _take(matchers: list[Matcher], method: str, path: str) -> Matcher | None:
        for matcher in matchers:
            if matcher.matches(method, path):
                if matcher.times is not None:
                    matcher.times -= 1
                    if matcher.times == 0:
                        matchers.remove(matcher)
                return matcher
        return None

    def draw_error(self) -> bool:
        with self._lock:
            return self.error_rate > 0 and self._random.random() < self.error_rate


_ATTRIBUTES = {
    "LatencyMs": "latency_ms",
    "ErrorRate": "error_rate",
    "ErrorStatus": "error_status",
    "Rules": "rules",
    "DropResponses": "drop_responses",
    "RateLimitPerSecond": "rate_limit_per_second",
    "TokenLifetimeSeconds": "token_lifetime_seconds",
    "ReadOnly": "read_only",
    "SmartCoachLicensed": "smart_coach_licensed",
}
