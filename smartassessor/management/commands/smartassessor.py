"""``manage.py smartassessor <subcommand>``: the integration from the command line.

Each subcommand is a small class with its own arguments and handler; add one to
``SUBCOMMANDS`` to extend the command.
"""

import getpass
import os
import sys
from argparse import ArgumentParser

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from picsweb.errors import ApplicationError
from smartassessor.connection import connection_check
from smartassessor.fields import UnreadableSecret
from smartassessor.models import IntegrationSettings


class Subcommand:
    name: str
    help: str

    def add_arguments(self, parser: ArgumentParser) -> None:
        pass

    def handle(self, command: BaseCommand, options: dict) -> None:
        raise NotImplementedError


class Configure(Subcommand):
    name = "configure"
    help = (
        "Store the API base URL and username; the password and client key come from "
        "SMARTASSESSOR_PASSWORD and SMARTASSESSOR_CLIENT_KEY, or are asked for without echo."
    )
    secrets = (
        # (field, label, environment variable)
        ("password", "Password", "SMARTASSESSOR_PASSWORD"),
        ("client_key", "Client key", "SMARTASSESSOR_CLIENT_KEY"),
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--base-url", required=True, help="e.g. https://api.example:883")
        parser.add_argument("--username", required=True)
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument(
            "--enable", dest="enabled", action="store_true", default=None, help="turn it on"
        )
        switch.add_argument("--disable", dest="enabled", action="store_false", help="turn it off")

    def handle(self, command: BaseCommand, options: dict) -> None:
        record = IntegrationSettings.load()
        record.base_url = options["base_url"].strip().rstrip("/")
        record.username = options["username"].strip()
        if options["enabled"] is not None:
            record.enabled = options["enabled"]
        outcomes = [
            (label, self._set_secret(record, field, label, variable))
            for field, label, variable in self.secrets
        ]
        try:
            record.full_clean()
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(f"Nothing was saved: {problems}") from exc
        record.save()
        command.stdout.write(command.style.SUCCESS("Smart Assessor settings saved."))
        command.stdout.write(f"  API base URL: {record.base_url}")
        command.stdout.write(f"  Username: {record.username}")
        command.stdout.write(f"  Integration enabled: {'yes' if record.enabled else 'no'}")
        for label, outcome in outcomes:
            command.stdout.write(f"  {label}: {outcome}")

    def _set_secret(
        self, record: IntegrationSettings, field: str, label: str, variable: str
    ) -> str:
        """Sets one secret if a new value is given; returns what happened, never the value."""
        value = os.environ.get(variable, "").strip()
        source = f"set from {variable}"
        if not value and sys.stdin.isatty():
            value = getpass.getpass(f"{label} (leave blank to keep the stored one): ").strip()
            source = "set from what you typed"
        if value:
            setattr(record, field, value)
            return source
        stored = getattr(record, field)
        if isinstance(stored, UnreadableSecret):
            return (
                f"the stored value cannot be decrypted: set {variable} or run this in a "
                "terminal to enter it again"
            )
        if stored:
            return f"kept the stored value ({variable} is not set)"
        return f"not set: set {variable} or run this in a terminal to enter it"


class Check(Subcommand):
    name = "check"
    help = "Authenticate, read all courses and report the round-trip time."

    def handle(self, command: BaseCommand, options: dict) -> None:
        try:
            result = connection_check()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        command.stdout.write(
            f"Connected to {result.base_url} as {result.username}: "
            f"{result.course_count} courses ({result.active_course_count} active), "
            f"round trip {result.round_trip_ms:.0f} ms"
        )


SUBCOMMANDS: tuple[Subcommand, ...] = (Configure(), Check())


class Command(BaseCommand):
    help = "The Smart Assessor integration: " + ", ".join(s.name for s in SUBCOMMANDS) + "."

    def add_arguments(self, parser: ArgumentParser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", required=True)
        for subcommand in SUBCOMMANDS:
            subcommand.add_arguments(subparsers.add_parser(subcommand.name, help=subcommand.help))

    def handle(self, *args, subcommand: str, **options) -> None:
        {s.name: s for s in SUBCOMMANDS}[subcommand].handle(self, options)
