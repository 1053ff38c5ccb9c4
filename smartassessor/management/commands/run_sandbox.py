"""``python manage.py run_sandbox``: a launcher for ``python -m sandbox``, with its options.

The sandbox is a separate program (``sandbox/``) that needs nothing of the project; this
command only starts it from where developers start everything else.
"""

import sys

from django.core.management.base import BaseCommand

from sandbox.cli import main


class Command(BaseCommand):
    help = "Run the Smart Assessor sandbox (python -m sandbox); see sandbox/README.md."

    def run_from_argv(self, argv: list[str]) -> None:
        # The sandbox parses its own options (see `manage.py run_sandbox --help`).
        sys.exit(main(argv[2:], prog=f"{argv[0]} {argv[1]}"))
