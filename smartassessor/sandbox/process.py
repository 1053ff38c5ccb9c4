"""Run the sandbox as a separate process, as tests and benchmarks do: a free port, a data file.

Stdlib only, like the rest of the sandbox.
"""

import dataclasses
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .server import DEMO_CLIENT_KEY, DEMO_PASSWORD, DEMO_USERNAME

REPOSITORY = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"Smart Assessor sandbox listening on (http://\S+)")
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10


@dataclasses.dataclass
class SandboxProcess:
    url: str
    username: str
    password: str
    client_key: str
    data_path: Path
    log_path: Path
    process: subprocess.Popen

    def output(self) -> str:
        """What the server printed and logged so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """Stop it as Ctrl-C or a service manager would; returns its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_sandbox(
    data_path: Path,
    log_path: Path,
    *,
    username: str = DEMO_USERNAME,
    password: str = DEMO_PASSWORD,
    client_key: str = DEMO_CLIENT_KEY,
) -> SandboxProcess:
    """Start ``manage.py run_sandbox --port 0`` and wait until it says where it listens."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable, str(REPOSITORY / "manage.py"), "run_sandbox",
                "--port", "0", "--data", str(data_path),
                "--username", username, "--password", password, "--client-key", client_key,
            ],
            cwd=REPOSITORY,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        output = log_path.read_text(errors="replace")
        found = LISTENING.search(output)
        if found:
            return SandboxProcess(
                found.group(1), username, password, client_key, data_path, log_path, process
            )
        if process.poll() is not None:
            raise RuntimeError(f"The sandbox exited with {process.returncode}:\n{output}")
        time.sleep(0.02)
    process.kill()
    process.wait()
    raise RuntimeError(f"The sandbox did not start within {START_TIMEOUT_SECONDS} s:\n{output}")
