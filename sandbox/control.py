"""A small client for the sandbox-only endpoints (``/_sandbox/``), for tests, demos and benchmarks.

    control = SandboxControl("http://127.0.0.1:8765")
    control.reset()
    control.faults(Rules=[{"Method": "POST", "Path": "^/api/v1/learners$", "Status": 503,
                           "Times": 1}])
    control.advance(30)
    control.feeds(False)  # a Smart Assessor without ModifiedSince and AfterId

Fault settings may be named as in the API (``LatencyMs=30``) or in Python style
(``latency_ms=30``).
"""

from typing import Any

import requests


class SandboxControlError(Exception):
    """The sandbox refused a control request; the message is the sandbox's."""

    def __init__(self, response: requests.Response) -> None:
        try:
            messages = [error["Message"] for error in response.json()["Errors"]]
        except (ValueError, KeyError, TypeError):
            messages = [response.text[:200]]
        super().__init__(f"{response.status_code} from the sandbox: {'; '.join(messages)}")
        self.status = response.status_code


def _pascal_case(name: str) -> str:
    if "_" not in name and name[:1].isupper():
        return name
    return "".join(part.capitalize() for part in name.split("_"))


class SandboxControl:
    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        client_key: str | None = None,
        timeout: float = 60,
    ) -> None:
        self.url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.client_key = client_key
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._session.request(
            method, f"{self.url}/_sandbox/{path}", json=body, timeout=self.timeout
        )
        if not response.ok:
            raise SandboxControlError(response)
        return response.json()

    def reset(self) -> None:
        """Back to the deterministic seed, with no faults, tokens, emails or counts."""
        self._call("POST", "reset")

    def outbox(self) -> list[dict[str, Any]]:
        """The welcome emails sent so far, oldest first."""
        return self._call("GET", "outbox")["Items"]

    def faults(self, **changes: Any) -> dict[str, Any]:
        """Change the given fault settings (none: change nothing) and return them all."""
        return self._call(
            "PUT", "faults", {_pascal_case(name): value for name, value in changes.items()}
        )

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Change the given sandbox settings (none: change nothing) and return them all."""
        return self._call(
            "PUT", "settings", {_pascal_case(name): value for name, value in changes.items()}
        )

    def feeds(self, on: bool) -> None:
        """Offer the change feeds (``ModifiedSince``, ``AfterId``) or play a Smart Assessor that
        has only the paged lists; a reset returns to what the sandbox was started with."""
        self.settings(Feeds=on)

    def advance(self, days: int, *, real_clock_sessions: bool = True) -> dict[str, Any]:
        """Move simulated time on; returns ``{"Now": ..., "Changed": {...}}``.

        ``real_clock_sessions=False`` lets the simulated clock alone hold sessions, for a test
        that needs a session planned in one run to be held by the next (the real clock stands
        still meanwhile); the default holds one only once the real clock has passed it too."""
        body: dict[str, Any] = {"Days": days}
        if not real_clock_sessions:
            body["RealClockSessions"] = False
        return self._call("POST", "advance", body)

    def seed(self, learners: int, courses_per_learner: int = 3, prefix: str = "BENCH") -> int:
        """Bulk-create learners ``{prefix}000001``... with their enrolments; returns how many."""
        body = {"Learners": learners, "CoursesPerLearner": courses_per_learner, "Prefix": prefix}
        return self._call("POST", "seed", body)["Created"]

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def reset_stats(self) -> None:
        self._call("POST", "stats/reset")

    def close(self) -> None:
        self._session.close()
