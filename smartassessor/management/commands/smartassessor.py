"""``manage.py smartassessor <subcommand>``: the integration from the command line.

Each subcommand is a small class with its own arguments and handler; add one to
``SUBCOMMANDS`` to extend the command.
"""

import getpass
import os
import sys
import time
from argparse import ArgumentParser
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError
from django.db import models
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from learners.models import Learner
from picsweb.errors import ApplicationError
from smartassessor.connection import connection_check
from smartassessor.fields import UnreadableSecret
from smartassessor.models import (
    Enrolment,
    IntegrationSettings,
    LinkRefresh,
    Reconciliation,
    SyncRun,
)
from smartassessor.selectors import reconciliation as reconciliation_selectors
from smartassessor.selectors import sync_runs as sync_run_selectors
from smartassessor.services import enrolment_requests, links, reconciliation, sync
from smartassessor.services import settings as settings_service


def _label(model: type[models.Model], name: str) -> str:
    """The verbose name of one of the model's own columns."""
    return str(cast(models.Field, model._meta.get_field(name)).verbose_name)


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
        "Store the API base URL and username (and, if given, the transport settings); the "
        "password and client key come from SMARTASSESSOR_PASSWORD and SMARTASSESSOR_CLIENT_KEY, "
        "or are asked for without echo."
    )
    secrets = (
        # (field, label, environment variable)
        ("password", "Password", "SMARTASSESSOR_PASSWORD"),
        ("client_key", "Client key", "SMARTASSESSOR_CLIENT_KEY"),
    )
    transport = (
        # (option, field)
        ("--connect-timeout", "connect_timeout"),
        ("--read-timeout", "read_timeout"),
        ("--requests-per-second", "requests_per_second"),
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--base-url", required=True, help="e.g. https://api.example:883")
        parser.add_argument("--username", required=True)
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument(
            "--enable", dest="enabled", action="store_true", default=None, help="turn it on"
        )
        switch.add_argument("--disable", dest="enabled", action="store_false", help="turn it off")
        for option, field in self.transport:
            label = _label(IntegrationSettings, field)
            parser.add_argument(option, dest=field, type=float, help=f"the {label}")

    @sensitive_variables("given")
    def handle(self, command: BaseCommand, options: dict) -> None:
        record = IntegrationSettings.load()
        changes = {"base_url": options["base_url"], "username": options["username"].strip()}
        if options["enabled"] is not None:
            changes["enabled"] = options["enabled"]
        for _, field in self.transport:
            if options[field] is not None:
                changes[field] = options[field]
        given = {}
        outcomes = []
        for field, label, variable in self.secrets:
            given[field], outcome = self._read_secret(record, field, label, variable)
            outcomes.append((label, outcome))
        unreadable = [
            variable
            for field, _, variable in self.secrets
            if isinstance(getattr(record, field), UnreadableSecret) and not given[field]
        ]
        if unreadable:
            # Saving now would keep the ciphertext, but a configure that "succeeds" with
            # credentials nobody can read hides the problem: say so and save nothing.
            raise CommandError(
                "Nothing was saved: the stored credentials cannot be decrypted with this "
                "deployment's FIELD_ENCRYPTION_KEY. Set "
                + " and ".join(unreadable)
                + " (or run this in a terminal) to enter them again, or start with the key "
                "they were saved with."
            )
        try:
            record = settings_service.integration_settings_update(
                actor=None,
                changes=changes,
                password=given["password"],
                client_key=given["client_key"],
                reason="manage.py smartassessor configure",
            )
        except settings_service.SettingsRefused as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.errors.items()
            )
            raise CommandError(f"Nothing was saved: {problems}") from None
        command.stdout.write(command.style.SUCCESS("Smart Assessor settings saved."))
        command.stdout.write(f"  API base URL: {record.base_url}")
        command.stdout.write(f"  Username: {record.username}")
        command.stdout.write(f"  Integration enabled: {'yes' if record.enabled else 'no'}")
        for _, field in self.transport:
            label = _label(IntegrationSettings, field)
            command.stdout.write(f"  {label.capitalize()}: {getattr(record, field):g}")
        for label, outcome in outcomes:
            command.stdout.write(f"  {label}: {outcome}")

    @sensitive_variables("value")
    def _read_secret(
        self, record: IntegrationSettings, field: str, label: str, variable: str
    ) -> tuple[str | None, str]:
        """A new value if one is given (else None), and what happens, never the value."""
        value = os.environ.get(variable, "").strip()
        source = f"set from {variable}"
        if not value and sys.stdin.isatty():
            value = getpass.getpass(f"{label} (leave blank to keep the stored one): ").strip()
            source = "set from what you typed"
        if value:
            return value, source
        stored = getattr(record, field)
        if isinstance(stored, UnreadableSecret):
            return None, (
                f"the stored value cannot be decrypted: set {variable} or run this in a "
                "terminal to enter it again"
            )
        if stored:
            return None, f"kept the stored value ({variable} is not set)"
        return None, f"not set: set {variable} or run this in a terminal to enter it"


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


