"""What the log says of a refused request: one line, no traceback; errors keep theirs."""

import os
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]

SCRIPT = """
import logging, sys
import django
django.setup()
from django.test import Client

client = Client(raise_request_exception=False)
print("status", client.get("/", HTTP_HOST="evil.example").status_code, file=sys.stderr)
print("status", client.get("/no-such-page/", HTTP_HOST="127.0.0.1").status_code, file=sys.stderr)
try:
    raise KeyError("boom")
except KeyError:
    logging.getLogger("django.request").error(
        "Internal Server Error: /x/", exc_info=True, extra={"status_code": 500}
    )
"""


def _log_of_requests() -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "picsweb.settings",
        "DATABASE_URL": "sqlite://:memory:",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "INFO",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stderr


def test_a_refused_request_is_one_line_and_a_server_error_keeps_its_traceback():
    log = _log_of_requests()
    lines = log.splitlines()

    assert "status 400" in lines
    host_lines = [line for line in lines if "Invalid HTTP_HOST header" in line]
    assert len(host_lines) == 1, log
    assert "DisallowedHost" in host_lines[0]
    assert len([line for line in lines if "Not Found: /no-such-page/" in line]) == 1, log
    # The one traceback in the log is the server error's.
    assert log.count("Traceback (most recent call last)") == 1, log
    assert log.index("Internal Server Error: /x/") < log.index("Traceback")
    assert "KeyError: 'boom'" in log
