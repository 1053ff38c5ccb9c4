"""``SmartAssessorClient``: every endpoint of the contract, over one pooled HTTP session.

What the client does on every call: take a token from the rate limiter, send with explicit
(connect, read) timeouts and a deadline for the whole answer, read at most ``max_body_bytes``
(decompressed) and ``max_json_depth`` levels of JSON (``transport``), map the answer to a typed
result or a typed error (``errors``), renew
the access token once when the server says it expired, wait ``Retry-After`` on 429, and retry
GET, PUT and PATCH on transient failures with bounded exponential backoff and full jitter.
POSTs are only repeated after a 429 (the server did not act); creates carry an
``Idempotency-Key`` so that the caller can repeat them safely.
"""

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, TypedDict, TypeVar
from urllib.parse import quote

import requests
import urllib3

from .errors import (
    AuthenticationFailed,
    Conflict,
    ErrorDetail,
    Forbidden,
    IdempotencyKeyReused,
    InvalidTransition,
    NotFound,
    ProtocolError,
    RateLimited,
    SmartAssessorError,
    Transient,
    ValidationFailed,
)
from .paging import DEFAULT_MAX_PAGES, Feed, Listing, Scan
from .ratelimit import LocalRateLimiter, RateLimiter
from .tokens import (
    CredentialBody,
    MemoryTokenStore,
    Secret,
    StoredToken,
    TokenStore,
    account_fingerprint,
    sensitive,
    usable_until,
)
from .transport import (
    ACCEPT_ENCODING,
    BodyRefused,
    Deadline,
    DeadlineAdapter,
    deadline_applied,
    json_loads,
    read_body,
)
from .types import (
    AccessToken,
    Assessor,
    AssessorId,
    AssessorInput,
    Course,
    Employer,
    EmployerId,
    EmployerInput,
    EventType,
    FeedPosition,
    Learner,
    LearnerChanges,
    LearnerCourse,
    LearnerCourseChanges,
    LearnerCourseId,
    LearnerCourseInput,
    LearnerId,
    LearnerInput,
    MalformedItem,
    Page,
    Session,
    SmartCoachScore,
    WireFormatError,
    _shown,
    format_datetime,
    from_wire,
    is_id,
    parse_items,
    parse_page,
    parse_tolerant_page,
    to_wire,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Resource(Protocol):
    @property
    def smart_assessor_id(self) -> int | str: ...


class _FeedItem(Protocol):
    @property
    def modified_at(self) -> dt.datetime: ...


Identified = TypeVar("Identified", bound=_Resource)
Modified = TypeVar("Modified", bound=_FeedItem)


@dataclasses.dataclass(frozen=True)
class _Changing(Generic[Modified]):
    """A list that is a change feed (§4) where Smart Assessor has feeds, and is read in full
    (a scan) where it has not. ``key`` is the item's id field, by which a scan is ordered and
    a feed after ``modified_at``; ``learner_key`` the one naming its learner (reported with a
    malformed item)."""

    cls: type[Modified]
    path: str
    key: str
    learner_key: str

    def parse(self, data: object) -> Page[Modified | MalformedItem]:
        return parse_tolerant_page(self.cls, data, key=self.key, learner_key=self.learner_key)

    def id_of(self, item: Modified) -> int | str:
        identifier: int | str = getattr(item, self.key)
        return identifier


_LEARNERS = _Changing(Learner, "/learners", "smart_assessor_id", "smart_assessor_id")
_LEARNER_COURSES = _Changing(
    LearnerCourse, "/learner-courses", "smart_assessor_id", "learner_smart_assessor_id"
)
_SESSIONS = _Changing(Session, "/sessions", "smart_assessor_id", "learner_smart_assessor_id")
# A Smart Coach score has no id of its own: it is keyed by its learner.
_SMART_COACH = _Changing(
    SmartCoachScore, "/smart-coach", "learner_smart_assessor_id", "learner_smart_assessor_id"
)


class _Where(TypedDict):
    """The request an error is about."""

    method: str
    path: str


class _ErrorContext(_Where):
    status: int
    errors: list[ErrorDetail]


DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
# The largest answer read, counted after decompression: a page of 500 learners is about 0.4 MB.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# The deepest JSON read: the contract's answers nest 3 levels ({"Items": [{...}]}).
DEFAULT_MAX_JSON_DEPTH = 20
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,64}")
_RENEWABLE_TOKEN_CODES = {"token_expired", "unauthorized"}


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before an error reaches the caller.

    ``max_attempts`` bounds the tries of one call (transient failures and 429s together; a
    token renewal does not count). Backoff before try n+1 is uniform in
    [0, min(max_delay, base_delay * 2**(n-1))]. A 429 is waited out when its Retry-After is at
    most ``max_retry_after`` seconds; a longer one is raised at once for the caller to plan.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff_ceiling(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1))