class RefreshLinks(Subcommand):
    name = "refresh-links"
    help = "Refresh Qualification Links now (F4) and print the counts."

    def handle(self, command: BaseCommand, options: dict) -> None:
        refresh = links.qualification_links_refresh(refresh=LinkRefresh.objects.create())
        if refresh.state != LinkRefresh.State.SUCCEEDED:
            raise CommandError(refresh.error)
        command.stdout.write(
            f"Qualification links: {refresh.linked} linked, {refresh.unlinked} unlinked, "
            f"{refresh.unchanged} unchanged."
        )


class Enrol(Subcommand):
    name = "enrol"
    help = "Create learners in Smart Assessor, queued exactly as the Delivery Plan does."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("idents", nargs="+", metavar="IDENT", help="Learner Idents")
        parser.add_argument(
            "--wait", action="store_true", help="wait for the worker and print each outcome"
        )
        parser.add_argument("--timeout", type=float, default=600, help="seconds to wait at most")

    def handle(self, command: BaseCommand, options: dict) -> None:
        requested = {}
        problems = 0
        for ident in options["idents"]:
            learner = Learner.objects.filter(ident=ident).first()
            if learner is None:
                command.stderr.write(f"{ident}: no such learner")
                problems += 1
                continue
            try:
                enrolment_row, created = enrolment_requests.enrolment_request(
                    learner=learner, actor=None
                )
            except ApplicationError as exc:
                command.stderr.write(f"{ident}: {exc.message}")
                problems += 1
                continue
            requested[ident] = enrolment_row.pk
            command.stdout.write(f"{ident}: {'queued' if created else 'already current'}")
        if options["wait"]:
            problems += self._wait(command, requested, options["timeout"])
        if problems:
            raise CommandError(f"{problems} of {len(options['idents'])} did not enrol.")

    def _wait(self, command: BaseCommand, requested: dict[str, int], timeout: float) -> int:
        deadline = time.monotonic() + timeout
        pending = dict(requested)
        failed = 0
        while pending and time.monotonic() < deadline:
            rows = Enrolment.objects.filter(pk__in=pending.values()).exclude(
                state__in=Enrolment.ACTIVE_STATES
            )
            for row in rows.select_related("learner"):
                pending.pop(row.learner.ident)
                detail = row.sa_learner_id or row.last_error
                command.stdout.write(f"{row.learner.ident}: {row.get_state_display()} {detail}")
                failed += row.state != Enrolment.State.ENROLLED
            time.sleep(0.5)
        for ident in pending:
            command.stderr.write(f"{ident}: still in progress after {timeout:.0f} s")
        return failed + len(pending)


