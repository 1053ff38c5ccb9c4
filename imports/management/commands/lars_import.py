from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from imports.lars import LarsFileError, lars_import


class Command(BaseCommand):
    help = (
        "Import the qualification catalogue from LARS: the learning aims and standards CSV "
        "files in FOLDER (or the files named). Safe to run again: what is up to date is left."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="FOLDER_OR_FILE")
        parser.add_argument(
            "--dry-run", action="store_true", help="Write nothing; print what would change."
        )

    def handle(self, *args: Any, paths: list[str], dry_run: bool, **options: Any) -> None:
        try:
            result = lars_import(paths, dry_run=dry_run)
        except LarsFileError as error:
            raise CommandError(error.message) from error
        if dry_run:
            for change in result.changes:
                fields = ", ".join(
                    f"{name} {old!r} → {new!r}" for name, (old, new) in change.fields.items()
                )
                verb = "create" if change.created else "update"
                self.stdout.write(f"Would {verb} {change.reference}: {fields}")
        for name in result.ignored_files:
            self.stdout.write(f"Ignored {name}: not a LARS learning aims or standards file.")
        for refusal in result.refusals:
            self.stderr.write(f"Refused {refusal}")
        would = "would be " if dry_run else ""
        closed = result.closed_aims
        self.stdout.write(
            f"LARS import{' (dry run, nothing written)' if dry_run else ''}: "
            f"{result.created} {would}created, {result.updated} {would}updated, "
            f"{result.unchanged} unchanged, {result.refused} refused."
            + (
                f" {closed} closed learning aim{'s' if closed > 1 else ''} (EffectiveTo passed) "
                "kept for the learners who took them."
                if closed
                else ""
            )
        )
