"""The store's stamp sequence, which the feeds rely on, under clocks that do not help."""

import json

import pytest

from sandbox import store as store_module
from sandbox.store import Store
from sandbox.validation import EMPLOYER, parse_timestamp

from .helpers import employer_body


class FrozenClock:
    def __init__(self, nanoseconds: int) -> None:
        self.nanoseconds = nanoseconds

    def __call__(self) -> int:
        return self.nanoseconds


@pytest.fixture
def clock(monkeypatch):
    frozen = FrozenClock(1_780_000_000_000_000_000)
    monkeypatch.setattr(store_module.time, "time_ns", frozen)
    return frozen


def _values(**overrides):
    body = employer_body(**overrides)
    return {item.name: body.get(item.name) for item in EMPLOYER.fields}


def test_writes_in_the_same_microsecond_get_distinct_increasing_stamps(clock):
    store = Store()

    stamps = [store.employer_create(_values())["ModifiedAt"] for _ in range(5)]

    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 5


def test_stamps_keep_increasing_when_the_clock_goes_back(clock):
    store = Store()
    before = store.employer_create(_values())["ModifiedAt"]

    clock.nanoseconds -= 3_600 * 10**9
    after = store.employer_create(_values())["ModifiedAt"]

    assert parse_timestamp(after) == parse_timestamp(before) + 1


def test_a_reopened_store_continues_after_its_last_stamp(clock, tmp_path):
    path = str(tmp_path / "data.sqlite3")
    first = Store(path)
    last = first.employer_create(_values())["ModifiedAt"]
    first.close()

    clock.nanoseconds -= 10**9
    reopened = Store(path)

    assert reopened.employer_create(_values())["ModifiedAt"] > last


def test_a_data_file_of_contract_1_0_is_upgraded_and_keeps_its_enrolments(tmp_path):
    path = str(tmp_path / "sandbox.sqlite3")
    store = Store(path)
    store.bulk_seed(2, 1, "OLD")
    # Make it a schema 1 file, as the sandbox of contract 1.0 left it.
    db = store._db
    db.execute("ALTER TABLE learner_courses DROP COLUMN story")
    for pk, data in db.execute("SELECT id, data FROM learner_courses").fetchall():
        record = json.loads(data)
        for name in ("BreakStartDate", "OffTheJobHoursPlanned", "OffTheJobHoursActual"):
            del record[name]
        db.execute("UPDATE learner_courses SET data = ? WHERE id = ?", (json.dumps(record), pk))
    db.execute("UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    store.close()

    upgraded = Store(path)
    rows = upgraded._db.execute("SELECT data, story FROM learner_courses").fetchall()
    assert len(rows) == 2
    for data, story in rows:
        record = json.loads(data)
        assert record["Status"] == "AwaitingInduction"
        assert (record["BreakStartDate"], record["OffTheJobHoursPlanned"]) == (None, None)
        assert record["OffTheJobHoursActual"] == 0.0 and story is None
    assert upgraded._meta("schema_version") == store_module.SCHEMA_VERSION
    upgraded.close()
