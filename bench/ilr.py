"""How long the ILR import (F32) takes, and how much memory it holds.

Run with ``.venv/bin/python bench/ilr.py [N ...]`` (default 1,000 and 5,000 learners). For each
N it generates an ILR 2025-26 file of N learners with 2 deliveries each (a ZPROG001 programme
aim of StdCode 28 and a component aim) that validates against the XSD, into a fresh SQLite
database, and prints the preview time, the commit time, the second import's time (which changes
nothing) and the peak memory the import's own objects held (tracemalloc) during the commit;
then one JSON line per case.
"""

import json
import os
import sys
import tempfile
import time
import tracemalloc
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


def run_case(folder: Path, learners: int) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from imports import ilr, services
    from learners.models import Qualification

    connection.close()
    database = folder / f"bench-{learners}.sqlite3"
    connection.settings_dict["NAME"] = str(database)
    call_command("migrate", verbosity=0)
    Qualification.objects.create(reference="ST0116", title="Standard", standard_code=28)
    Qualification.objects.create(reference="60146242", title="Component aim")
    path = folder / f"ILR-{learners}.xml"
    write_file(path, learners)
    ilr.check(path)  # valid against the XSD, or the bench is measuring nothing

    started = time.perf_counter()
    planned = services.plan(path)
    preview = time.perf_counter() - started
    assert planned.counts == {"new": learners}, planned.counts

    tracemalloc.start()
    started = time.perf_counter()
    first = services.commit(path, user=None, file_name=path.name)
    commit = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert first.counts["new"] == learners

    started = time.perf_counter()
    second = services.commit(path, user=None, file_name=path.name)
    again = time.perf_counter() - started
    assert second.counts["unchanged"] == learners, second.counts
    return {
        "learners": learners,
        "deliveries": planned.deliveries,
        "file_mb": round(path.stat().st_size / 1e6, 2),
        "preview_s": round(preview, 2),
        "commit_s": round(commit, 2),
        "second_import_s": round(again, 2),
        "commit_peak_traced_mb": round(peak / 1e6, 1),
    }


def main() -> None:
    cases = [int(arg) for arg in sys.argv[1:]] or DEFAULT_CASES
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        os.environ.update(
            {
                "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
                "CACHE_URL": "locmemcache://",
                "LOG_LEVEL": "WARNING",
            }
        )
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picsweb.settings")
        import django

        django.setup()
        results = [run_case(folder, learners) for learners in cases]
    for result in results:
        print(
            f"{result['learners']:>6} learners: preview {result['preview_s']} s, commit "
            f"{result['commit_s']} s, second import {result['second_import_s']} s, commit peak "
            f"{result['commit_peak_traced_mb']} MB"
        )
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
