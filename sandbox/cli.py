"""``python -m sandbox``: run the sandbox in the foreground until Ctrl-C or SIGTERM.

The credentials it accepts come from ``--username``, ``--password`` and ``--client-key``, else
from ``SANDBOX_USERNAME``, ``SANDBOX_PASSWORD`` and ``SANDBOX_CLIENT_KEY`` (which keep the
secrets off the command line), else the published demo ones in ``server.py``. The change feeds
are on unless ``--no-feeds`` or ``SANDBOX_FEEDS=off`` says otherwise (the option wins).
"""

import argparse
import os
from collections.abc import Sequence

from .server import DEFAULT_HOST, DEFAULT_PORT, DEMO_CLIENT_KEY, DEMO_PASSWORD, DEMO_USERNAME, serve

# (option, environment variable, demo default)
CREDENTIALS = (
    ("username", "SANDBOX_USERNAME", DEMO_USERNAME),
    ("password", "SANDBOX_PASSWORD", DEMO_PASSWORD),
    ("client_key", "SANDBOX_CLIENT_KEY", DEMO_CLIENT_KEY),
)
FEEDS_VARIABLE = "SANDBOX_FEEDS"
FEEDS_VALUES = {"on": True, "off": False}


def parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Run the Smart Assessor sandbox: a stand-in for the live API, for the demo and the "
            "tests. Without credentials it accepts the published demo ones; see "
            "sandbox/README.md."
        ),
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on; 0 picks a free one"
    )
    for name, variable, _ in CREDENTIALS:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            help=f"default: ${variable}, else the demo one",
        )
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="SQLite file that keeps the sandbox's data across restarts (default: in memory)",
    )
    parser.add_argument(
        "--feeds",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=(
            "offer the change feeds (ModifiedSince, AfterId); --no-feeds plays a Smart Assessor "
            f"with only the paged lists (default: ${FEEDS_VARIABLE} on|off, else on)"
        ),
    )
    parser.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=[0, 1, 2, 3],
        default=1,
        help="0 stops the log of each request",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    command = parser(prog)
    options = command.parse_args(argv)
    feeds = options.feeds
    if feeds is None:
        given = os.environ.get(FEEDS_VARIABLE, "on").strip().lower()
        if given not in FEEDS_VALUES:
            command.error(f"{FEEDS_VARIABLE} must be on or off, not {given!r}")
        feeds = FEEDS_VALUES[given]
    credentials = {
        name: getattr(options, name) or os.environ.get(variable) or default
        for name, variable, default in CREDENTIALS
    }
    serve(
        host=options.host,
        port=options.port,
        data_path=options.data,
        feeds=feeds,
        log_requests=options.verbosity >= 1,
        announce=lambda line: print(line, flush=True),
        **credentials,
    )
    return 0
