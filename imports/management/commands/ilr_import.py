"""``manage.py ilr_import FILE [--commit]``: the ILR import (F32) from the command line.

Without ``--commit`` it prints the preview and writes nothing; with it, it commits and prints
the counts.
"""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from imports import services
from imports.ilr import IlrFileError


def _counts(summary: dict[str, Any]) -> str:
    return ", ".join(
        [f"{summary['learners']} learners", f"{summary['deliveries']} deliveries"]
        + [f"{summary[outcome]} {outcome}" for outcome in services.OUTCOMES]
    )


class Command(BaseCommand):
    help = "Preview an ILR 2025-26 XML file's import, or commit it with --commit."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--commit", action="store_true", help="Write what the preview shows.")

    def handle(self, *args: Any, file: Path, commit: bool, **options: Any) -> None:
        if not file.is_file():
            raise CommandError(f"There is no file {file}.")
        done = 0

        def progress(rows: list[services.Row]) -> None:
            nonlocal done
            done += len(rows)
            self.stderr.write(f"{done:,} learners {'written' if commit else 'planned'}…")

        def preview(rows: list[services.Row]) -> None:
            for row in rows:
                details = "; ".join(
                    row.reasons + [f"{name}: {old} → {new}" for name, old, new in row.changes]
                    if row.outcome != services.NEW
                    else []
                )
                self.stdout.write(f"{row.ref} (line {row.line}): {row.outcome}. {details}".rstrip())
            progress(rows)

        try:
            if commit:
                record = services.commit(file, user=None, file_name=file.name, on_batch=progress)
                self.stdout.write(f"Committed import {record.pk}: {_counts(record.counts)}.")
                return
            self.stderr.write("Checking the file against the ILR 2025-26 schema and rules…")
            summary = services.plan(file, on_batch=preview).summary()
        except IlrFileError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Preview, nothing written: {_counts(summary)}.")
        if summary["not_in_catalogue"]:
            missing = ", ".join(f"{aim} ×{n}" for aim, n in summary["not_in_catalogue"].items())
            self.stdout.write(f"Aims not in the catalogue, skipped: {missing}.")
        ignored = ", ".join(f"{name} ×{n}" for name, n in sorted(summary["ignored"].items()))
        self.stdout.write(f"Ignored, the MIS has no place for them: {ignored}.")