def _full_jitter(ceiling: float) -> float:
    return random.uniform(0, ceiling)


class _TokenRejected(AuthenticationFailed):
    """401 token_expired/unauthorized for a token we sent: renew once and repeat."""


class SmartAssessorClient:
    """One Smart Assessor account. Thread-safe; share one per process.

    ``pool_size`` is the number of connections kept open to the server: the number of
    threads expected to call at once. ``rate_limiter`` defaults to 10 requests a second for
    this process alone, ``token_store`` to this process's memory. ``sleep``, ``jitter`` and
    ``clock`` (wall-clock seconds, for token lifetimes) are there for tests.

    What one answer may cost: ``deadline`` is the longest one exchange may take from sending to
    the last byte of the answer (default: the connect timeout plus the read timeout), however
    the server paces its bytes. ``call_deadline`` (default: twice ``deadline``) bounds a whole
    call with its retries and waits: a retry starts only when its wait and a whole exchange fit
    in the time left. ``max_body_bytes`` bounds an answer after
    decompression, ``max_json_depth`` its nesting, ``max_pages`` the pages of one list or feed.
    """

    @sensitive
    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: str,
        client_key: str,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        rate_limiter: RateLimiter | None = None,
        token_store: TokenStore | None = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 10,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float], float] = _full_jitter,
        clock: Callable[[], float] = time.time,
        deadline: float | None = None,
        call_deadline: float | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
        max_pages: int = DEFAULT_MAX_PAGES,
    ):
        self.base_url = base_url.rstrip("/")
        self.username = username
        # Held redacted, so that no repr, log line or error report of the client shows them.
        self._password = Secret(password)
        self._client_key = Secret(client_key)
        self._api = self.base_url + "/api/v1"
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = connect_timeout + read_timeout if deadline is None else deadline
        self.call_deadline = 2 * self.deadline if call_deadline is None else call_deadline
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.max_pages = max_pages
        self._limiter = rate_limiter or LocalRateLimiter(rate=10.0)
        self._tokens = token_store or MemoryTokenStore()
        self._token_key = "smartassessor:token:" + account_fingerprint(
            base_url=self.base_url, username=username, client_key=client_key
        )
        self._token_lock = threading.Lock()
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
                "User-Agent": "picsweb-smartassessor-client/1",
            }
        )
        # Retries are ours (they depend on the method and the answer), never urllib3's.
        adapter = DeadlineAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"<SmartAssessorClient {self.base_url} as {self.username}>"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "SmartAssessorClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- Authentication (§2) -----------------------------------------------------------------

    @sensitive
    def authenticate(self) -> None:
        """Fetch a new access token now; raises ``AuthenticationFailed`` for bad credentials."""
        with self._token_lock:
            self._fetch_token()

    @sensitive
    def _access_token(self) -> str:
        stored = self._tokens.get(self._token_key)
        if stored is not None and stored.usable_until > self._clock():
            return stored.access_token
        with self._token_lock:
            # Another thread may have renewed it while this one waited for the lock.
            stored = self._tokens.get(self._token_key)
            if stored is not None and stored.usable_until > self._clock():
                return stored.access_token
            return self._fetch_token()

    @sensitive
    def _fetch_token(self) -> str:
        issued_at = self._clock()
        data = self._call(
            "POST",
            "/token",
            body=self._token_request_body(),
            authenticated=False,
            # A new token does not revoke older ones, so asking again is harmless.
            retry_transient=True,
        )
        token = self._parse("POST", "/token", lambda: from_wire(AccessToken, data))
        self._tokens.set(
            self._token_key,
            StoredToken(
                access_token=token.access_token,
                usable_until=usable_until(issued_at=issued_at, expires_in=token.expires_in),
            ),
        )
        logger.info(
            "Smart Assessor: new access token for %s (expires in %s s)",
            self.username,
            token.expires_in,
        )
        return token.access_token

    @sensitive
    def _token_request_body(self) -> CredentialBody:
        return CredentialBody(
            Username=self.username,
            Password=self._password.reveal(),
            ClientKey=self._client_key.reveal(),
        )

    # --- Courses (§7.1) ----------------------------------------------------------------------

    def course_list(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Listing[Course]:
        return self._listing(Course, "/courses", page_size=page_size)

    # --- Employers (§7.2) --------------------------------------------------------------------

    def employer_page(
        self,
        *,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        search: str | None = None,
        mis_employer_id: str | None = None,
    ) -> Page[Employer]:
        filters = {"Search": search, "MISEmployerId": mis_employer_id}
        return self._page(Employer, "/employers", page=page, page_size=page_size, **filters)

    def employer_list(
        self,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        search: str | None = None,
        mis_employer_id: str | None = None,
    ) -> Listing[Employer]:
        filters = {"Search": search, "MISEmployerId": mis_employer_id}
        return self._listing(Employer, "/employers", page_size=page_size, **filters)

    def employer_get(self, *, employer_id: EmployerId) -> Employer:
        return self._get(Employer, f"/employers/{_segment(employer_id)}", id_type=int)

    def employer_create(self, *, employer: EmployerInput, idempotency_key: str) -> Employer:
        return self._create(Employer, "/employers", to_wire(employer), idempotency_key, int)

    def employer_update(self, *, employer_id: EmployerId, employer: EmployerInput) -> Employer:
        """PUT: every writable field is replaced; None empties it."""
        path = f"/employers/{_segment(employer_id)}"
        return self._write(Employer, "PUT", path, to_wire(employer), id_type=int)

    # --- Assessors (§7.3) --------------------------------------------------------------------

    def assessor_page(
        self,
        *,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        search: str | None = None,
        mis_assessor_id: str | None = None,
    ) -> Page[Assessor]:
        filters = {"Search": search, "MISAssessorId": mis_assessor_id}
        return self._page(Assessor, "/assessors", page=page, page_size=page_size, **filters)

    def assessor_list(
        self,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        search: str | None = None,
        mis_assessor_id: str | None = None,
    ) -> Listing[Assessor]:
        filters = {"Search": search, "MISAssessorId": mis_assessor_id}
        return self._listing(Assessor, "/assessors", page_size=page_size, **filters)

    def assessor_get(self, *, assessor_id: AssessorId) -> Assessor:
        return self._get(Assessor, f"/assessors/{_segment(assessor_id)}", id_type=int)

    def assessor_create(self, *, assessor: AssessorInput, idempotency_key: str) -> Assessor:
        return self._create(Assessor, "/assessors", to_wire(assessor), idempotency_key, int)

    def assessor_update(self, *, assessor_id: AssessorId, assessor: AssessorInput) -> Assessor:
        """PUT: every writable field is replaced; None empties it."""
        path = f"/assessors/{_segment(assessor_id)}"
        return self._write(Assessor, "PUT", path, to_wire(assessor), id_type=int)

    # --- Learners (§7.4) ---------------------------------------------------------------------

    def learner_page(
        self,
        *,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        mis_learner_id: str | None = None,
    ) -> Page[Learner]:
        return self._page(
            Learner, "/learners", page=page, page_size=page_size, MISLearnerId=mis_learner_id
        )

    def learner_list(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, mis_learner_id: str | None = None
    ) -> Listing[Learner]:
        return self._listing(Learner, "/learners", page_size=page_size, MISLearnerId=mis_learner_id)

    def learner_feed(
        self,
        *,
        since: FeedPosition | dt.datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Feed[Learner]:
        return self._feed(_LEARNERS, since=since, page_size=page_size)

    def learner_scan(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Scan[Learner]:
        """Every learner, by ``Page``: the learner feed of a Smart Assessor without feeds."""
        return self._scan(_LEARNERS, page_size=page_size)

    def learner_get(self, *, learner_id: LearnerId) -> Learner:
        return self._get(Learner, f"/learners/{_segment(learner_id)}", id_type=str)

    def learner_create(
        self, *, learner: LearnerInput, idempotency_key: str, send_welcome_email: bool = False
    ) -> Learner:
        body = to_wire(learner) | {"SendWelcomeEmail": send_welcome_email}
        return self._create(Learner, "/learners", body, idempotency_key, str)

    def learner_update(self, *, learner_id: LearnerId, changes: LearnerChanges) -> Learner:
        """PATCH: only the fields set on ``changes`` are sent."""
        path = f"/learners/{_segment(learner_id)}"
        return self._write(Learner, "PATCH", path, to_wire(changes), id_type=str)

    # --- Learner courses (§7.5) --------------------------------------------------------------

    def learner_course_list(
        self, *, learner_id: LearnerId, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Listing[LearnerCourse]:
        path = f"/learners/{_segment(learner_id)}/courses"
        return self._listing(LearnerCourse, path, page_size=page_size)

    def learner_course_create(
        self, *, learner_id: LearnerId, enrolment: LearnerCourseInput, idempotency_key: str
    ) -> LearnerCourse:
        path = f"/learners/{_segment(learner_id)}/courses"
        return self._create(LearnerCourse, path, to_wire(enrolment), idempotency_key, str)

    def learner_course_update(
        self, *, learner_id: LearnerId, enrolment_id: LearnerCourseId, changes: LearnerCourseChanges
    ) -> LearnerCourse:
        """PATCH (contract 1.1): only the fields set on ``changes`` are sent."""
        path = f"/learners/{_segment(learner_id)}/courses/{_segment(enrolment_id)}"
        return self._write(LearnerCourse, "PATCH", path, to_wire(changes), id_type=str)

    def learner_course_feed(
        self,
        *,
        since: FeedPosition | dt.datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Feed[LearnerCourse]:
        return self._feed(_LEARNER_COURSES, since=since, page_size=page_size)

    def learner_course_scan(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Scan[LearnerCourse]:
        """Every enrolment, by ``Page``: the enrolment feed of a Smart Assessor without feeds."""
        return self._scan(_LEARNER_COURSES, page_size=page_size)

    # --- Sessions (§7.6) ---------------------------------------------------------------------

    def learner_session_list(
        self, *, learner_id: LearnerId, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Listing[Session]:
        path = f"/learners/{_segment(learner_id)}/sessions"
        return self._listing(Session, path, page_size=page_size)

    def session_feed(
        self,
        *,
        since: FeedPosition | dt.datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Feed[Session]:
        return self._feed(_SESSIONS, since=since, page_size=page_size)

    def session_scan(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Scan[Session]:
        """Every session, by ``Page``: the session feed of a Smart Assessor without feeds."""
        return self._scan(_SESSIONS, page_size=page_size)

    def event_type_list(self) -> tuple[EventType, ...]:
        data = self._call("GET", "/event-types")
        return self._parse("GET", "/event-types", lambda: parse_items(EventType, data))

    # --- Smart Coach (§7.7) ------------------------------------------------------------------

    def smart_coach_get(self, *, learner_id: LearnerId) -> SmartCoachScore:
        """Raises ``NotFound`` when the learner has no score yet, ``Forbidden`` if unlicensed."""
        path = f"/learners/{_segment(learner_id)}/smart-coach"
        return self._get(SmartCoachScore, path, id_type=str)

    def smart_coach_feed(
        self,
        *,
        since: FeedPosition | dt.datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Feed[SmartCoachScore]:
        return self._feed(_SMART_COACH, since=since, page_size=page_size)

    def smart_coach_scan(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Scan[SmartCoachScore]:
        """Every score, by ``Page`` (ordered by learner id): the Smart Coach feed of a Smart
        Assessor without feeds. ``Forbidden`` where Smart Coach is not licensed."""
        return self._scan(_SMART_COACH, page_size=page_size)

    # --- Which way to read (§4) --------------------------------------------------------------

    def has_feeds(self) -> bool:
        """Whether this Smart Assessor offers the change feeds: one request for at most one
        enrolment changed from now on. False when it refuses ``ModifiedSince`` as an unknown
        query parameter (``400 unknown_field``, as a service without feeds does), True when it
        answers with a page; any other error is raised as usual."""
        path = _LEARNER_COURSES.path
        params = {"ModifiedSince": format_datetime(dt.datetime.now(dt.UTC)), "PageSize": 1}
        try:
            data = self._call("GET", path, params=params)
        except ValidationFailed as exc:
            if any(
                error.code == "unknown_field" and error.field in (None, "ModifiedSince")
                for error in exc.errors
            ):
                return False
            raise
        self._parse("GET", path, lambda: _LEARNER_COURSES.parse(data))
        return True

    # --- Shapes of calls ---------------------------------------------------------------------

    def _get(self, cls: type[T], path: str, *, id_type: type) -> T:
        data = self._call("GET", path, conflict_id_type=id_type)
        return self._parse("GET", path, lambda: from_wire(cls, data))

    def _write(self, cls: type[T], method: str, path: str, body: dict, *, id_type: type) -> T:
        data = self._call(method, path, body=body, conflict_id_type=id_type)
        return self._parse(method, path, lambda: from_wire(cls, data))

    def _create(
        self, cls: type[T], path: str, body: dict, idempotency_key: str, id_type: type
    ) -> T:
        if not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise ValueError("an Idempotency-Key is 1 to 64 visible ASCII characters")
        data = self._call(
            "POST", path, body=body, idempotency_key=idempotency_key, conflict_id_type=id_type
        )
        return self._parse("POST", path, lambda: from_wire(cls, data))

    def _page(
        self, cls: type[T], path: str, *, page: int, page_size: int, **filters: Any
    ) -> Page[T]:
        _check_page_size(page_size)
        if page < 1:
            raise ValueError("pages are numbered from 1")
        params = {"Page": page, "PageSize": page_size}
        params.update({name: value for name, value in filters.items() if value is not None})
        data = self._call("GET", path, params=params)
        return self._parse("GET", path, lambda: parse_page(cls, data))

    def _listing(
        self, cls: type[Identified], path: str, *, page_size: int, **filters: Any
    ) -> Listing[Identified]:
        _check_page_size(page_size)
        return Listing(
            fetch_page=lambda number: self._page(
                cls, path, page=number, page_size=page_size, **filters
            ),
            page_size=page_size,
            max_pages=self.max_pages,
            id_of=lambda item: item.smart_assessor_id,
            path=path,
        )

    def _feed(
        self,
        changing: _Changing[Modified],
        *,
        since: FeedPosition | dt.datetime | None,
        page_size: int,
    ) -> Feed[Modified]:
        _check_page_size(page_size)

        def fetch_page(cursor: FeedPosition | dt.datetime) -> Page[Modified | MalformedItem]:
            if isinstance(cursor, FeedPosition):
                params: dict[str, Any] = cursor.query()
            else:
                params = {"ModifiedSince": format_datetime(cursor)}
            params["PageSize"] = page_size
            data = self._call("GET", changing.path, params=params)
            return self._parse("GET", changing.path, lambda: changing.parse(data))

        def position_of(item: Modified) -> FeedPosition:
            return FeedPosition(
                modified_at=item.modified_at, smart_assessor_id=changing.id_of(item)
            )

        return Feed(
            fetch_page=fetch_page,
            position_of=position_of,
            since=since,
            page_size=page_size,
            max_pages=self.max_pages,
            path=changing.path,
        )

    def _scan(self, changing: _Changing[Modified], *, page_size: int) -> Scan[Modified]:
        _check_page_size(page_size)

        def fetch_page(number: int) -> Page[Modified | MalformedItem]:
            params = {"Page": number, "PageSize": page_size}
            data = self._call("GET", changing.path, params=params)
            return self._parse("GET", changing.path, lambda: changing.parse(data))

        return Scan(
            fetch_page=fetch_page,
            id_of=changing.id_of,
            page_size=page_size,
            max_pages=self.max_pages,
            path=changing.path,
        )

    def _parse(self, method: str, path: str, parse: Callable[[], T]) -> T:
        try:
            return parse()
        except WireFormatError as exc:
            raise ProtocolError(
                f"the answer does not have the documented shape: {exc}", method=method, path=path
            ) from None

    # --- The exchange ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        conflict_id_type: type | None = None,
        authenticated: bool = True,
        retry_transient: bool | None = None,
    ) -> Any:
        """Send until an answer is final; returns the parsed JSON of a 2xx answer."""
        if retry_transient is None:
            retry_transient = method != "POST"
        attempt = 1
        renewed = False
        started = time.monotonic()

        def time_left() -> float:
            return self.call_deadline - (time.monotonic() - started)

        while True:
            token = self._access_token() if authenticated else None
            try:
                return self._exchange(
                    method,
                    path,
                    params=params,
                    body=body,
                    token=token,
                    idempotency_key=idempotency_key,
                    conflict_id_type=conflict_id_type,
                )
            except _TokenRejected as exc:
                if renewed:
                    raise AuthenticationFailed(
                        "a newly issued access token was refused as well",
                        method=method,
                        path=path,
                        status=exc.status,
                        errors=exc.errors,
                    ) from None
                renewed = True
                assert token is not None, "only a token that was sent can be refused"
                self._tokens.discard(self._token_key, token)
                logger.info("Smart Assessor refused the access token; renewing it once")
                continue
            except RateLimited as exc:
                if (
                    attempt >= self._retry.max_attempts
                    or exc.retry_after > self._retry.max_retry_after
                    or exc.retry_after + self.deadline > time_left()
                ):
                    raise
                logger.warning("%s; waiting %s s as asked", exc, exc.retry_after)
                self._sleep(exc.retry_after)
            except Transient as exc:
                if not retry_transient or attempt >= self._retry.max_attempts:
                    raise
                delay = self._jitter(self._retry.backoff_ceiling(attempt))
                if delay + self.deadline > time_left():
                    raise
                logger.warning("%s; try %d in %.2f s", exc, attempt + 1, delay)
                self._sleep(delay)
            attempt += 1

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        token: str | None,
        idempotency_key: str | None,
        conflict_id_type: type | None,
    ) -> Any:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
            data = json.dumps(body, ensure_ascii=False).encode()
        where: _Where = {"method": method, "path": path}
        try:
            self._limiter.acquire()
        except Transient as exc:
            raise Transient(exc.detail, ambiguous=False, **where) from exc
        started = time.perf_counter()
        deadline = Deadline(self.deadline)
        connect_timeout = min(self.timeout[0], self.deadline)
        received: bytes | BodyRefused  # the answer's body, or why it was not read
        try:
            with deadline_applied(deadline):
                response = self._session.request(
                    method,
                    self._api + path,
                    params=params,
                    data=data,
                    headers=headers,
                    timeout=(connect_timeout, self.timeout[1]),
                    allow_redirects=False,
                    stream=True,
                )
                try:
                    received = read_body(response, limit=self.max_body_bytes)
                except BodyRefused as exc:
                    received = exc
                finally:
                    response.close()
        except requests.ConnectTimeout:
            raise Transient(
                f"no connection to {self.base_url} within {self.timeout[0]} s",
                ambiguous=False,
                **where,
            ) from None
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            if deadline.expired:
                raise Transient(
                    f"no complete answer within {self.deadline:g} s", ambiguous=True, **where
                ) from None
            raise Transient(
                f"no answer within {self.timeout[1]} s", ambiguous=True, **where
            ) from None
        except requests.exceptions.SSLError as exc:
            # A certificate problem does not go away by itself: not transient.
            raise SmartAssessorError(
                f"the TLS handshake with {self.base_url} failed ({_reason(exc)})", **where
            ) from None
        except requests.ConnectionError as exc:
            raise Transient(
                f"connection to {self.base_url} failed ({_reason(exc)})",
                ambiguous=not _never_connected(exc),
                **where,
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # Raised while the body was read (the headers had come): the server may have acted.
            raise Transient(
                f"the answer from {self.base_url} broke off ({_reason(exc)})",
                ambiguous=True,
                **where,
            ) from None
        except requests.RequestException as exc:
            raise SmartAssessorError(f"the request could not be made ({exc})", **where) from None
        status = response.status_code
        logger.debug(
            "Smart Assessor %s %s -> %s in %.0f ms",
            method,
            path,
            status,
            (time.perf_counter() - started) * 1000,
        )
        if 200 <= status < 300:
            if isinstance(received, BodyRefused):
                raise ProtocolError(f"the answer was refused: {received}", status=status, **where)
            try:
                return json_loads(received, max_depth=self.max_json_depth)
            except BodyRefused as exc:
                raise ProtocolError(
                    f"the answer was refused: {exc}", status=status, **where
                ) from None
            except ValueError:
                raise ProtocolError(
                    f"the answer is not JSON: {_snippet(received)}", status=status, **where
                ) from None
        payload = None
        if not isinstance(received, BodyRefused):
            # Not JSON, or too deep (BodyRefused): then the status alone says what it is.
            with contextlib.suppress(ValueError):
                payload = json_loads(received, max_depth=self.max_json_depth)
        raise _error_from_response(
            response,
            body=received,
            payload=payload,
            where=where,
            sent_token=token is not None,
            conflict_id_type=conflict_id_type,
        )


# --- Helpers ---------------------------------------------------------------------------------


def _segment(value: int | str) -> str:
    return quote(str(value), safe="")


def _check_page_size(page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"PageSize must be between 1 and {MAX_PAGE_SIZE}")


def _snippet(body: bytes | BodyRefused) -> str:
    """The start of a body, for a message; at most 200 characters whatever the body holds."""
    if isinstance(body, BodyRefused):
        return f"(a body that was not read: {body})"
    text = " ".join(body[:1000].decode("utf-8", "replace").split())
    if not text:
        return "(empty body)"
    return repr(text if len(text) <= 200 else text[:197] + "...")


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (getattr(current, "reason", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _never_connected(exc: BaseException) -> bool:
    """True when the request cannot have reached the server (refused, DNS failure)."""
    return any(
        isinstance(link, urllib3.exceptions.NewConnectionError) for link in _exception_chain(exc)
    )


def _reason(exc: BaseException) -> str:
    innermost = list(_exception_chain(exc))[-1]
    return str(innermost) or type(innermost).__name__


def _error_details(payload: Any) -> list[ErrorDetail]:
    if not isinstance(payload, dict) or not isinstance(payload.get("Errors"), list):
        return []
    details = []
    for entry in payload["Errors"]:
        if not isinstance(entry, dict):
            continue
        field = entry.get("Field")
        details.append(
            ErrorDetail(
                code=str(entry.get("Code") or ""),
                field=field if isinstance(field, str) else None,
                message=str(entry.get("Message") or ""),
            )
        )
    return details


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return 1.0


def _error_from_response(
    response: requests.Response,
    *,
    body: bytes | BodyRefused,
    payload: Any,
    where: _Where,
    sent_token: bool,
    conflict_id_type: type | None,
) -> SmartAssessorError:
    status = response.status_code
    errors = _error_details(payload)
    detail = "" if errors else _snippet(body)
    context: _ErrorContext = {"status": status, "errors": errors, **where}
    codes = {error.code for error in errors}
    if status == 400:
        return ValidationFailed(detail, **context)
    if status == 401:
        if sent_token and codes & _RENEWABLE_TOKEN_CODES:
            return _TokenRejected(detail, **context)
        return AuthenticationFailed(detail, **context)
    if status == 403:
        return Forbidden(detail, **context)
    if status == 404:
        return NotFound(detail, **context)
    if status == 409 and "invalid_transition" in codes:
        return InvalidTransition(detail, **context)
    if status == 409:
        existing_id = payload.get("ExistingSmartAssessorId") if isinstance(payload, dict) else None
        if conflict_id_type is not None and not is_id(existing_id, conflict_id_type):
            return ProtocolError(
                f"409 without an ExistingSmartAssessorId of type {conflict_id_type.__name__} "
                f"(got {_shown(existing_id)})",
                **context,
            )
        return Conflict(detail, existing_id=existing_id, **context)
    if status == 422:
        return IdempotencyKeyReused(detail, **context)
    if status == 429:
        return RateLimited(detail, retry_after=_retry_after(response), **context)
    if 500 <= status < 600:
        return Transient(detail, ambiguous=True, **context)
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        return ProtocolError(
            f"redirected to {location or 'another address'}: check the API base URL", **context
        )
    return ProtocolError(detail, **context)
