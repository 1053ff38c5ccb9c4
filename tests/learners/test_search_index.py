"""The search's tests on SQLite, in a pytest of their own, whatever database the suite has."""

import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


SQLITE_TESTS = [
    "tests/learners/sqlite_search_index.py",
    "tests/learners/test_list_scale.py::test_search_finds_the_same_by_trigram_or_by_reading_the_list",
]


def test_the_sqlite_search_tests_pass_on_sqlite():
    """The suite runs on PostgreSQL where it can: the tests of SQLite's index (which `make
    run` uses) run in a pytest of their own on SQLite, so that they are never skipped."""
    # Not CI=true: that refuses a run on SQLite, which here is the point (and these tests
    # need nothing the suite's CI run insists on).
    env = {**os.environ, "DATABASE_URL": "sqlite://:memory:", "CI": "false"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            *SQLITE_TESTS,
        ],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "skipped" not in summary and "passed" in summary, summary
