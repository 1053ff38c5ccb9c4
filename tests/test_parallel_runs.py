"""The suite runs in parallel (pytest-xdist, `make test`): what its workers must not share."""

import os

import pytest
from django.conf import settings

from tests.environment import RUN_ID


def test_each_worker_has_a_rate_limit_file_of_its_own():
    """One file for all the workers would be one bucket of Smart Assessor's requests: the
    tests of one worker would wait for the tokens the others took."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    path = os.fspath(settings.SMARTASSESSOR_RATE_LIMIT_FILE)

    assert os.path.basename(path) == f"picsweb-rate-{RUN_ID}-{worker}"


@pytest.mark.postgres
def test_each_worker_has_a_test_database_of_its_own(db):
    """SQLite's test database is in memory, private to each worker; PostgreSQL's is named."""
    from django.db import connection

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert connection.settings_dict["NAME"].endswith(f"_{RUN_ID}_{worker}")
