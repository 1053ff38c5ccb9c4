"""``python manage.py run_sandbox``: the Smart Assessor sandbox server, in the foreground."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from smartassessor.sandbox.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEMO_CLIENT_KEY,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    serve,
)


class Command(BaseCommand):
    help = (
        "Run the Smart Assessor sandbox: a stand-in for the live API, for the demo and the "
        "tests. Its defaults are demo-only credentials; see smartassessor/sandbox/README.md."
    )
    # The sandbox uses nothing of the project's database or apps.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
        parser.add_argument(
            "--port", type=int, default=DEFAULT_PORT, help="port to listen on; 0 picks a free one"
        )
        parser.add_argument("--username", default=DEMO_USERNAME)
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument("--client-key", default=DEMO_CLIENT_KEY)
        parser.add_argument(
            "--data",
            metavar="FILE",
            help="SQLite file that keeps the sandbox's data across restarts (default: in memory)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        serve(
            host=options["host"],
            port=options["port"],
            username=options["username"],
            password=options["password"],
            client_key=options["client_key"],
            data_path=options["data"],
            log_requests=options["verbosity"] >= 1,
            announce=self._announce,
        )

    def _announce(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
