"""The learner search's index on SQLite: an FTS5 table of trigrams, kept by triggers.

The learner list's search finds a part of a name, Learner Ident, LRN or ULN (``icontains``).
No B-tree serves a match in the middle of a value. On PostgreSQL pg_trgm's GIN indexes do
(migration 0007); SQLite has no such index and read every learner, 154–266 ms at 100,000. Its
FTS5 trigram tokenizer serves the same look-ups: the table ``learner_search`` holds each
learner's searched columns (its rowid is the learner's id), and triggers on the learner table
keep it as learners are added, changed and deleted.

Django remakes a SQLite table for many schema changes (a copy, a drop and a rename), and the
drop takes the table's triggers with it. So after every ``migrate`` (post_migrate),
``index_ensure`` makes whatever is missing and, if anything was, fills the index again from
the learners.
"""

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.expressions import RawSQL

TABLE = "learner_search"
SEARCHED = ("first_name", "surname", "ident", "lrn", "uln")
# The shortest term with a trigram: shorter ones the index cannot look up.
TRIGRAM = 3

_COLUMNS = ", ".join(SEARCHED)
_NEW = ", ".join(f"new.{column}" for column in SEARCHED)
_STATEMENTS = {
    TABLE: f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5({_COLUMNS}, tokenize='trigram')",
    f"{TABLE}_insert": f"CREATE TRIGGER IF NOT EXISTS {TABLE}_insert AFTER INSERT ON "
    f"learners_learner BEGIN INSERT INTO {TABLE}(rowid, {_COLUMNS}) VALUES (new.id, {_NEW}); "
    "END",
    f"{TABLE}_update": f"CREATE TRIGGER IF NOT EXISTS {TABLE}_update AFTER UPDATE OF "
    f"{_COLUMNS} ON learners_learner BEGIN UPDATE {TABLE} SET "
    + ", ".join(f"{column} = new.{column}" for column in SEARCHED)
    + " WHERE rowid = old.id; END",
    f"{TABLE}_delete": f"CREATE TRIGGER IF NOT EXISTS {TABLE}_delete AFTER DELETE ON "
    f"learners_learner BEGIN DELETE FROM {TABLE} WHERE rowid = old.id; END",
}


def index_ensure(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Make the index and its triggers where they are missing (SQLite only), and fill the
    index again if anything was. Returns whether anything was."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        placeholders = ", ".join(["%s"] * len(_STATEMENTS))
        cursor.execute(
            f"SELECT name FROM sqlite_master WHERE name IN ({placeholders})", list(_STATEMENTS)
        )
        present = {name for (name,) in cursor.fetchall()}
        if present == set(_STATEMENTS):
            return False
        for statement in _STATEMENTS.values():
            cursor.execute(statement)
        cursor.execute(f"DELETE FROM {TABLE}")
        cursor.execute(
            f"INSERT INTO {TABLE}(rowid, {_COLUMNS}) SELECT id, {_COLUMNS} FROM learners_learner"
        )
    return True


def ensure_after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    index_ensure(using)


def matching(terms: list[str]) -> RawSQL:
    """The ids of the learners whose searched columns hold every term of three characters or
    more (case aside), for ``pk__in``. A superset of the ``icontains`` match, which the
    caller applies as well: the index folds the case of letters beyond ASCII too."""
    phrases = ['"' + term.replace('"', '""') + '"' for term in terms if len(term) >= TRIGRAM]
    return RawSQL(f"SELECT rowid FROM {TABLE} WHERE {TABLE} MATCH %s", [" AND ".join(phrases)])
