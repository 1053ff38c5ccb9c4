"""Set-based writes of many rows, without building a model instance per row.

Updates: one statement per group of rows that change the same fields; PostgreSQL ``UPDATE …
FROM (VALUES …)``, a thousand rows a statement; SQLite ``executemany`` of a plain ``UPDATE …
WHERE id = ?``. Inserts: multi-row ``INSERT … VALUES`` on PostgreSQL, ``executemany`` on SQLite.
All in the caller's transaction and through Django's cursor, so query counts and the benchmark
see them."""

from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from django.db import connection, models

from .chunks import chunks
from .values import field_of

VALUES_PER_STATEMENT = 1000
# Fields whose Python values the database driver takes as they are; the others are prepared
# by their field (a per-value call that would dominate a large write).
_AS_THEY_ARE = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def _preparers(fields: list["models.Field[Any, Any]"]) -> list[Callable[[Any], Any] | None]:
    preparers: list[Callable[[Any], Any] | None] = []
    for field in fields:
        kind = field.get_internal_type()
        if kind in _AS_THEY_ARE:
            preparers.append(None)
        elif kind == "JSONField":
            preparers.append(partial(connection.ops.adapt_json_value, encoder=None))
        else:
            preparers.append(partial(field.get_db_prep_save, connection=connection))
    return preparers


def _prepared(preparers: list[Callable[[Any], Any] | None], values: Iterable[Any]) -> list[Any]:
    return [
        value if prepare is None else prepare(value)
        for prepare, value in zip(preparers, values, strict=True)
    ]


def rows_update(model: type[models.Model], rows: dict[int, dict[str, Any]]) -> int:
    """Writes each row's values (only the fields given; ``rows``: pk → attr → value). Returns
    how many rows were written."""
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for pk, values in rows.items():
        if values:
            groups[tuple(sorted(values))].append(pk)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        for attrs, pks in groups.items():
            fields = [field_of(model, attr) for attr in attrs]
            columns = [
                connection.ops.quote_name(field.get_attname_column()[1] or attr)
                for field, attr in zip(fields, attrs, strict=True)
            ]
            preparers = _preparers(fields)
            params = [[*_prepared(preparers, (rows[pk][attr] for attr in attrs)), pk] for pk in pks]
            if connection.vendor == "postgresql":
                casts = [field.db_type(connection) for field in fields]
                row = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ", %s::bigint)"
                sets = ", ".join(f"{column} = v.{column}" for column in columns)
                names = ", ".join([*columns, '"pk"'])
                for chunk in chunks(params, VALUES_PER_STATEMENT):
                    cursor.execute(
                        f"UPDATE {table} AS t SET {sets} FROM (VALUES "
                        + ", ".join([row] * len(chunk))
                        + f') AS v({names}) WHERE t."id" = v."pk"',
                        [value for values in chunk for value in values],
                    )
            else:
                sets = ", ".join(f"{column} = %s" for column in columns)
                cursor.executemany(f'UPDATE {table} SET {sets} WHERE "id" = %s', params)
    return sum(len(pks) for pks in groups.values())


def rows_insert(
    model: type[models.Model],
    attrs: tuple[str, ...],
    rows: list[tuple],
    *,
    prepared: tuple[str, ...] = (),
) -> None:
    """Inserts rows given as tuples of the values of ``attrs`` (the other fields: defaults of
    the database; the caller gives every field without one). ``prepared``: the attrs whose
    values the caller prepared for the database already (one value shared by every row)."""
    if not rows:
        return
    fields = [field_of(model, attr) for attr in attrs]
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(
        connection.ops.quote_name(field.get_attname_column()[1] or attr)
        for field, attr in zip(fields, attrs, strict=True)
    )
    preparers = [
        None if attr in prepared else preparer
        for attr, preparer in zip(attrs, _preparers(fields), strict=True)
    ]
    params = [_prepared(preparers, row) for row in rows]
    marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for chunk in chunks(params, VALUES_PER_STATEMENT):
                cursor.execute(
                    f"INSERT INTO {table} ({names}) VALUES " + ", ".join([marks] * len(chunk)),
                    [value for values in chunk for value in values],
                )
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES {marks}", params)
