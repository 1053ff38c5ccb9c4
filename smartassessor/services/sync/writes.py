"""Set-based writes of many rows: one statement per group of rows that change the same fields.

PostgreSQL: ``UPDATE … FROM (VALUES …)``, a thousand rows a statement. SQLite: ``executemany``
of a plain ``UPDATE … WHERE id = ?``, in the caller's transaction. Both go through Django's
cursor, so query counts and the benchmark see them."""

from collections import defaultdict
from typing import Any

from django.db import connection, models

from .chunks import chunks
from .values import field_of

VALUES_PER_STATEMENT = 1000


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
            params = [
                [
                    field.get_db_prep_save(rows[pk][attr], connection)
                    for field, attr in zip(fields, attrs, strict=True)
                ]
                + [pk]
                for pk in pks
            ]
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
