"""Chooses the services the test suite runs on, before Django loads its settings.

PostgreSQL is used when it is reachable and SQLite otherwise; tests marked ``postgres``,
``redis`` or ``browser`` are skipped with a reason when those are missing. Under ``CI=true``
nothing may be skipped for want of them: their absence fails the run at once.
"""

import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from urllib.parse import urlsplit

import pytest

CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/picsweb")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# `make test` installs axe-core from npm here (the Makefile's AXE).
AXE = os.environ.get(
    "AXE_PATH",
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        "var",
        "axe",
        "node_modules",
        "axe-core",
        "axe.min.js",
    ),
)
# Shared by the xdist workers of one run (they inherit the environment), new for every run.
RUN_ID = os.environ.setdefault("PICSWEB_TEST_RUN", uuid.uuid4().hex[:8])


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


if "DATABASE_URL" not in os.environ and _reachable(POSTGRES_URL):
    os.environ["DATABASE_URL"] = POSTGRES_URL
# "main" without xdist; xdist sets it in each worker's environment before this module loads.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# Tests keep out of the files `make run` uses: an in-memory broker and cache, and a rate-limit
# file of their own, unless set. One file for each xdist worker: the workers' tests run at the
# same time and must not wait for each other's tokens, nor queue on one file's lock.
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("CACHE_URL", "locmemcache://")
_RATE_FILE_OF_THIS_RUN = os.path.join(tempfile.gettempdir(), f"picsweb-rate-{RUN_ID}-")
# A worker inherits the controller's file ("...-main"): it takes its own instead.
if os.environ.get("SMARTASSESSOR_RATE_LIMIT_FILE", _RATE_FILE_OF_THIS_RUN).startswith(
    _RATE_FILE_OF_THIS_RUN
):
    os.environ["SMARTASSESSOR_RATE_LIMIT_FILE"] = _RATE_FILE_OF_THIS_RUN + WORKER

DATABASE = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
AVAILABLE = {
    "postgres": DATABASE == "PostgreSQL",
    "redis": _reachable(REDIS_URL),
    "browser": shutil.which(CHROMIUM) is not None,
    "axe": os.path.isfile(AXE),
}
MISSING_REASONS = {
    "postgres": "needs PostgreSQL; this run is on SQLite (PostgreSQL not reachable or not chosen)",
    "redis": f"Redis is not reachable at {REDIS_URL}",
    "browser": f"Chromium is not installed at {CHROMIUM}",
    "axe": f"axe-core is not installed at {AXE} (`make test` installs it with npm)",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: needs PostgreSQL")
    config.addinivalue_line("markers", "redis: needs Redis")
    config.addinivalue_line("markers", "browser: drives Chromium")
    config.addinivalue_line("markers", "axe: checks a page with axe-core (in Chromium)")
    missing = [MISSING_REASONS[name] for name, ok in AVAILABLE.items() if not ok]
    if CI and missing:
        raise pytest.UsageError("CI=true, so nothing may be skipped: " + "; ".join(missing))


def pytest_report_header(config):
    services = ", ".join(f"{name}: {'yes' if ok else 'no'}" for name, ok in AVAILABLE.items())
    return [f"picsweb: database {DATABASE}; {services}"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name, ok in AVAILABLE.items():
            if not ok and item.get_closest_marker(name):
                item.add_marker(pytest.mark.skip(reason=MISSING_REASONS[name]))


def pytest_unconfigure(config):
    """The run's rate-limit file goes with the run (each xdist worker removes its own)."""
    path = os.environ.get("SMARTASSESSOR_RATE_LIMIT_FILE", "")
    if path.startswith(_RATE_FILE_OF_THIS_RUN):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
