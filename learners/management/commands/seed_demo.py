from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from learners.demo import demo_data_load, demo_logins_ensure
from picsweb.errors import ApplicationError

SIGN_IN_URL = "http://127.0.0.1:8000/"


class Command(BaseCommand):
    help = (
        "Load the demo data and one demo login per role. Safe to run again: what exists is "
        "kept, what is missing is added, and the logins keep their passwords."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--quiet", action="store_true", help="Do not print the summary and the logins."
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Load even though DJANGO_ENV=production (for a demo deployment only: the "
            "demo logins are printed in clear).",
        )

    def handle(self, *args: Any, quiet: bool, allow_production: bool, **options: Any) -> None:
        if settings.PRODUCTION and not allow_production:
            raise CommandError(
                "DJANGO_ENV=production: demo data and demo logins do not belong in a live "
                "database. For a demo deployment, run again with --allow-production."
            )
        try:
            totals = demo_data_load()
            logins = demo_logins_ensure(logins_file=settings.VAR_DIR / "demo-logins.json")
        except ApplicationError as error:
            raise CommandError(error.message) from error
        if quiet:
            return
        self.stdout.write(
            f"Demo data ready: {totals.learners} learners, {totals.employers} employers, "
            f"{totals.officers} officers, {totals.qualifications} qualifications."
        )
        self.stdout.write(f"Sign in at {SIGN_IN_URL} with a demo login (demo only):")
        shown = {
            login.username: "(changed since; not shown)"
            if login.password_changed
            else login.password
            for login in logins
        }
        width = max(len(password) for password in shown.values())
        for login in logins:
            self.stdout.write(
                f"  {login.username:<20}{shown[login.username]:<{width}}   {login.group}"
            )
