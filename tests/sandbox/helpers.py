"""Talking to the sandbox the way a client would: plain HTTP with ``requests``."""

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests

from sandbox.control import SandboxControl

# From the seed (see sandbox/store.py): ids tests can rely on.
EMPLOYER_ID = 1001
ASSESSOR_ID = 5001
OTHER_ASSESSOR_ID = 5002
COURSE_ID = 101  # ST0070 Business Administrator, active
SPACED_COURSE_ID = 103  # "ST 0384", active
INACTIVE_COURSE_ID = 113  # ST0228 Commis Chef
VALID_ULN = "1234567899"
MODIFIED_AT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
EPOCH = "1970-01-01T00:00:00Z"

_numbers = itertools.count(1)


def today() -> date:
    """The sandbox's simulated day right after a reset: today in UTC."""
    return datetime.now(UTC).date()


def birthday(years: int, *, shift_days: int = 0) -> str:
    """The date of birth of someone who turns ``years`` old today, moved by ``shift_days``."""
    day = today()
    try:
        born = day.replace(year=day.year - years)
    except ValueError:  # born on 29 February
        born = day.replace(year=day.year - years, day=28)
    return (born + timedelta(days=shift_days)).isoformat()


def learner_body(**overrides: Any) -> dict[str, Any]:
    number = next(_numbers)
    return {
        "MISLearnerId": f"PW{number:06d}",
        "GivenNames": "Amelia",
        "FamilyName": "Jones",
        "DateOfBirth": "2001-05-17",
        "Email": f"amelia.jones{number}@learners.example",
        "StartDate": "2025-09-01",
        **overrides,
    }


def employer_body(**overrides: Any) -> dict[str, Any]:
    number = next(_numbers)
    return {
        "MISEmployerId": f"ORG-{number}",
        "Name": "Calder Engineering Ltd",
        "AddressPostCode": "HX1 1AA",
        **overrides,
    }


def assessor_body(**overrides: Any) -> dict[str, Any]:
    number = next(_numbers)
    return {
        "MISAssessorId": f"OFF-{number}",
        "FirstName": "Sam",
        "LastName": "Patel",
        "Email": f"sam.patel{number}@provider.example",
        **overrides,
    }


def enrolment_body(**overrides: Any) -> dict[str, Any]:
    return {
        "CourseSmartAssessorId": COURSE_ID,
        "StartDate": "2025-09-01",
        "PlannedEndDate": "2026-09-01",
        "PrimaryAssessorSmartAssessorId": ASSESSOR_ID,
        **overrides,
    }


def problems(response: requests.Response) -> list[tuple[str, str | None]]:
    """The (Code, Field) pairs of an error response."""
    return [(error["Code"], error["Field"]) for error in response.json()["Errors"]]


class SandboxApi:
    """The sandbox's ``/api/v1`` with a bearer token, answering ``requests`` responses."""

    def __init__(self, control: SandboxControl) -> None:
        self.control = control
        self.base = f"{control.url}/api/v1"
        self.session = requests.Session()

    def token(self, **overrides: str) -> requests.Response:
        body = {
            "Username": self.control.username,
            "Password": self.control.password,
            "ClientKey": self.control.client_key,
            **overrides,
        }
        return requests.post(f"{self.base}/token", json=body, timeout=10)

    def authenticate(self) -> "SandboxApi":
        response = self.token()
        assert response.status_code == 200, response.text
        self.session.headers["Authorization"] = f"Bearer {response.json()['AccessToken']}"
        return self

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.base}{path}", **kwargs)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any, **headers: str) -> requests.Response:
        return self.request("POST", path, json=body, headers=headers)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.request("PATCH", path, json=body)

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 201, response.text
        return response.json()

    def learner(self, **overrides: Any) -> dict[str, Any]:
        return self.created("/learners", learner_body(**overrides))

    def enrol(self, learner_id: str, **overrides: Any) -> dict[str, Any]:
        return self.created(f"/learners/{learner_id}/courses", enrolment_body(**overrides))

    def feed(
        self,
        path: str,
        since: str = EPOCH,
        after_id: str | None = None,
        page_size: int = 500,
    ) -> list[dict[str, Any]]:
        """Every item of a feed from a position, read by keyset as the contract says (§4)."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"ModifiedSince": since, "PageSize": page_size}
        if after_id:
            params["AfterId"] = after_id
        while True:
            response = self.get(path, **params)
            assert response.status_code == 200, response.text
            page = response.json()["Items"]
            items += page
            if len(page) < page_size:
                return items
            last = page[-1]
            params["ModifiedSince"] = last["ModifiedAt"]
            params["AfterId"] = last.get("SmartAssessorId") or last["LearnerSmartAssessorId"]
