"""How long the ILR import (F32) takes, and how much memory it holds.

Run with ``.venv/bin/python bench/ilr.py [N ...]`` (default 1,000 and 5,000 learners). For each
N it generates an ILR 2025-26 file of N learners with 2 deliveries each (a ZPROG001 programme
aim of StdCode 28 and a component aim) that validates against the XSD, into a fresh SQLite
database, and runs the upload page's own path: the preview built as the background task builds
it (every learner's row stored), the commit, then the same file committed again (which changes
nothing). Each case runs in a process of its own; it prints each step's time and the process's peak
memory (RSS) after it; then one JSON line per case.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_CASES = [1000, 5000]


def write_file(path: Path, learners: int) -> None:
    from tests.imports import ilr_files as f

    with path.open("w", encoding="utf-8") as stream:
        stream.write(f.HEADER)
        for n in range(learners):
            deliveries = f.delivery(sequence=1) + f.delivery("60146242", sequence=2, std_code=None)
            stream.write(
                f.learner(f"B{n:07d}", number=n, deliveries=deliveries, employer="123456789")
            )
        stream.write(f.FOOTER)


def _measured(work: Callable[[], object]) -> tuple[float, float]:
    """Seconds, and the process's peak memory (RSS) so far in MB: each case runs in a process
    of its own, so the peak is that case's."""
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    return round(seconds, 2), round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1)


def run_case(folder: Path, learners: int) -> dict:
    """The page's own path: the preview built in the background (rows stored), then the
    commit, then the same file committed again, which changes nothing."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from imports import ilr, services
    from imports.models import IlrImport, ImportState
    from learners.models import Learner, Qualification

    connection.close()
    database = folder / f"bench-{learners}.sqlite3"
    connection.settings_dict["NAME"] = str(database)
    call_command("migrate", verbosity=0)
    Qualification.objects.create(reference="ST0116", title="Standard", standard_code=28)
    Qualification.objects.create(reference="60146242", title="Component aim")
    settings.ILR_UPLOAD_DIR = folder
    path = folder / f"ILR-{learners}.xml"
    write_file(path, learners)
    ilr.check(path)  # valid against the XSD, or the bench is measuring nothing

    stored = folder / f"uploaded-{learners}.xml"  # the upload's copy, dropped by the commit
    shutil.copyfile(path, stored)
    record = IlrImport.objects.create(
        file_name=path.name,
        sha256=services.sha256(path),
        stored_name=stored.name,
        state=ImportState.READING,
        heartbeat_at=timezone.now(),
    )
    preview, preview_mb = _measured(lambda: services.preview_build(import_id=record.pk))
    record.refresh_from_db()
    assert record.counts["new"] == learners, record.counts

    IlrImport.objects.filter(pk=record.pk).update(state=ImportState.COMMITTING)
    commit, commit_mb = _measured(lambda: services.commit_run(import_id=record.pk, user_id=None))
    record.refresh_from_db()
    assert record.state == ImportState.COMMITTED and record.counts["new"] == learners
    assert Learner.objects.count() == learners

    holder: dict[str, IlrImport] = {}
    again, again_mb = _measured(
        lambda: holder.update(second=services.commit(path, user=None, file_name=path.name))
    )
    assert holder["second"].counts["unchanged"] == learners, holder["second"].counts
    return {
        "case": f"ilr-{learners}",
        "learners": learners,
        "deliveries": record.counts["deliveries"],
        "file_mb": round(path.stat().st_size / 1e6, 2),
        "preview_s": preview,
        "commit_s": commit,
        "second_import_s": again,
        "peak_rss_mb_after_preview": preview_mb,
        "peak_rss_mb_after_commit": commit_mb,
        "peak_rss_mb_after_second": again_mb,
    }


def main() -> None:
    if sys.argv[1:2] == ["--case"]:
        with tempfile.TemporaryDirectory() as folder_name:
            folder = Path(folder_name)
            os.environ.update(
                {
                    "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
                    "CACHE_URL": "locmemcache://",
                    "CELERY_BROKER_URL": "memory://",
                    "LOG_LEVEL": "WARNING",
                }
            )
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picsweb.settings")
            import django

            django.setup()
            print(json.dumps(run_case(folder, int(sys.argv[2]))))
        return
    cases = [int(arg) for arg in sys.argv[1:]] or DEFAULT_CASES
    results = []
    for learners in cases:
        done = subprocess.run(
            [sys.executable, __file__, "--case", str(learners)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for result in results:
        print(
            f"{result['learners']:>6} learners: preview {result['preview_s']} s, commit "
            f"{result['commit_s']} s, second import {result['second_import_s']} s; peak "
            f"memory {result['peak_rss_mb_after_preview']} / {result['peak_rss_mb_after_commit']}"
            f" / {result['peak_rss_mb_after_second']} MB"
        )
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
