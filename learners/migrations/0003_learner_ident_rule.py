"""Before the ident rule and the ident's case-insensitive uniqueness (0004) take effect.

Idents that differ only in letter case (PW000101 and pw000101) would stop 0004 from adding its
constraint: the oldest learner keeps the ident, each later one is renamed to ``<ident>-DUP<n>``,
which breaks the rule on purpose so that it is listed below until a person picks its real ident.
Idents that break the rule are listed, not changed: other systems (Smart Assessor's
MISLearnerId) may know the learner by them, and they keep working until someone changes them.
"""

import re
from collections import defaultdict
from collections.abc import Iterable

from django.db import migrations

RULE = re.compile(r"[A-Za-z0-9 ]{1,12}")
COLUMN_LENGTH = 32


def _renamed(ident: str, number: int) -> str:
    suffix = f"-DUP{number}"
    return ident[: COLUMN_LENGTH - len(suffix)] + suffix


def renames_for_case_duplicates(rows: Iterable[tuple[int, str]]) -> list[tuple[int, str, str]]:
    """``(pk, old ident, new ident)`` for every learner but the oldest of each case-group.

    ``rows`` are every learner's ``(pk, ident)``.
    """
    rows = list(rows)
    taken = {ident.lower() for _, ident in rows}
    groups = defaultdict(list)
    for pk, ident in sorted(rows):
        groups[ident.lower()].append((pk, ident))
    renames = []
    for members in groups.values():
        for pk, ident in members[1:]:
            number = 2
            while _renamed(ident, number).lower() in taken:
                number += 1
            new_ident = _renamed(ident, number)
            taken.add(new_ident.lower())
            renames.append((pk, ident, new_ident))
    return renames


def _why(ident: str) -> str:
    if ident != ident.strip():
        return "starts or ends with a space"
    refused = sorted({c for c in ident if not RULE.fullmatch(c)})
    if refused:
        return "holds " + ", ".join(repr(c) for c in refused)
    if not ident:
        return "is empty"
    return f"has {len(ident)} characters, more than 12"


def report_idents_breaking_the_rule(rows: Iterable[tuple[int, str, str, str]]) -> list[str]:
    """The lines to print, from every learner's ``(pk, ident, first_name, surname)``."""
    broken = [row for row in rows if not RULE.fullmatch(row[1]) or row[1] != row[1].strip()]
    if not broken:
        return []
    lines = [
        f"{len(broken)} learner(s) have a Learner Ident that breaks the rule (1 to 12 letters "
        "A-Z or a-z, digits and spaces, as the ILR's learner reference number). They keep "
        "working; give each a new ident in the Django admin (Learners and delivery plans > "
        "Learners) and tell Smart Assessor's support if the learner is enrolled there:"
    ]
    for pk, ident, first_name, surname in sorted(broken):
        lines.append(f"  - {ident!r}: {first_name} {surname} (id {pk}), {_why(ident)}")
    return lines


def forwards(apps, schema_editor):
    Learner = apps.get_model("learners", "Learner")
    for pk, old, new in renames_for_case_duplicates(Learner.objects.values_list("pk", "ident")):
        Learner.objects.filter(pk=pk).update(ident=new)
        print(f"\n  Learner id {pk}: ident {old!r} renamed {new!r}, as another learner has it.")
    lines = report_idents_breaking_the_rule(
        Learner.objects.values_list("pk", "ident", "first_name", "surname")
    )
    if lines:
        print("\n  " + "\n  ".join(lines))


class Migration(migrations.Migration):
    dependencies = [("learners", "0002_lrn_length_once")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
