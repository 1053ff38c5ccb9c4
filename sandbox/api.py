"""The contract's endpoints (§2, §4, §7): check a request, ask the store, shape the answer.

The HTTP plumbing, authentication, faults and idempotency live in ``server.py``; a handler here
sees a request that already passed them and either returns a response or raises ``ApiError``.
"""

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import ApiError, Problem, invalid, not_found
from .faults import Faults
from .runtime import Settings, Tokens
from .store import Store
from .validation import (
    ASSESSOR,
    EMPLOYER,
    GUID_FORMAT,
    LEARNER,
    LEARNER_COURSE,
    LEARNER_COURSE_CHANGE,
    LEARNER_CREATE,
    TOKEN_REQUEST,
    age_problem,
    clean,
    listing,
    reject_unknown,
    status_change,
    status_date_problem,
)

JSON_TYPE = "application/json; charset=utf-8"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A route template's placeholders, named as the contract names them, and the handler argument
# each one fills.
PLACEHOLDERS = {"{id}": "object_id", "{courseEnrolmentId}": "enrolment_id"}
PRIMARY, SECONDARY = "PrimaryAssessorSmartAssessorId", "SecondaryAssessorSmartAssessorId"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    client_key: str

    def match(self, username: str, password: str, client_key: str) -> bool:
        # Compare all three, always, so the time taken says nothing about which was wrong.
        checks = [
            hmac.compare_digest(given.encode(), expected.encode())
            for given, expected in (
                (username, self.username),
                (password, self.password),
                (client_key, self.client_key),
            )
        ]
        return all(checks)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the field {key} appears twice")
        result[key] = value
    return result


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def malformed(message: str) -> ApiError:
    return ApiError.of(400, "malformed_json", message)


