"""Run the sandbox as a separate process, as tests and benchmarks do: a free port, a data file.

It runs ``python -m sandbox``, as a program of its own: no Django, no product settings. Stdlib
only, like the server.
"""

import dataclasses
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .server import DEMO_CLIENT_KEY, DEMO_PASSWORD, DEMO_USERNAME

# The folder that holds the ``sandbox`` package, for ``python -m sandbox``.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
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
    feeds: bool = True,
) -> SandboxProcess:
    """Start ``python -m sandbox --port 0`` and wait until it says where it listens.

    ``feeds=False`` starts it with ``--no-feeds``: a Smart Assessor with only the paged lists.
    """
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        # In the environment, not the command line, where any local user could read them.
        "SANDBOX_USERNAME": username,
        "SANDBOX_PASSWORD": password,
        "SANDBOX_CLIENT_KEY": client_key,
    }
    command = [sys.executable, "-m", "sandbox", "--port", "0", "--data", str(data_path)]
    # Explicit either way, so a SANDBOX_FEEDS in the caller's environment does not decide.
    command.append("--feeds" if feeds else "--no-feeds")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=PACKAGE_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
        )
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
