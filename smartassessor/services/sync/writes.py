"""Set-based writes of many rows, without building a model instance per row.

Updates: one statement per group of rows that change the same fields; PostgreSQL ``UPDATE …
FROM (VALUES …)``, a thousand rows a statement; SQLite ``executemany`` of a plain ``UPDATE …
WHERE id = ?``. Inserts: ``COPY … FROM STDIN`` (CSV) on PostgreSQL, ``executemany`` on SQLite.
All in the caller's transaction and through Django's cursor."""

import csv
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from django.db import connection, models

from .chunks import chunks
from .values import field_of

VALUES_PER_STATEMENT = 1000
# The parameters a statement may carry on SQLite, as Django counts them.
RETURNING_PARAMETERS = 999
# Fields whose Python values the database driver takes as they are; the others are prepared
# by their field (a per-value call that would dominate a large write).
_AS_THEY_ARE = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DecimalField",
    "ForeignKey",
    "IntegerField",
    "PositiveBigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def _preparers(
    fields: list["models.Field[Any, Any]"], *, copy: bool = False
) -> list[Callable[[Any], Any] | None]:
    """Per field, how its Python values become the driver's (``copy``: COPY's text, where
    JSON is written as JSON text and None as SQL NULL)."""
    preparers: list[Callable[[Any], Any] | None] = []
    for field in fields:
        kind = field.get_internal_type()
        if kind in _AS_THEY_ARE:
            preparers.append(None)
        elif kind == "JSONField":
            encoder = getattr(field, "encoder", None)
            preparers.append(
                partial(_json_text, encoder=encoder)
                if copy
                else partial(connection.ops.adapt_json_value, encoder=encoder)
            )
        else:
            preparers.append(partial(field.get_db_prep_save, connection=connection))
    return preparers


def _json_text(value: Any, encoder: type[json.JSONEncoder] | None) -> str | None:
    return None if value is None else json.dumps(value, cls=encoder)


def _prepared(preparers: list[Callable[[Any], Any] | None], rows: Iterable[Iterable[Any]]) -> list:
    """The rows' values as the driver takes them: only the columns with a preparer are
    touched."""
    active = [(column, prepare) for column, prepare in enumerate(preparers) if prepare]
    prepared = []
    for row in rows:
        values = list(row)
        for column, prepare in active:
            values[column] = prepare(values[column])
        prepared.append(values)
    return prepared


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
            params = _prepared([*preparers, None], ([*map(rows[pk].get, attrs), pk] for pk in pks))
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


def _columns(model: type[models.Model], attrs: tuple[str, ...]) -> tuple[list, list[str]]:
    fields = [field_of(model, attr) for attr in attrs]
    columns = [
        connection.ops.quote_name(field.get_attname_column()[1] or attr)
        for field, attr in zip(fields, attrs, strict=True)
    ]
    return fields, columns


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
    fields, columns = _columns(model, attrs)
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(columns)
    copy = connection.vendor == "postgresql"
    preparers = [
        None if attr in prepared else preparer
        for attr, preparer in zip(attrs, _preparers(fields, copy=copy), strict=True)
    ]
    with connection.cursor() as cursor:
        if copy:
            # CSV, written by the csv module: every value but a number quoted, None as "",
            # which FORCE_NULL reads as NULL in the nullable columns (in them, an empty text
            # is NULL too).
            text = io.StringIO()
            csv.writer(text, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(
                _prepared(preparers, rows)
            )
            text.seek(0)
            nullable = ", ".join(
                column for field, column in zip(fields, columns, strict=True) if field.null
            )
            options = f", FORCE_NULL ({nullable})" if nullable else ""
            with connection.wrap_database_errors:  # Django's errors, as an execute raises them
                cursor.copy_expert(
                    f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv{options})", text
                )
        else:
            marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES {marks}", _prepared(preparers, rows)
            )


def rows_insert_returning(
    model: type[models.Model], attrs: tuple[str, ...], rows: list[tuple]
) -> list[int]:
    """Inserts rows as ``rows_insert`` does and returns their ids, in the rows' order: a
    multi-row ``INSERT … RETURNING``, as Django's ``bulk_create`` makes it on both databases,
    without a model instance per row."""
    fields, columns = _columns(model, attrs)
    table = connection.ops.quote_name(model._meta.db_table)
    marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = min(VALUES_PER_STATEMENT, RETURNING_PARAMETERS // len(fields))
    ids: list[int] = []
    with connection.cursor() as cursor:
        for chunk in chunks(_prepared(_preparers(fields), rows), per_statement):
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                + ", ".join([marks] * len(chunk))
                + ' RETURNING "id"',
                [value for values in chunk for value in values],
            )
            ids += [row_id for (row_id,) in cursor.fetchall()]
    return ids