@dataclass
class Request:
    method: str
    path: str
    target: str
    """The path with its query string, as sent."""
    query_pairs: list[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes
    client_key: str | None = None
    _parsed: Any = field(default=None, repr=False)

    @property
    def query(self) -> dict[str, str]:
        query: dict[str, str] = {}
        for name, value in self.query_pairs:
            if name in query:
                raise ApiError.of(400, "validation", f"{name} is given more than once.", name)
            query[name] = value
        return query

    def no_query(self) -> None:
        reject_unknown(sorted(self.query), "query parameter")

    def json_value(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        if self._parsed is None:
            self._parsed = json.loads(
                self.body.decode("utf-8"),
                object_pairs_hook=_no_duplicate_keys,
                parse_constant=_no_constants,
            )
        return self._parsed

    def json_object(self) -> dict[str, Any]:
        media_type, _, parameters = self.headers.get("Content-Type", "").partition(";")
        if media_type.strip().lower() != "application/json":
            raise malformed("Send the body as JSON, with Content-Type: application/json.")
        charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", parameters, re.IGNORECASE)
        if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
            raise malformed("Send the body in UTF-8.")
        try:
            value = self.json_value()
        except (UnicodeDecodeError, ValueError) as error:
            raise malformed(f"The body is not valid JSON: {error}.") from None
        except RecursionError:
            raise malformed("The body is nested too deeply.") from None
        if not isinstance(value, dict):
            raise malformed("The body must be a JSON object.")
        return value

    def fingerprint(self) -> str:
        """What makes two requests "the same" for an Idempotency-Key: method, target and body
        compared as parsed JSON, so key order and spacing do not matter."""
        try:
            body = json.dumps(self.json_value(), sort_keys=True, separators=(",", ":"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            body = "raw:" + hashlib.sha256(self.body).hexdigest()
        return hashlib.sha256(f"{self.method} {self.target}\n{body}".encode()).hexdigest()


@dataclass
class Response:
    status: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE

    @classmethod
    def json(cls, status: int, payload: Any) -> "Response":
        return cls(status, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))

    @classmethod
    def error(cls, error: ApiError) -> "Response":
        response = cls.json(error.status, error.body())
        response.headers.update(error.headers)
        return response


Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    template: str
    methods: dict[str, Handler]
    public: bool = False


def _integer_id(text: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise not_found(f"No {what} has SmartAssessorId {text}.")
    return int(text)


def _guid(text: str, what: str) -> str:
    if not GUID_FORMAT.match(text.lower()):
        raise not_found(f"No {what} has SmartAssessorId {text}.")
    return text.lower()


class Api:
    def __init__(
        self,
        store: Store,
        tokens: Tokens,
        faults: Faults,
        credentials: Credentials,
        settings: Settings,
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.faults = faults
        self.credentials = credentials
        self.settings = settings
        self.routes = [
            self._route("/token", POST=self.token, public=True),
            self._route("/courses", GET=self.courses),
            self._route("/employers", GET=self.employers, POST=self.employer_create),
            self._route("/employers/{id}", GET=self.employer, PUT=self.employer_replace),
            self._route("/assessors", GET=self.assessors, POST=self.assessor_create),
            self._route("/assessors/{id}", GET=self.assessor, PUT=self.assessor_replace),
            self._route("/learners", GET=self.learners, POST=self.learner_create),
            self._route("/learners/{id}", GET=self.learner, PATCH=self.learner_update),
            self._route(
                "/learners/{id}/courses",
                GET=self.learner_courses,
                POST=self.learner_course_create,
            ),
            self._route(
                "/learners/{id}/courses/{courseEnrolmentId}", PATCH=self.learner_course_update
            ),
            self._route("/learners/{id}/sessions", GET=self.learner_sessions),
            self._route("/learners/{id}/smart-coach", GET=self.learner_smart_coach),
            self._route("/learner-courses", GET=self.learner_courses_feed),
            self._route("/sessions", GET=self.sessions_feed),
            self._route("/smart-coach", GET=self.smart_coach_feed),
            self._route("/event-types", GET=self.event_types),
        ]

    @staticmethod
    def _route(template: str, *, public: bool = False, **methods: Handler) -> Route:
        pattern = re.escape(f"/api/v1{template}")
        for placeholder, name in PLACEHOLDERS.items():
            pattern = pattern.replace(re.escape(placeholder), f"(?P<{name}>[^/]+)")
        return Route(re.compile(f"^{pattern}$"), f"/api/v1{template}", methods, public)

    def resolve(self, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                return route, match.groupdict()
        return None

    # Authentication -------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        request.no_query()
        values, problems = clean(request.json_object(), TOKEN_REQUEST)
        if problems:
            raise invalid(problems)
        if not self.credentials.match(values["Username"], values["Password"], values["ClientKey"]):
            raise ApiError.of(
                401, "invalid_credentials", "The username, password or client key is wrong."
            )
        lifetime = self.faults.token_lifetime_seconds
        access_token = self.tokens.issue(values["ClientKey"], lifetime)
        return Response.json(
            200, {"AccessToken": access_token, "TokenType": "Bearer", "ExpiresIn": lifetime}
        )

    # Shared rules ---------------------------------------------------------------------------

    def _exists(
        self, values: dict[str, Any], name: str, find: Callable[[int], Any], what: str
    ) -> list[Problem]:
        value = values.get(name)
        if value is None or find(value) is not None:
            return []
        return [Problem("validation", f"{name} {value} is not a known {what}.", name)]

    def _learner_problems(self, values: dict[str, Any]) -> list[Problem]:
        problems = []
        if values.get("DateOfBirth"):
            problem = age_problem(values["DateOfBirth"], self.store.today())
            if problem:
                problems.append(problem)
        problems += self._exists(values, "EmployerSmartAssessorId", self.store.employer, "employer")
        problems += self._exists(values, "AssessorSmartAssessorId", self.store.assessor, "assessor")
        return problems

    def _learner_or_404(self, text: str) -> dict[str, Any]:
        learner = self.store.learner(_guid(text, "learner"))
        if learner is None:
            raise not_found(f"No learner has SmartAssessorId {text}.")
        return learner

    # Courses, employers, assessors ------------------------------------------------------------

    def courses(self, request: Request) -> Response:
        return self._page(self.store.courses(listing(request.query, feed=False)))

    def employers(self, request: Request) -> Response:
        query = listing(request.query, feed=False, filters={"Search": 100, "MISEmployerId": 32})
        return self._page(self.store.employers(query))

    def _employer_or_404(self, text: str) -> dict[str, Any]:
        employer = self.store.employer(_integer_id(text, "employer"))
        if employer is None:
            raise not_found(f"No employer has SmartAssessorId {text}.")
        return employer

    def employer(self, request: Request, object_id: str) -> Response:
        request.no_query()
        return Response.json(200, self._employer_or_404(object_id))

    def employer_create(self, request: Request) -> Response:
        request.no_query()
        values, problems = clean(request.json_object(), EMPLOYER)
        if problems:
            raise invalid(problems)
        return Response.json(201, self.store.employer_create(values))

    def employer_replace(self, request: Request, object_id: str) -> Response:
        request.no_query()
        employer_id = self._employer_or_404(object_id)["SmartAssessorId"]
        values, problems = clean(request.json_object(), EMPLOYER)
        if problems:
            raise invalid(problems)
        employer = self.store.employer_replace(employer_id, values)
        if employer is None:
            raise not_found(f"No employer has SmartAssessorId {object_id}.")
        return Response.json(200, employer)

    def assessors(self, request: Request) -> Response:
        query = listing(request.query, feed=False, filters={"Search": 100, "MISAssessorId": 32})
        return self._page(self.store.assessors(query))

    def _assessor_or_404(self, text: str) -> dict[str, Any]:
        assessor = self.store.assessor(_integer_id(text, "assessor"))
        if assessor is None:
            raise not_found(f"No assessor has SmartAssessorId {text}.")
        return assessor

    def assessor(self, request: Request, object_id: str) -> Response:
        request.no_query()
        return Response.json(200, self._assessor_or_404(object_id))

    def assessor_create(self, request: Request) -> Response:
        request.no_query()
        values, problems = clean(request.json_object(), ASSESSOR)
        if problems:
            raise invalid(problems)
        return Response.json(201, self.store.assessor_create(values))

    def assessor_replace(self, request: Request, object_id: str) -> Response:
        request.no_query()
        assessor_id = self._assessor_or_404(object_id)["SmartAssessorId"]
        values, problems = clean(request.json_object(), ASSESSOR)
        if problems:
            raise invalid(problems)
        assessor = self.store.assessor_replace(assessor_id, values)
        if assessor is None:
            raise not_found(f"No assessor has SmartAssessorId {object_id}.")
        return Response.json(200, assessor)

    # Learners -------------------------------------------------------------------------------

    def learners(self, request: Request) -> Response:
        query = listing(request.query, feed=self.settings.feeds, filters={"MISLearnerId": 32})
        return self._page(self.store.learners(query))

    def learner(self, request: Request, object_id: str) -> Response:
        request.no_query()
        return Response.json(200, self._learner_or_404(object_id))

    def learner_create(self, request: Request) -> Response:
        request.no_query()
        values, problems = clean(request.json_object(), LEARNER_CREATE)
        send_welcome_email = bool(values.pop("SendWelcomeEmail", False))
        problems += self._learner_problems(values)
        if problems:
            raise invalid(problems)
        learner = self.store.learner_create(
            str(uuid.uuid4()), values, send_welcome_email=send_welcome_email
        )
        return Response.json(201, learner)

    def learner_update(self, request: Request, object_id: str) -> Response:
        request.no_query()
        learner = self._learner_or_404(object_id)
        body = request.json_object()
        problems = []
        if "MISLearnerId" in body:
            problems.append(
                Problem(
                    "validation",
                    "MISLearnerId cannot be changed: it is the MIS's own key for the learner.",
                    "MISLearnerId",
                )
            )
        changes, more = clean(
            {name: value for name, value in body.items() if name != "MISLearnerId"},
            LEARNER,
            partial=True,
        )
        problems += more + self._learner_problems(changes)
        if problems:
            raise invalid(problems)
        updated = self.store.learner_update(learner["SmartAssessorId"], changes)
        if updated is None:
            raise not_found(f"No learner has SmartAssessorId {object_id}.")
        return Response.json(200, updated)

    # Enrolments ------------------------------------------------------------------------------

    def learner_courses(self, request: Request, object_id: str) -> Response:
        learner = self._learner_or_404(object_id)
        query = listing(request.query, feed=False)
        return self._page(self.store.learner_courses(query, learner["SmartAssessorId"]))

    def learner_course_create(self, request: Request, object_id: str) -> Response:
        request.no_query()
        learner = self._learner_or_404(object_id)
        values, problems = clean(request.json_object(), LEARNER_COURSE)
        course, course_problems = self._course_for_enrolment(values.get("CourseSmartAssessorId"))
        problems += course_problems
        problems += self._enrolment_problems(values, values, problems)
        if problems or course is None:
            raise invalid(problems)
        enrolment = self.store.learner_course_create(
            str(uuid.uuid4()), learner["SmartAssessorId"], values, course["QANCode"]
        )
        return Response.json(201, enrolment)

    def _enrolment_problems(
        self, values: dict[str, Any], result: dict[str, Any], problems: list[Problem]
    ) -> list[Problem]:
        """The rules that reach beyond one field's format, for the values given and the
        enrolment they would make (``result``), given the ``problems`` found so far."""
        found = []
        for name in (PRIMARY, SECONDARY):
            found += self._exists(values, name, self.store.assessor, "assessor")
        faulty = {problem.field for problem in problems + found}
        primary = result.get(PRIMARY)
        # Only two sound ids can clash, and a field gets one error at most.
        if (
            primary is not None
            and primary == result.get(SECONDARY)
            and not faulty & {PRIMARY, SECONDARY}
        ):
            name, other = (SECONDARY, "primary") if SECONDARY in values else (PRIMARY, "secondary")
            found.append(
                Problem("validation", f"{name} must differ from the {other} assessor.", name)
            )
        planned_end, start = values.get("PlannedEndDate"), result.get("StartDate")
        if planned_end and start and planned_end <= start:
            found.append(
                Problem("validation", "PlannedEndDate must be after StartDate.", "PlannedEndDate")
            )
        return found

    def learner_course_update(
        self, request: Request, object_id: str, enrolment_id: str
    ) -> Response:
        request.no_query()
        learner_id = self._learner_or_404(object_id)["SmartAssessorId"]
        missing = not_found(f"Learner {learner_id} has no enrolment {enrolment_id}.")
        enrolment_id = _guid(enrolment_id, "enrolment")
        if self.store.learner_course(learner_id, enrolment_id) is None:
            raise missing
        body = request.json_object()
        changes, problems = clean(body, LEARNER_COURSE_CHANGE, partial=True)
        for given, needed in (("Status", "StatusDate"), ("StatusDate", "Status")):
            if given in body and needed not in body:
                problems.append(Problem("validation", f"{needed} must come with {given}.", needed))
        wanted, day = changes.pop("Status", None), changes.pop("StatusDate", None)

        def change(current: dict[str, Any]) -> tuple[dict[str, Any], date | None]:
            result = {**current, **changes}
            more = self._enrolment_problems(changes, result, problems)
            if wanted and day:
                problem = status_date_problem(
                    current, wanted, date.fromisoformat(day), self.store.today()
                )
                if problem:
                    more.append(problem)
            if problems or more:
                raise invalid(problems + more)
            if not (wanted and day):
                return result, None
            moved = status_change(current, wanted, day)
            return {**result, **moved}, date.fromisoformat(day) if moved else None

        updated = self.store.learner_course_update(learner_id, enrolment_id, change)
        if updated is None:
            raise missing
        return Response.json(200, updated)

    def _course_for_enrolment(
        self, course_id: int | None
    ) -> tuple[dict[str, Any] | None, list[Problem]]:
        """The course an enrolment names, or the problem with it (a missing id is reported by
        the schema already)."""
        if course_id is None:
            return None, []
        course = self.store.course(course_id)
        if course is None:
            message = f"CourseSmartAssessorId {course_id} is not a course of this site."
        elif not course["IsActive"]:
            message = (
                f"Course {course['QANCode']} {course['QualificationTitle']} is inactive and "
                "cannot be enrolled on."
            )
        else:
            return course, []
        return None, [Problem("validation", message, "CourseSmartAssessorId")]

    def learner_courses_feed(self, request: Request) -> Response:
        return self._page(
            self.store.learner_courses(listing(request.query, feed=self.settings.feeds))
        )

    # Sessions and Smart Coach ----------------------------------------------------------------

    def learner_sessions(self, request: Request, object_id: str) -> Response:
        learner = self._learner_or_404(object_id)
        query = listing(request.query, feed=False)
        return self._page(self.store.sessions(query, learner["SmartAssessorId"]))

    def sessions_feed(self, request: Request) -> Response:
        return self._page(self.store.sessions(listing(request.query, feed=self.settings.feeds)))

    def event_types(self, request: Request) -> Response:
        request.no_query()
        return Response.json(200, {"Items": self.store.event_types()})

    def _require_smart_coach(self) -> None:
        if not self.faults.smart_coach_licensed:
            raise ApiError.of(403, "forbidden", "This site has no Smart Coach licence.")

    def learner_smart_coach(self, request: Request, object_id: str) -> Response:
        self._require_smart_coach()
        request.no_query()
        learner = self._learner_or_404(object_id)
        score = self.store.smart_coach(learner["SmartAssessorId"])
        if score is None:
            raise not_found("Smart Coach has no score for this learner yet.")
        return Response(200, score)

    def smart_coach_feed(self, request: Request) -> Response:
        self._require_smart_coach()
        return self._page(
            self.store.smart_coach_scores(listing(request.query, feed=self.settings.feeds))
        )

    @staticmethod
    def _page(page: Any) -> Response:
        return Response(200, page.as_json_text())
