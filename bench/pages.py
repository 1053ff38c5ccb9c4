"""What the list pages (learners, officers, organisations) cost at a large provider's size.

Run with ``.venv/bin/python bench/pages.py [--db sqlite|postgres|both] [--learners N[,N...]]
[--repeat 5]``. Each database and size is measured in a process of its own, on its own
database (SQLite in a temporary file, or a PostgreSQL database made for the run and dropped at
the end, as ``bench/sync.py`` does). No sandbox is needed: the pages read only the MIS.

It builds, in bulk, N learners (default 100,000) of a provider with N / 200 officers and N / 20
employers: names drawn from common UK given names and surnames (so a surname matches about
1 % of the learners, as in life), every status and risk band, an LRN on nine learners in ten,
a main officer on 49 in 50, a current placement on 19 in 20 and an ended one on a third. Then,
signed in as Staff through Django's test client (the whole request: middleware, the view, the
template), it times each case ``--repeat`` times after one warm-up request (on PostgreSQL
after ``VACUUM ANALYZE``, what autovacuum does after a bulk load):

- the learner list by every sort key both ways, its first, middle and last page, a search by
  surname, by a part of a surname, by first name and surname, by Learner Ident and by ULN, a
  search that matches nothing, a filter by status and by main officer;
- the officer and organisation lists: first and last page and a search;
- the beat's hourly refresh of every learner's current employer (``learners.employers``): on
  a day nothing changed, and 40 days on, when placements have started and ended;
- the readiness counts the Summary page shows (``smartassessor.selectors.readiness``).

It prints a line per case, then one JSON object per case on its own line: the median, fastest
and slowest server time in ms, the queries of one request and the rows shown (for the refresh,
the learners it changed). Aim: every page under 100 ms on PostgreSQL and under 150 ms on
SQLite at 100,000 learners.
"""

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync import counted_queries, database, listed, setup_django  # noqa: E402
from sandbox.simulation import _valid_uln  # noqa: E402

BATCH = 5000
PAGE_SIZE = 25


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


GIVEN = _words(
    "Olivia Amelia Isla Ava Ivy Freya Lily Florence Mia Willow Rosie Sophia Isabella Grace "
    "Daisy Sienna Poppy Elsie Emily Ella Evelyn Phoebe Sofia Evie Charlotte Harper Millie "
    "Matilda Aisha Priya Zara Maryam Noah Muhammad Oliver George Leo Arthur Oscar Theodore "
    "Freddie Harry Theo Archie Henry Alfie Charlie Jack Finley Lucas Thomas Jacob Ethan "
    "Mohammed Isaac Samuel Joshua Arjun Kai Reuben Callum Ryan Liam Tyler"
)
FAMILY = _words(
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
    "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson "
    "Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan "
    "Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell "
    "Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan "
    "Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb "
    "Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes "
    "Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham "
    "Pearson Ahmed Fletcher Walsh Kaur Gibson Howard Andrews Stewart Elliott Reynolds "
    "Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson Bradley Spencer "
    "Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant Wells Armstrong "
    "Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page "
    "Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding Porter "
    "Robertson Newton Oliver Reed Kennedy Williamson Bird Gardner Shah Dean Lane Cooke "
    "Bates Henderson Parry Burgess Bishop Walton Burns Nicholson Shepherd Ross Cross Long "
    "Freeman Warren Nicholls Hamilton Byrne Sutton McDonald Yates Hodgson Robson Curtis "
    "Hopkins O'Connor Harper Coleman Watkins Moss McCarthy Chambers O'Neill Griffin Sharp "
    "Hardy Wheeler Potter Osborne Johnston Gordon Doyle Wallace George Jordan Hutchinson"
)
POSTCODES = ("LS1 4AP", "M1 1AE", "B1 1BB", "S1 2AB", "NE1 4ST", "BS1 4DJ", "L1 8JQ", "NG1 5FS")
STATUSES = ("in_learning",) * 14 + ("break_in_learning", "completed", "completed", "withdrawn")
RISKS = ("not_set", "low", "low", "medium", "medium", "high")


