"""``python -m sandbox`` and the demo account `make run` generates for it."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import requests

from sandbox.credentials import demo_credentials_ensure
from sandbox.process import start_sandbox
from sandbox.server import DEMO_CLIENT_KEY, DEMO_PASSWORD, DEMO_USERNAME

REPOSITORY = Path(__file__).resolve().parents[2]


def read_env_file(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    )


def token_status(url: str, username: str, password: str, client_key: str) -> int:
    body = {"Username": username, "Password": password, "ClientKey": client_key}
    return requests.post(f"{url}/api/v1/token", json=body, timeout=10).status_code


def test_the_demo_account_is_generated_once_private_and_not_the_published_one(tmp_path):
    path = tmp_path / "var" / "sandbox-demo.env"

    assert demo_credentials_ensure(path) is True
    first = path.read_text()
    assert demo_credentials_ensure(path) is False

    values = read_env_file(path)
    assert path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "Demo only" in first
    assert values["SANDBOX_USERNAME"] == DEMO_USERNAME
    assert values["SANDBOX_PASSWORD"] not in ("", DEMO_PASSWORD)
    assert values["SANDBOX_CLIENT_KEY"] not in ("", DEMO_CLIENT_KEY)
    other = tmp_path / "other.env"
    demo_credentials_ensure(other)
    assert read_env_file(other)["SANDBOX_PASSWORD"] != values["SANDBOX_PASSWORD"]


def test_the_sandbox_accepts_the_account_in_its_environment_and_no_other(tmp_path):
    server = start_sandbox(
        tmp_path / "data.sqlite3",
        tmp_path / "log",
        password="generated-password-1",
        client_key="generated-key-1",
    )
    try:
        ok = token_status(server.url, DEMO_USERNAME, "generated-password-1", "generated-key-1")
        demo = token_status(server.url, DEMO_USERNAME, DEMO_PASSWORD, DEMO_CLIENT_KEY)
    finally:
        server.stop()

    assert (ok, demo) == (200, 401)
    output = server.output()
    assert f"Credentials: Username {DEMO_USERNAME}, with the password and client key" in output
    assert "generated-password-1" not in output and "generated-key-1" not in output


def test_the_credentials_module_writes_the_file_make_run_reads(tmp_path):
    path = tmp_path / "sandbox-demo.env"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}

    result = subprocess.run(
        [sys.executable, "-m", "sandbox.credentials", str(path)],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert f"Wrote new demo-only sandbox credentials in {path}" in result.stdout
    assert set(read_env_file(path)) == {
        "SANDBOX_USERNAME",
        "SANDBOX_PASSWORD",
        "SANDBOX_CLIENT_KEY",
    }