class Demo(Subcommand):
    name = "demo"
    help = (
        "For `make run` only: point the integration at the local sandbox with its demo-only "
        "account (--username; the password and client key from SMARTASSESSOR_PASSWORD and "
        "SMARTASSESSOR_CLIENT_KEY), switch it on, schedule delta runs every "
        f"{sync.DELTA_DEFAULT_MINUTES} minutes, and queue Refresh Qualification Links. An "
        "integration already at that sandbox gets the account again; one elsewhere is left alone."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--sandbox-url", default="http://127.0.0.1:8765")
        parser.add_argument("--username", required=True, help="the sandbox's demo username")

    @sensitive_variables("password", "client_key")
    def handle(self, command: BaseCommand, options: dict) -> None:
        password = os.environ.get("SMARTASSESSOR_PASSWORD", "").strip()
        client_key = os.environ.get("SMARTASSESSOR_CLIENT_KEY", "").strip()
        if not (password and client_key):
            raise CommandError(
                "Nothing was saved: set SMARTASSESSOR_PASSWORD and SMARTASSESSOR_CLIENT_KEY to "
                "the sandbox's demo password and client key (`make run` takes them from "
                "var/sandbox-demo.env)."
            )
        sandbox_url = settings_service.base_url_normalise(options["sandbox_url"])
        record = IntegrationSettings.load()
        if record.base_url and record.base_url != sandbox_url:
            command.stdout.write(f"Smart Assessor is already configured: {record.base_url}")
            return
        first_time = not record.base_url
        changes = {"base_url": sandbox_url, "username": options["username"].strip()}
        if first_time:
            changes["enabled"] = True
        try:
            # Again at the same sandbox: its demo account may have been made anew (a new
            # var/sandbox-demo.env); the service writes and audits only what changed.
            record = settings_service.integration_settings_update(
                actor=None,
                changes=changes,
                password=password,
                client_key=client_key,
                # The migration made the delta task; this makes it again should it be gone.
                delta_sync_minutes=sync.DELTA_DEFAULT_MINUTES if first_time else None,
                reason="manage.py smartassessor demo",
            )
        except settings_service.SettingsRefused as exc:
            raise CommandError(exc.message) from None
        if first_time:
            links.link_refresh_request(actor=None)
            command.stdout.write(
                f"Smart Assessor points at the sandbox {record.base_url} (demo credentials)."
            )
        else:
            command.stdout.write(
                f"Smart Assessor already points at the sandbox {record.base_url}; its demo "
                "credentials are up to date."
            )


class Sync(Subcommand):
    name = "sync"
    PLAN_LINES = 200
    help = (
        "Run a daily synchronisation now, in the foreground, and print its counts; with "
        "--learner, refresh that one learner and print what changed; with --delta, a delta run "
        "(only what changed since the last run); with --dry-run, preview the next "
        "synchronisation: build its plan and print it, writing nothing else."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument("--learner", metavar="IDENT", help="refresh only this learner")
        kind.add_argument(
            "--delta", action="store_true", help="read only what changed since the last run"
        )
        kind.add_argument(
            "--dry-run",
            action="store_true",
            help="build and print the plan of the next synchronisation, writing nothing",
        )

    def handle(self, command: BaseCommand, options: dict) -> None:
        if options["learner"]:
            learner = Learner.objects.filter(ident=options["learner"]).first()
            if learner is None:
                raise CommandError(f"No learner has the Learner Ident {options['learner']}.")
            try:
                run = sync.learner_refresh_now(learner=learner)
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
        elif options["delta"]:
            delta = sync.sync_run_delta()
            if delta is None:
                raise CommandError(
                    "The delta run did not start: another synchronisation is running (the "
                    "delta runs it made wait are counted on it)."
                )
            run = delta
        elif options["dry_run"]:
            run = sync.sync_run_dry()
        else:
            run = sync.sync_run_daily(trigger=SyncRun.Trigger.MANUAL)
        self._print(command, run)
        if run.state in (SyncRun.State.FAILED, SyncRun.State.SKIPPED):
            raise CommandError(run.error)

    def _print(self, command: BaseCommand, run: SyncRun) -> None:
        command.stdout.write(
            f"Sync run {run.pk} ({run.get_trigger_display()}): {run.get_state_display()}"
        )
        for name in ("learners_in_scope", *SyncRun.COUNTS):
            label = _label(SyncRun, name)
            command.stdout.write(f"  {label}: {getattr(run, name)}")
        for name, label in (
            ("qualifications_backwards", "qualifications moved backwards"),
            ("deltas_skipped", "delta runs that waited for it"),
        ):
            if getattr(run, name):
                command.stdout.write(f"  {label}: {getattr(run, name)}")
        if run.unmapped_codes:
            command.stdout.write(f"  event types with no mapping: {', '.join(run.unmapped_codes)}")
        for note in run.notes:
            command.stdout.write(f"  {note}")
        if run.trigger == SyncRun.Trigger.LEARNER:
            for change in run.changes.order_by("id"):
                command.stdout.write(f"  {change}")
        if sync_run_selectors.sync_run_shows_plan(run) and not run.is_active:
            self._print_plan(command, run)
        for error in run.learner_errors.all():
            command.stderr.write(f"  {error.subject}: {error.message}")

    def _print_plan(self, command: BaseCommand, run: SyncRun) -> None:
        counts = sync_run_selectors.sync_run_change_counts(run=run, planned=True)
        if not counts.by_target:
            command.stdout.write("  It would change nothing.")
        else:
            command.stdout.write(
                "  It would change: "
                + ", ".join(f"{label} {count}" for label, count in counts.by_target)
            )
        listed = sum(count for _, count in counts.by_target)
        plan = sync_run_selectors.sync_run_changes(run=run, planned=True)
        for change in plan[: self.PLAN_LINES]:
            who = change.learner or change.officer or ""
            command.stdout.write(
                f"    {who}: {change.record}, {change.field}: "
                f"{change.old_value or '(blank)'} → {change.new_value or '(blank)'}"
                f" ({change.get_direction_display().lower()})"
            )
        if listed > self.PLAN_LINES:
            command.stdout.write(
                f"  and {listed - self.PLAN_LINES} more: see the run's page, "
                f"{reverse('smartassessor:sync_run', args=[run.pk])}"
            )
        if counts.routine:
            command.stdout.write(
                f"  It would also make {counts.routine} routine updates (not listed)."
            )


class Reconcile(Subcommand):
    name = "reconcile"
    help = (
        "Build the reconciliation report now (F24), in the foreground, and print its counts; "
        "it replaces the report in use. Nothing is linked: Link is on the report's page."
    )

    def handle(self, command: BaseCommand, options: dict) -> None:
        try:
            report = reconciliation.reconciliation_build_now()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if report.state != Reconciliation.State.SUCCEEDED:
            raise CommandError(report.error)
        command.stdout.write(
            f"Reconciliation report built from {report.sa_learners} learners, "
            f"{report.sa_employers} employers and {report.sa_assessors} assessors in Smart "
            "Assessor:"
        )
        for count in reconciliation_selectors.reconciliation_counts(report=report):
            command.stdout.write(f"  {count.label}: {count.count}")
        if report.sa_unreadable:
            command.stdout.write(f"  records not readable, left out: {report.sa_unreadable}")
        command.stdout.write(f"See {reverse('smartassessor:reconciliation')}")


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Configure(),
    Check(),
    RefreshLinks(),
    Enrol(),
    Sync(),
    Reconcile(),
    Demo(),
)


class Command(BaseCommand):
    help = "The Smart Assessor integration: " + ", ".join(s.name for s in SUBCOMMANDS) + "."

    def add_arguments(self, parser: ArgumentParser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", required=True)
        for subcommand in SUBCOMMANDS:
            subcommand.add_arguments(subparsers.add_parser(subcommand.name, help=subcommand.help))

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        {s.name: s for s in SUBCOMMANDS}[subcommand].handle(self, options)
