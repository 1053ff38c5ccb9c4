"""The sandbox's own storage: SQLite, a simulated clock and the deterministic seed.

Each object is kept as its full JSON representation (``data``) beside the few columns that lists,
filters and feeds need, so a page of 500 is read and sent without being parsed again. One
connection serves every thread behind one lock: each request does a few indexed statements, so
holding the lock costs far less than coordinating several connections, and every write happens
in one transaction that also stamps ``ModifiedAt``.

``ModifiedAt`` comes from one stamp sequence for the whole server: the simulated time, but never
less than one microsecond after the previous stamp, so no two writes share an instant and a feed
read by keyset never skips an object.
"""

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from . import simulation
from .errors import ApiError, Problem, invalid
from .validation import (
    ASSESSOR,
    EMPLOYER,
    EPOCH,
    LEARNER,
    Listing,
    Schema,
    format_timestamp,
    timestamp_date,
)

SCHEMA_VERSION = "2"
DAY_MICROS = 86_400_000_000
IDEMPOTENCY_MICROS = DAY_MICROS
FIRST_EMPLOYER_ID = 1001
FIRST_ASSESSOR_ID = 5001

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS courses (
    id INTEGER PRIMARY KEY, qan_code TEXT NOT NULL, title TEXT NOT NULL, level INTEGER,
    is_active INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS employers (
    id INTEGER PRIMARY KEY, mis_id TEXT NOT NULL UNIQUE, search TEXT NOT NULL,
    modified_us INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assessors (
    id INTEGER PRIMARY KEY, mis_id TEXT NOT NULL UNIQUE, search TEXT NOT NULL,
    modified_us INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS learners (
    id TEXT PRIMARY KEY, mis_id TEXT NOT NULL UNIQUE, modified_us INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS learners_feed ON learners (modified_us, id);
CREATE TABLE IF NOT EXISTS learner_courses (
    id TEXT PRIMARY KEY, learner_id TEXT NOT NULL, course_id INTEGER NOT NULL,
    modified_us INTEGER NOT NULL, data TEXT NOT NULL, story TEXT,
    UNIQUE (learner_id, course_id)
);
CREATE INDEX IF NOT EXISTS learner_courses_feed ON learner_courses (modified_us, id);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, learner_id TEXT NOT NULL, modified_us INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_learner ON sessions (learner_id, id);
CREATE INDEX IF NOT EXISTS sessions_feed ON sessions (modified_us, id);
CREATE TABLE IF NOT EXISTS smart_coach (
    id TEXT PRIMARY KEY, modified_us INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS smart_coach_feed ON smart_coach (modified_us, id);
CREATE TABLE IF NOT EXISTS event_types (
    code TEXT PRIMARY KEY, name TEXT NOT NULL, position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, learner_id TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    client_key TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT NOT NULL, created_us INTEGER NOT NULL,
    PRIMARY KEY (client_key, key)
);
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency (created_us);
"""
TABLES = (
    "courses",
    "employers",
    "assessors",
    "learners",
    "learner_courses",
    "sessions",
    "smart_coach",
    "event_types",
    "outbox",
    "idempotency",
)
STAMPED_TABLES = (
    "employers",
    "assessors",
    "learners",
    "learner_courses",
    "sessions",
    "smart_coach",
)

# (QANCode as SA writes it, title, level, active). Two references are written the way a person
# might type them, so that clients have to normalise before matching.
COURSES = (
    ("ST0070", "Business Administrator", 3, True),
    ("ST0072", "Customer Service Practitioner", 2, True),
    ("ST 0384", "Team Leader or Supervisor", 3, True),
    ("ST0385", "Operations or Departmental Manager", 5, True),
    ("ST0116", "Software Developer", 4, True),
    ("ST0118", "Data Analyst", 4, True),
    ("st0122", "Digital Marketer", 3, True),
    ("ST0005", "Adult Care Worker", 2, True),
    ("ST0006", "Lead Adult Care Worker", 3, True),
    ("ST0135", "Early Years Educator", 3, True),
    ("ST0310", "Associate Project Manager", 4, True),
    ("ZPROG001", "Apprenticeship programme aim", None, True),
    ("ST0228", "Commis Chef", 2, False),
    ("ST0213", "Hair Professional", 2, False),
    ("ST0420", "Lead Practitioner in Adult Care", 4, True),
    ("ST0102", "Engineering Technician", 3, True),
)
FIRST_COURSE_ID = 101

# MIS ids the MIS does not have, so the demo shows SA records being linked as well as created.
EMPLOYERS = (
    {
        "MISEmployerId": "SA-ONLY-EMP-001",
        "Name": "Pennine Valley Care Ltd",
        "EdsId": "104558231",
        "AddressLine1": "Unit 4, Mill Lane",
        "AddressLine2": "Hebden Bridge",
        "AddressLine3": "West Yorkshire",
        "AddressLine4": None,
        "AddressPostCode": "HX7 8AD",
        "Telephone": "01422 845210",
        "Website": "https://penninevalleycare.example",
        "EmployerSize": "50-249",
    },
    {
        "MISEmployerId": "SA-ONLY-EMP-002",
        "Name": "Severn Digital Solutions Ltd",
        "EdsId": "207733419",
        "AddressLine1": "3 Castle Foregate",
        "AddressLine2": "Shrewsbury",
        "AddressLine3": None,
        "AddressLine4": None,
        "AddressPostCode": "SY1 2DJ",
        "Telephone": "01743 562190",
        "Website": "https://severndigital.example",
        "EmployerSize": "1-49",
    },
    {
        "MISEmployerId": "SA-ONLY-EMP-003",
        "Name": "Thameside Early Years Trust",
        "EdsId": "311902876",
        "AddressLine1": "18 Bankside",
        "AddressLine2": "London",
        "AddressLine3": None,
        "AddressLine4": None,
        "AddressPostCode": "SE1 9GF",
        "Telephone": "020 7946 0321",
        "Website": None,
        "EmployerSize": "250+",
    },
    {
        "MISEmployerId": "SA-ONLY-EMP-004",
        "Name": "Humber Logistics Group",
        "EdsId": None,
        "AddressLine1": "Albert Dock Road",
        "AddressLine2": "Hull",
        "AddressLine3": None,
        "AddressLine4": None,
        "AddressPostCode": "HU1 2DP",
        "Telephone": "01482 220145",
        "Website": "https://humberlogistics.example",
        "EmployerSize": "250+",
    },
)
ASSESSORS = (
    {
        "MISAssessorId": "SA-ONLY-ASR-001",
        "FirstName": "Priya",
        "LastName": "Shah",
        "Email": "priya.shah@assessors.example",
        "Telephone": "0113 496 0781",
        "Mobile": "07700 900412",
    },
    {
        "MISAssessorId": "SA-ONLY-ASR-002",
        "FirstName": "Tom",
        "LastName": "Hughes",
        "Email": "tom.hughes@assessors.example",
        "Telephone": None,
        "Mobile": "07700 900587",
    },
    {
        "MISAssessorId": "SA-ONLY-ASR-003",
        "FirstName": "Grace",
        "LastName": "Okafor",
        "Email": "grace.okafor@assessors.example",
        "Telephone": "0161 496 0234",
        "Mobile": None,
    },
)
EVENT_TYPES = (
    ("PR", "Progress Review"),
    ("IND", "Induction"),
    ("AV", "Assessment Visit"),
    ("GW", "Gateway Review"),
    ("EXIT", "Exit Review"),
    ("OTJ", "Off-the-job Check"),
)


@dataclass(frozen=True)
class Page:
    items: list[str]
    """Each item is the object's JSON text, ready to send."""
    page: int
    page_size: int
    total: int

    def as_json_text(self) -> str:
        return (
            f'{{"Items":[{",".join(self.items)}],"Page":{self.page},'
            f'"PageSize":{self.page_size},"TotalCount":{self.total}}}'
        )


@dataclass(frozen=True)
class Remembered:
    fingerprint: str
    status: int
    body: str


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _search_text(*values: str | None) -> str:
    return "\x1f".join(value.casefold() for value in values if value)


def _shape(
    schema: Schema, first: dict[str, Any], values: dict[str, Any], last: dict[str, Any]
) -> dict[str, Any]:
    return {**first, **{item.name: values.get(item.name) for item in schema.fields}, **last}


class Store:
    def __init__(self, path: str | None = None, *, login_url: str = "") -> None:
        self.path = path
        self.login_url = login_url
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA busy_timeout = 10000")
        if path:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(SCHEMA)
        version = self._meta("schema_version")
        if version == "1":
            self._upgrade_from_1()
            version = SCHEMA_VERSION
        if version not in (None, SCHEMA_VERSION):
            raise RuntimeError(
                f"{path} holds sandbox data of schema {version}, not {SCHEMA_VERSION}: "
                "start with a new --data file."
            )
        self._offset_days = int(self._meta("clock_offset_days") or 0)
        self._last_stamp = max(
            self._db.execute(f"SELECT COALESCE(MAX(modified_us), 0) FROM {table}").fetchone()[0]
            for table in STAMPED_TABLES
        )
        if self._meta("seeded") is None:
            with self._write():
                self._seed()

    def _upgrade_from_1(self) -> None:
        """Schema 1 (contract 1.0) held no breaks, hours or stories: each enrolment gets what
        contract 1.1 gives one nobody has changed (no break, no hours planned, none logged;
        the next ``advance`` counts the hours)."""
        new_fields = {
            "BreakStartDate": None,
            "OffTheJobHoursPlanned": None,
            "OffTheJobHoursActual": 0.0,
        }
        with self._write() as db:
            db.execute("ALTER TABLE learner_courses ADD COLUMN story TEXT")
            rows = db.execute("SELECT id, data FROM learner_courses").fetchall()
            db.executemany(
                "UPDATE learner_courses SET data = ? WHERE id = ?",
                [(_dump(new_fields | json.loads(data)), pk) for pk, data in rows],
            )
            self._set_meta("schema_version", SCHEMA_VERSION)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, name: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    # The simulated clock ----------------------------------------------------------------------

    def now_micros(self) -> int:
        return time.time_ns() // 1000 + self._offset_days * DAY_MICROS

    def now(self) -> datetime:
        return EPOCH + timedelta(microseconds=self.now_micros())

    def today(self) -> date:
        return timestamp_date(self.now_micros())

    def _stamp(self) -> int:
        """The next ModifiedAt; only called inside a write, under the lock."""
        self._last_stamp = max(self.now_micros(), self._last_stamp + 1)
        return self._last_stamp

    # Seed and reset -------------------------------------------------------------------------

    def reset(self) -> None:
        with self._write() as db:
            for table in (*TABLES, "meta"):
                db.execute(f"DELETE FROM {table}")
            self._offset_days = 0
            self._last_stamp = 0
            self._seed()

    def _seed(self) -> None:
        db = self._db
        self._set_meta("schema_version", SCHEMA_VERSION)
        self._set_meta("clock_offset_days", str(self._offset_days))
        for number, (code, title, level, active) in enumerate(COURSES):
            course_id = FIRST_COURSE_ID + number
            data = {
                "SmartAssessorId": course_id,
                "QANCode": code,
                "QualificationTitle": title,
                "IsActive": active,
            }
            db.execute(
                "INSERT INTO courses (id, qan_code, title, level, is_active, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (course_id, code, title, level, active, _dump(data)),
            )
        for number, values in enumerate(EMPLOYERS):
            self._insert_employer(FIRST_EMPLOYER_ID + number, values)
        for number, values in enumerate(ASSESSORS):
            self._insert_assessor(FIRST_ASSESSOR_ID + number, values)
        db.executemany(
            "INSERT INTO event_types (code, name, position) VALUES (?, ?, ?)",
            [(code, name, position) for position, (code, name) in enumerate(EVENT_TYPES)],
        )
        self._set_meta("seeded", "1")

    # Reading --------------------------------------------------------------------------------

    def _page(
        self,
        table: str,
        listing: Listing,
        where: tuple[str, ...] = (),
        args: tuple[Any, ...] = (),
    ) -> Page:
        clauses, params = list(where), list(args)
        if listing.modified_since is not None:
            if listing.after_id is None:
                clauses.append("modified_us >= ?")
                params.append(listing.modified_since)
            else:
                clauses.append("(modified_us, id) > (?, ?)")
                params += [listing.modified_since, listing.after_id]
            order, offset = "modified_us, id", 0
        else:
            order, offset = "id", (listing.page - 1) * listing.page_size
        condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM {table}{condition}", params).fetchone()
            rows = []
            if offset < total[0]:
                rows = self._db.execute(
                    f"SELECT data FROM {table}{condition} ORDER BY {order} LIMIT ? OFFSET ?",
                    [*params, listing.page_size, offset],
                ).fetchall()
        return Page([row[0] for row in rows], listing.page, listing.page_size, total[0])

    def _one(self, table: str, object_id: int | str) -> dict[str, Any] | None:
        text = self._one_text(table, object_id)
        return json.loads(text) if text else None

    def _one_text(self, table: str, object_id: int | str) -> str | None:
        if isinstance(object_id, int) and not -(2**63) <= object_id < 2**63:
            return None  # beyond SQLite's integers, so certainly not an id
        rows = self._read(f"SELECT data FROM {table} WHERE id = ?", (object_id,))
        return rows[0][0] if rows else None

    def _searched(self, table: str, listing: Listing, mis_filter: str) -> Page:
        where: list[str] = []
        args: list[Any] = []
        if mis_filter in listing.filters:
            where.append("mis_id = ?")
            args.append(listing.filters[mis_filter])
        if "Search" in listing.filters:
            where.append("instr(search, ?) > 0")
            args.append(listing.filters["Search"].casefold())
        return self._page(table, listing, tuple(where), tuple(args))

    def courses(self, listing: Listing) -> Page:
        return self._page("courses", listing)

    def course(self, course_id: int) -> dict[str, Any] | None:
        return self._one("courses", course_id)

    def employers(self, listing: Listing) -> Page:
        return self._searched("employers", listing, "MISEmployerId")

    def employer(self, employer_id: int) -> dict[str, Any] | None:
        return self._one("employers", employer_id)

    def assessors(self, listing: Listing) -> Page:
        return self._searched("assessors", listing, "MISAssessorId")

    def assessor(self, assessor_id: int) -> dict[str, Any] | None:
        return self._one("assessors", assessor_id)

    def learners(self, listing: Listing) -> Page:
        if "MISLearnerId" in listing.filters:
            return self._page(
                "learners", listing, ("mis_id = ?",), (listing.filters["MISLearnerId"],)
            )
        return self._page("learners", listing)

    def learner(self, learner_id: str) -> dict[str, Any] | None:
        return self._one("learners", learner_id)

    def learner_courses(self, listing: Listing, learner_id: str | None = None) -> Page:
        if learner_id is None:
            return self._page("learner_courses", listing)
        return self._page("learner_courses", listing, ("learner_id = ?",), (learner_id,))

    def learner_course(self, learner_id: str, enrolment_id: str) -> dict[str, Any] | None:
        rows = self._read(
            "SELECT data FROM learner_courses WHERE id = ? AND learner_id = ?",
            (enrolment_id, learner_id),
        )
        return json.loads(rows[0][0]) if rows else None

    def sessions(self, listing: Listing, learner_id: str | None = None) -> Page:
        if learner_id is None:
            return self._page("sessions", listing)
        return self._page("sessions", listing, ("learner_id = ?",), (learner_id,))

    def smart_coach_scores(self, listing: Listing) -> Page:
        return self._page("smart_coach", listing)

    def smart_coach(self, learner_id: str) -> str | None:
        return self._one_text("smart_coach", learner_id)

    def event_types(self) -> list[dict[str, str]]:
        rows = self._read("SELECT code, name FROM event_types ORDER BY position")
        return [{"Code": code, "Name": name} for code, name in rows]

    def outbox(self) -> list[str]:
        return [row[0] for row in self._read("SELECT data FROM outbox ORDER BY id")]

    # Writing --------------------------------------------------------------------------------

    def _refuse_duplicate(self, table: str, mis_id: str, own_id: int | str | None) -> None:
        row = self._db.execute(f"SELECT id FROM {table} WHERE mis_id = ?", (mis_id,)).fetchone()
        if row and row[0] != own_id:
            field = {"employers": "MISEmployerId", "assessors": "MISAssessorId"}.get(
                table, "MISLearnerId"
            )
            raise ApiError.of(
                409,
                "duplicate_mis_id",
                f"Another record already has {field} {mis_id}.",
                field,
                extra={"ExistingSmartAssessorId": row[0]},
            )

    def _insert_employer(self, employer_id: int, values: dict[str, Any]) -> dict[str, Any]:
        record = _shape(EMPLOYER, {"SmartAssessorId": employer_id}, values, {"ModifiedAt": None})
        self._save_employer(record, insert=True)
        return record

    def _save_employer(self, record: dict[str, Any], *, insert: bool) -> None:
        record["ModifiedAt"] = format_timestamp(stamp := self._stamp())
        row = (
            record["MISEmployerId"],
            _search_text(record["Name"], record["AddressPostCode"], record["EdsId"]),
            stamp,
            _dump(record),
            record["SmartAssessorId"],
        )
        if insert:
            self._db.execute(
                "INSERT INTO employers (mis_id, search, modified_us, data, id) "
                "VALUES (?, ?, ?, ?, ?)",
                row,
            )
        else:
            self._db.execute(
                "UPDATE employers SET mis_id = ?, search = ?, modified_us = ?, data = ? "
                "WHERE id = ?",
                row,
            )

    def _insert_assessor(self, assessor_id: int, values: dict[str, Any]) -> dict[str, Any]:
        record = _shape(ASSESSOR, {"SmartAssessorId": assessor_id}, values, {"ModifiedAt": None})
        self._save_assessor(record, insert=True)
        return record

    def _save_assessor(self, record: dict[str, Any], *, insert: bool) -> None:
        record["ModifiedAt"] = format_timestamp(stamp := self._stamp())
        row = (
            record["MISAssessorId"],
            _search_text(record["FirstName"], record["LastName"], record["Email"]),
            stamp,
            _dump(record),
            record["SmartAssessorId"],
        )
        if insert:
            self._db.execute(
                "INSERT INTO assessors (mis_id, search, modified_us, data, id) "
                "VALUES (?, ?, ?, ?, ?)",
                row,
            )
        else:
            self._db.execute(
                "UPDATE assessors SET mis_id = ?, search = ?, modified_us = ?, data = ? "
                "WHERE id = ?",
                row,
            )

    def _next_id(self, table: str, first: int) -> int:
        highest = self._db.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0]
        return first if highest is None else highest + 1

    def employer_create(self, values: dict[str, Any]) -> dict[str, Any]:
        with self._write():
            self._refuse_duplicate("employers", values["MISEmployerId"], None)
            return self._insert_employer(self._next_id("employers", FIRST_EMPLOYER_ID), values)

    def employer_replace(self, employer_id: int, values: dict[str, Any]) -> dict[str, Any] | None:
        with self._write():
            current = self.employer(employer_id)
            if current is None:
                return None
            self._refuse_duplicate("employers", values["MISEmployerId"], employer_id)
            record = _shape(
                EMPLOYER, {"SmartAssessorId": employer_id}, values, {"ModifiedAt": None}
            )
            if _same(record, current):
                return current
            self._save_employer(record, insert=False)
            return record

    def assessor_create(self, values: dict[str, Any]) -> dict[str, Any]:
        with self._write():
            self._refuse_duplicate("assessors", values["MISAssessorId"], None)
            return self._insert_assessor(self._next_id("assessors", FIRST_ASSESSOR_ID), values)

    def assessor_replace(self, assessor_id: int, values: dict[str, Any]) -> dict[str, Any] | None:
        with self._write():
            current = self.assessor(assessor_id)
            if current is None:
                return None
            self._refuse_duplicate("assessors", values["MISAssessorId"], assessor_id)
            record = _shape(
                ASSESSOR, {"SmartAssessorId": assessor_id}, values, {"ModifiedAt": None}
            )
            if _same(record, current):
                return current
            self._save_assessor(record, insert=False)
            return record

    def learner_create(
        self, learner_id: str, values: dict[str, Any], *, send_welcome_email: bool
    ) -> dict[str, Any]:
        with self._write() as db:
            self._refuse_duplicate("learners", values["MISLearnerId"], None)
            stamp = self._stamp()
            record = _shape(
                LEARNER,
                {"SmartAssessorId": learner_id},
                values,
                {"Status": "Active", "ModifiedAt": format_timestamp(stamp)},
            )
            db.execute(
                "INSERT INTO learners (id, mis_id, modified_us, data) VALUES (?, ?, ?, ?)",
                (learner_id, record["MISLearnerId"], stamp, _dump(record)),
            )
            if send_welcome_email:
                self._send_welcome_email(record)
            return record

    def _send_welcome_email(self, learner: dict[str, Any]) -> None:
        email = {
            "To": learner["Email"],
            "Subject": "Welcome to Smart Assessor",
            "Body": (
                f"Dear {learner['GivenNames']},\n\n"
                "Your training provider has set up your Smart Assessor ePortfolio, where you "
                "will upload evidence and see your progress.\n\n"
                f"Log in at {self.login_url} with your email address {learner['Email']}; the "
                "first time, choose 'Forgotten password' to set your password.\n\n"
                "The Smart Assessor team"
            ),
            "LearnerSmartAssessorId": learner["SmartAssessorId"],
            "SentAt": format_timestamp(self.now_micros()),
        }
        self._db.execute(
            "INSERT INTO outbox (learner_id, data) VALUES (?, ?)",
            (learner["SmartAssessorId"], _dump(email)),
        )

    def learner_update(self, learner_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self._write() as db:
            current = self.learner(learner_id)
            if current is None:
                return None
            record = {**current, **changes}
            if _same(record, current):
                return current
            stamp = self._stamp()
            record["ModifiedAt"] = format_timestamp(stamp)
            db.execute(
                "UPDATE learners SET modified_us = ?, data = ? WHERE id = ?",
                (stamp, _dump(record), learner_id),
            )
            return record

    def learner_course_create(
        self, enrolment_id: str, learner_id: str, values: dict[str, Any], qan_code: str
    ) -> dict[str, Any]:
        course_id = values["CourseSmartAssessorId"]
        with self._write() as db:
            existing = db.execute(
                "SELECT id FROM learner_courses WHERE learner_id = ? AND course_id = ?",
                (learner_id, course_id),
            ).fetchone()
            if existing:
                raise ApiError.of(
                    409,
                    "already_enrolled",
                    f"The learner is already enrolled on course {course_id}.",
                    "CourseSmartAssessorId",
                    extra={"ExistingSmartAssessorId": existing[0]},
                )
            stamp = self._stamp()
            record = self._enrolment_record(
                enrolment_id, learner_id, values, qan_code, format_timestamp(stamp)
            )
            db.execute(
                "INSERT INTO learner_courses (id, learner_id, course_id, modified_us, data) "
                "VALUES (?, ?, ?, ?, ?)",
                (enrolment_id, learner_id, course_id, stamp, _dump(record)),
            )
            return record

    def learner_course_update(
        self,
        learner_id: str,
        enrolment_id: str,
        change: Callable[[dict[str, Any]], tuple[dict[str, Any], date | None]],
    ) -> dict[str, Any] | None:
        """Replace a learner's enrolment by what ``change`` makes of it, with the StatusDate
        when that moves its status. ``change`` runs under the write lock, so it decides on the
        enrolment as it is; what it raises leaves everything as it was."""
        with self._write() as db:
            current = self.learner_course(learner_id, enrolment_id)
            if current is None:
                return None
            record, moved_on = change(current)
            if _same(record, current):
                return current
            story = None
            if moved_on is not None:
                story = _dump(
                    simulation.story_after(
                        current, record["Status"], moved_on, self._simulated_day()
                    )
                )
            stamp = self._stamp()
            record["ModifiedAt"] = format_timestamp(stamp)
            db.execute(
                "UPDATE learner_courses SET modified_us = ?, data = ?, story = COALESCE(?, story) "
                "WHERE id = ?",
                (stamp, _dump(record), story, enrolment_id),
            )
            if moved_on is not None:
                self._follow_courses(learner_id)
            return record

    def _simulated_day(self) -> date | None:
        """The day the last advance brought the world to; None when none has since the reset."""
        day = self._meta("simulated_day")
        return date.fromisoformat(day) if day else None

    def _follow_courses(self, learner_id: str) -> None:
        """Give a learner the Status its courses give it, as advance does."""
        learner = json.loads(
            self._db.execute("SELECT data FROM learners WHERE id = ?", (learner_id,)).fetchone()[0]
        )
        statuses = [
            json.loads(data)["Status"]
            for (data,) in self._db.execute(
                "SELECT data FROM learner_courses WHERE learner_id = ?", (learner_id,)
            )
        ]
        status = simulation.learner_status(statuses, learner["Status"])
        if status != learner["Status"]:
            stamp = self._stamp()
            record = {**learner, "Status": status, "ModifiedAt": format_timestamp(stamp)}
            self._db.execute(
                "UPDATE learners SET modified_us = ?, data = ? WHERE id = ?",
                (stamp, _dump(record), learner_id),
            )

    @staticmethod
    def _enrolment_record(
        enrolment_id: str, learner_id: str, values: dict[str, Any], qan_code: str, stamp: str
    ) -> dict[str, Any]:
        return {
            "SmartAssessorId": enrolment_id,
            "LearnerSmartAssessorId": learner_id,
            "CourseSmartAssessorId": values["CourseSmartAssessorId"],
            "QANCode": qan_code,
            "PrimaryAssessorSmartAssessorId": values["PrimaryAssessorSmartAssessorId"],
            "SecondaryAssessorSmartAssessorId": values["SecondaryAssessorSmartAssessorId"],
            "StartDate": values["StartDate"],
            "PlannedEndDate": values["PlannedEndDate"],
            "Status": "AwaitingInduction",
            "ProgressPercent": 0.0,
            "AssessedPercent": 0.0,
            "MappedPercent": 0.0,
            "TimelinePercent": 0.0,
            "ActualEndDate": None,
            "BreakStartDate": None,
            "OffTheJobHoursPlanned": values["OffTheJobHoursPlanned"],
            "OffTheJobHoursActual": 0.0,
            "ModifiedAt": stamp,
        }

    # Idempotency records ----------------------------------------------------------------------

    def remembered(self, client_key: str, key: str) -> Remembered | None:
        rows = self._read(
            "SELECT fingerprint, status, body FROM idempotency "
            "WHERE client_key = ? AND key = ? AND created_us > ?",
            (client_key, key, self.now_micros() - IDEMPOTENCY_MICROS),
        )
        return Remembered(*rows[0]) if rows else None

    def remember(self, client_key: str, key: str, fingerprint: str, status: int, body: str) -> None:
        now = self.now_micros()
        with self._write() as db:
            db.execute("DELETE FROM idempotency WHERE created_us <= ?", (now - IDEMPOTENCY_MICROS,))
            db.execute(
                "INSERT OR REPLACE INTO idempotency "
                "(client_key, key, fingerprint, status, body, created_us) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (client_key, key, fingerprint, status, body, now),
            )

    # Moving the world on --------------------------------------------------------------------

    def advance(self, days: int, *, real_clock_sessions: bool = True) -> dict[str, Any]:
        """Move simulated time on and bring every enrolment, session and score up to date.

        With ``real_clock_sessions`` a session is held only once the real clock has passed it
        too (simulation.learner_sessions)."""
        changed = {"LearnerCourses": 0, "Sessions": 0, "SmartCoach": 0}
        with self._write() as db:
            self._offset_days += days
            self._set_meta("clock_offset_days", str(self._offset_days))
            now = self.now()
            self._set_meta("simulated_day", now.date().isoformat())
            after = ""
            while True:
                learners = db.execute(
                    "SELECT id, data FROM learners WHERE id > ? ORDER BY id LIMIT 500", (after,)
                ).fetchall()
                if not learners:
                    break
                after = learners[-1][0]
                self._advance_learners(
                    db,
                    [json.loads(row[1]) for row in learners],
                    now,
                    changed,
                    real_now=now - timedelta(days=self._offset_days)
                    if real_clock_sessions
                    else None,
                )
        return {"Now": format_timestamp(self.now_micros()), "Changed": changed}

    def _advance_learners(
        self,
        db: sqlite3.Connection,
        learners: list[dict[str, Any]],
        now: datetime,
        changed: dict[str, int],
        *,
        real_now: datetime | None,
    ) -> None:
        ids = [learner["SmartAssessorId"] for learner in learners]
        marks = ",".join("?" * len(ids))
        courses: dict[str, list[tuple[dict[str, Any], dict[str, Any] | None]]] = {
            learner_id: [] for learner_id in ids
        }
        for learner_id, data, story in db.execute(
            f"SELECT learner_id, data, story FROM learner_courses WHERE learner_id IN ({marks}) "
            "ORDER BY id",
            ids,
        ):
            courses[learner_id].append((json.loads(data), json.loads(story) if story else None))
        sessions = dict(
            db.execute(f"SELECT id, data FROM sessions WHERE learner_id IN ({marks})", ids)
        )
        scores = dict(db.execute(f"SELECT id, data FROM smart_coach WHERE id IN ({marks})", ids))

        today = now.date()
        course_rows, learner_rows, session_rows, score_rows = [], [], [], []
        for learner in learners:
            learner_id = learner["SmartAssessorId"]
            states = []
            for course, story in courses[learner_id]:
                updated = {**course, **simulation.course_state(course, story, today)}
                states.append(updated)
                if not _same(updated, course):
                    updated["ModifiedAt"] = format_timestamp(stamp := self._stamp())
                    course_rows.append((stamp, _dump(updated), updated["SmartAssessorId"]))
            status = simulation.learner_status(
                [state["Status"] for state in states], learner["Status"]
            )
            if status != learner["Status"]:
                updated = {**learner, "Status": status}
                updated["ModifiedAt"] = format_timestamp(stamp := self._stamp())
                learner_rows.append((stamp, _dump(updated), learner_id))
            for session in simulation.learner_sessions(learner, states, now, real_now=real_now):
                stored = sessions.get(session["SmartAssessorId"])
                if stored is None or not _same(session, json.loads(stored)):
                    session["ModifiedAt"] = format_timestamp(stamp := self._stamp())
                    session_rows.append(
                        (session["SmartAssessorId"], learner_id, stamp, _dump(session))
                    )
            score = simulation.smart_coach(learner_id, states)
            stored_score = scores.get(learner_id)
            if score and (stored_score is None or not _same(score, json.loads(stored_score))):
                score["ModifiedAt"] = format_timestamp(stamp := self._stamp())
                score_rows.append((learner_id, stamp, _dump(score)))

        db.executemany(
            "UPDATE learner_courses SET modified_us = ?, data = ? WHERE id = ?", course_rows
        )
        db.executemany("UPDATE learners SET modified_us = ?, data = ? WHERE id = ?", learner_rows)
        db.executemany(
            "INSERT OR REPLACE INTO sessions (id, learner_id, modified_us, data) "
            "VALUES (?, ?, ?, ?)",
            session_rows,
        )
        db.executemany(
            "INSERT OR REPLACE INTO smart_coach (id, modified_us, data) VALUES (?, ?, ?)",
            score_rows,
        )
        changed["LearnerCourses"] += len(course_rows)
        changed["Sessions"] += len(session_rows)
        changed["SmartCoach"] += len(score_rows)

    def bulk_seed(self, count: int, per_learner: int, prefix: str) -> int:
        """Create ``count`` learners with ``per_learner`` enrolments each, in one transaction."""
        with self._write() as db:
            employers = [row[0] for row in db.execute("SELECT id FROM employers ORDER BY id")]
            assessors = [row[0] for row in db.execute("SELECT id FROM assessors ORDER BY id")]
            active = dict(db.execute("SELECT id, data FROM courses WHERE is_active ORDER BY id"))
            if per_learner > len(active):
                raise invalid(
                    [
                        Problem(
                            "validation",
                            f"CoursesPerLearner must be at most {len(active)}, the number of "
                            "active courses.",
                            "CoursesPerLearner",
                        )
                    ]
                )
            numbers = range(1, count + 1)
            self._refuse_existing_mis_ids([f"{prefix}{number:06d}" for number in numbers])
            qan_codes = {
                course_id: json.loads(data)["QANCode"] for course_id, data in active.items()
            }
            today = self.today()
            learner_rows, course_rows = [], []
            for number in numbers:
                learner_id = simulation.stable_id("seed", prefix, number)
                values = simulation.bulk_learner(prefix, number, today, employers, assessors)
                stamp = self._stamp()
                record = _shape(
                    LEARNER,
                    {"SmartAssessorId": learner_id},
                    values,
                    {"Status": "Active", "ModifiedAt": format_timestamp(stamp)},
                )
                learner_rows.append((learner_id, values["MISLearnerId"], stamp, _dump(record)))
                for enrolment in simulation.bulk_enrolments(
                    record, number, per_learner, list(active), assessors
                ):
                    course_id = enrolment["CourseSmartAssessorId"]
                    enrolment_id = simulation.stable_id(learner_id, course_id)
                    stamp = self._stamp()
                    data = self._enrolment_record(
                        enrolment_id,
                        learner_id,
                        enrolment,
                        qan_codes[course_id],
                        format_timestamp(stamp),
                    )
                    course_rows.append((enrolment_id, learner_id, course_id, stamp, _dump(data)))
            db.executemany(
                "INSERT INTO learners (id, mis_id, modified_us, data) VALUES (?, ?, ?, ?)",
                learner_rows,
            )
            db.executemany(
                "INSERT INTO learner_courses (id, learner_id, course_id, modified_us, data) "
                "VALUES (?, ?, ?, ?, ?)",
                course_rows,
            )
        return count

    def _refuse_existing_mis_ids(self, mis_ids: list[str]) -> None:
        for start in range(0, len(mis_ids), 500):
            chunk = mis_ids[start : start + 500]
            row = self._db.execute(
                f"SELECT mis_id, id FROM learners WHERE mis_id IN ({','.join('?' * len(chunk))}) "
                "ORDER BY mis_id LIMIT 1",
                chunk,
            ).fetchone()
            if row:
                raise ApiError.of(
                    409,
                    "duplicate_mis_id",
                    f"A learner with MISLearnerId {row[0]} already exists: choose another Prefix.",
                    "Prefix",
                    extra={"ExistingSmartAssessorId": row[1]},
                )

    # The HTML page ----------------------------------------------------------------------------

    def overview(self, limit: int = 200) -> dict[str, Any]:
        """What the root page shows: the most recently changed learners with their courses,
        the employers, assessors and courses, and the outbox."""
        with self._lock:
            counts = {
                table: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("learners", "employers", "assessors", "outbox")
            }
            learners = [
                json.loads(row[0])
                for row in self._db.execute(
                    "SELECT data FROM learners ORDER BY modified_us DESC LIMIT ?", (limit,)
                )
            ]
            enrolments: dict[str, list[dict[str, Any]]] = {}
            ids = [learner["SmartAssessorId"] for learner in learners]
            if ids:
                for learner_id, data in self._db.execute(
                    "SELECT learner_id, data FROM learner_courses WHERE learner_id IN "
                    f"({','.join('?' * len(ids))}) ORDER BY course_id",
                    ids,
                ):
                    enrolments.setdefault(learner_id, []).append(json.loads(data))
            return {
                "counts": counts,
                "learners": learners,
                "enrolments": enrolments,
                "employers": self._all("employers", limit),
                "assessors": self._all("assessors", limit),
                "courses": self._all("courses", limit),
                "outbox": [
                    json.loads(row[0])
                    for row in self._db.execute(
                        "SELECT data FROM outbox ORDER BY id DESC LIMIT ?", (limit,)
                    )
                ],
            }

    def _all(self, table: str, limit: int) -> list[dict[str, Any]]:
        rows = self._db.execute(f"SELECT data FROM {table} ORDER BY id LIMIT ?", (limit,))
        return [json.loads(row[0]) for row in rows]


def _same(record: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether a write would change anything a client can see, ModifiedAt aside."""
    return {k: v for k, v in record.items() if k != "ModifiedAt"} == {
        k: v for k, v in stored.items() if k != "ModifiedAt"
    }