def build(learners: int) -> dict:
    """The provider's officers, employers, learners and placements, in bulk."""
    from learners.models import Learner, Officer, Organisation, Placement

    today = dt.date.today()
    officers = Officer.objects.bulk_create(
        Officer(
            forenames=GIVEN[number % len(GIVEN)],
            surname=FAMILY[(number * 7) % len(FAMILY)],
            job_title=("Assessor", "Training Adviser", "Internal Verifier")[number % 3],
            email=f"officer{number}@provider.example",
            is_active=number % 10 != 0,
        )
        for number in range(max(1, learners // 200))
    )
    organisations = Organisation.objects.bulk_create(
        (
            Organisation(
                name=f"{FAMILY[number % len(FAMILY)]} {FAMILY[(number // 7) % len(FAMILY)]} "
                f"{('Ltd', 'Limited', 'plc', 'Trust', 'LLP')[number % 5]} {number}",
                address_line1=f"{1 + number % 300} Station Road",
                postcode=POSTCODES[number % len(POSTCODES)],
                edrs_number=f"{100_000_000 + number}",
            )
            for number in range(max(1, learners // 20))
        ),
        batch_size=BATCH,
    )
    for first in range(0, learners, BATCH):
        batch = []
        for number in range(first, min(first + BATCH, learners)):
            start = today - dt.timedelta(days=(number * 37) % 900)
            batch.append(
                Learner(
                    ident=f"PW{number:06d}",
                    lrn=f"{number:08d}" if number % 10 else "",
                    uln=_valid_uln(number),
                    first_name=GIVEN[(number * 13) % len(GIVEN)],
                    surname=FAMILY[(number * 31 + number // 997) % len(FAMILY)],
                    date_of_birth=dt.date(1980 + number % 26, 1 + number % 12, 1 + number % 28),
                    email=f"learner{number}@learners.example",
                    postcode=POSTCODES[number % len(POSTCODES)],
                    start_date=start,
                    planned_end_date=start + dt.timedelta(days=365 + 91 * (number % 5)),
                    status=STATUSES[number % len(STATUSES)],
                    risk_band=RISKS[(number * 5) % len(RISKS)],
                    main_officer=officers[(number * 3) % len(officers)] if number % 50 else None,
                )
            )
        saved = Learner.objects.bulk_create(batch)
        placements = []
        for learner in saved:
            number = int(learner.ident[2:])
            organisation = organisations[(number * 11) % len(organisations)]
            if number % 3 == 0:
                placements.append(
                    Placement(
                        learner=learner,
                        organisation=organisations[(number * 17 + 5) % len(organisations)],
                        start_date=learner.start_date,
                        end_date=learner.start_date + dt.timedelta(days=30),
                    )
                )
                starts = learner.start_date + dt.timedelta(days=31)
            else:
                starts = learner.start_date
            if number % 20:
                placements.append(
                    Placement(learner=learner, organisation=organisation, start_date=starts)
                )
        Placement.objects.bulk_create(placements)
    return {"officers": len(officers), "organisations": len(organisations)}


def cases(learners: int, officers: int, organisations: int) -> list[tuple[str, str, dict]]:
    from learners.models import Officer
    from learners.selectors import LEARNER_SORTS

    last = -(-learners // PAGE_SIZE)
    busiest = Officer.objects.order_by("id").first()
    found = [
        ("learners", "/learners/", {}),
        ("learners, middle page", "/learners/", {"page": last // 2}),
        ("learners, last page", "/learners/", {"page": last}),
    ]
    for key in LEARNER_SORTS:
        found.append((f"learners by {key}", "/learners/", {"sort": key}))
        found.append((f"learners by {key}, descending", "/learners/", {"sort": f"-{key}"}))
        found.append((f"learners by {key}, last page", "/learners/", {"sort": key, "page": last}))
    found += [
        ("search: a surname", "/learners/", {"q": "Hughes"}),
        ("search: part of a surname", "/learners/", {"q": "ugh"}),
        ("search: first name and surname", "/learners/", {"q": "Olivia Hughes"}),
        ("search: a Learner Ident", "/learners/", {"q": f"PW{learners // 3:06d}"}),
        ("search: a ULN", "/learners/", {"q": _valid_uln(learners // 3)}),
        ("search: nobody", "/learners/", {"q": "Zzyzx"}),
        ("search: a surname, last page", "/learners/", {"q": "Hughes", "page": "last"}),
        ("filter: status", "/learners/", {"status": "withdrawn"}),
        ("filter: main officer", "/learners/", {"officer": busiest.pk if busiest else ""}),
        ("officers", "/officers/", {}),
        ("officers, last page", "/officers/", {"page": "last"}),
        ("officers, search", "/officers/", {"q": "Hughes"}),
        ("organisations", "/organisations/", {}),
        ("organisations, last page", "/organisations/", {"page": "last"}),
        ("organisations, search", "/organisations/", {"q": "Hughes"}),
    ]
    return found


def _timed(call, repeat: int, *, between=None) -> tuple[list[float], int, list]:
    """``call`` run ``repeat`` times: each run's ms, the queries of one, and what each
    returned; ``between`` runs after each, untimed."""
    times, returned = [], []
    for _ in range(repeat):
        with counted_queries() as counter:
            started = time.perf_counter()
            returned.append(call())
            times.append((time.perf_counter() - started) * 1000)
        if between:
            between()
    return times, counter["queries"], returned


def _reported(label: str, context: dict, times: list[float], queries: int, **case) -> dict:
    """A case's JSON object (``case``'s own fields first, ``outcome`` or ``rows`` last), its
    line printed."""
    told = {key: case.pop(key) for key in ("outcome", "rows") if key in case}
    result = {
        "case": label,
        "db": context["db"],
        "learners": context["learners"],
        **case,
        "median_ms": round(statistics.median(times), 1),
        "fastest_ms": round(min(times), 1),
        "slowest_ms": round(max(times), 1),
        "queries": queries,
        **told,
    }
    said = f": {told['outcome']}" if "outcome" in told else f", {told.get('rows', 0)} rows"
    print(
        f"[{context['db']}, {context['learners']:,}] {label}: {result['median_ms']} ms "
        f"(fastest {result['fastest_ms']}, slowest {result['slowest_ms']}), "
        f"{queries} queries{said}",
        flush=True,
    )
    return result


def measure_call(label: str, call, repeat: int, context: dict, *, after=None) -> dict:
    """A piece of work that is not a page: ``call`` timed ``repeat`` times (``after`` runs
    between, untimed), with what its first run returned as ``outcome``."""
    times, queries, returned = _timed(call, repeat, between=after)
    return _reported(label, context, times, queries, outcome=returned[0])


def measure(client, label: str, path: str, params: dict, repeat: int, context: dict) -> dict:
    import re

    client.get(path, params)  # warm-up: connection, templates, the plan cache
    times, queries, responses = _timed(lambda: client.get(path, params), repeat)
    response = responses[-1]
    if response.status_code != 200:
        sys.exit(f"{label}: {path} {params} answered {response.status_code}")
    page = response.content.decode()
    return _reported(
        label,
        context,
        times,
        queries,
        path=path,
        params={key: str(value) for key, value in params.items()},
        rows=len(re.findall(r"<tr>", page)) - 1 if "<tbody>" in page else 0,
    )


def run_benchmark(db: str, learners: int, repeat: int) -> list:
    with (
        tempfile.TemporaryDirectory(prefix="bench-pages-") as name,
        database(db, Path(name)) as database_url,
    ):
        setup_django(database_url)
        return _benchmark(db, learners, repeat)


def _benchmark(db: str, learners: int, repeat: int) -> list:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client

    from learners.employers import current_employers_refresh
    from picsweb import roles
    from smartassessor.selectors.readiness import readiness_counts

    started = time.perf_counter()
    sizes = build(learners)
    current_employers_refresh()
    if db == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"[{db}] Built {learners:,} learners, {sizes['officers']:,} officers and "
        f"{sizes['organisations']:,} organisations in {time.perf_counter() - started:.1f} s.",
        flush=True,
    )
    user = get_user_model().objects.create_user("bench-staff")
    user.groups.add(Group.objects.get(name=roles.STAFF))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    context = {"db": db, "learners": learners}
    results = [
        measure(client, label, path, params, repeat, context)
        for label, path, params in cases(learners, **sizes)
    ]
    today = dt.date.today()
    for label, day in (
        ("current employers refreshed, nothing changed", today),
        ("current employers refreshed, 40 days on", today + dt.timedelta(days=40)),
    ):
        # Each run starts from the same stored employers: today's.
        results.append(
            measure_call(
                label,
                lambda day=day: (
                    f"{current_employers_refresh(on=day, skip_locked=True):,} learners changed"
                ),
                repeat,
                context,
                after=current_employers_refresh,
            )
        )
    results.append(
        measure_call(
            "readiness counts (the Summary page's)",
            lambda: f"{readiness_counts()['enrol'][0]:,} learners would be enrolled",
            repeat,
            context,
        )
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--learners",
        type=listed(kind=int),
        default=[100_000],
        help="how many learners, or a list of sizes (10000,100000), each measured apart",
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed requests a case")
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    dbs = ["sqlite", "postgres"] if options.db == "both" else [options.db]
    if options.json_only:
        for result in run_benchmark(dbs[0], options.learners[0], options.repeat):
            print("RESULT " + json.dumps(result), flush=True)
        return
    results = []
    for db in dbs:
        for learners in options.learners:
            child = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    f"--db={db}",
                    f"--learners={learners}",
                    f"--repeat={options.repeat}",
                    "--json-only",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith("RESULT "):
                    results.append(json.loads(line.removeprefix("RESULT ")))
                else:
                    print(line, end="", flush=True)
            if child.wait():
                sys.exit(child.returncode)
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
