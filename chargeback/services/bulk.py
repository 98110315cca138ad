"""Writing many new rows fast: COPY on PostgreSQL, ``bulk_create`` elsewhere.

The rows get their primary keys first (from the table's sequence, in one query), so rows that
refer to them can be written next. Only for new rows of tables the caller owns in this
transaction; no model ``save()`` runs, as with ``bulk_create``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import JSONField, Model

from tenants.scoping import dangerously_across_tenants

BATCH = 2000


def insert_new(model: type[Model], rows: Sequence[Model]) -> None:
    """Insert ``rows`` (unsaved instances of ``model``) and set their primary keys."""
    if not rows:
        return
    manager: Any = model._default_manager
    plain = getattr(manager, "dangerously_across_tenants", None)
    if connection.vendor != "postgresql":
        # Tenant-owned rows of several tenants, written by a platform-wide job.
        (plain() if plain else manager.all()).bulk_create(rows, batch_size=BATCH)
        return
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    staging = quote(f"new_{meta.db_table}")
    fields = list(meta.concrete_fields)
    if any(isinstance(field, JSONField) for field in fields):
        raise TypeError(f"insert_new writes plain columns only; {model.__name__} has JSON.")
    columns = ", ".join(quote(field.column) for field in fields)
    attnames = [field.attname for field in fields]
    # PostgreSQL refuses COPY FROM into tables under row-level security: the rows are copied
    # into a temporary table, then inserted under the policies of a cross-tenant write.
    with (
        dangerously_across_tenants(f"insert_new({meta.label})"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row.pk = pk
        cursor.execute(f"CREATE TEMPORARY TABLE {staging} (LIKE {table}) ON COMMIT DROP")
        with cursor.cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            # Plain values (numbers, Decimals, text, datetimes) adapt as they are.
            for row in rows:
                copy.write_row([getattr(row, name) for name in attnames])
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}")  # noqa: S608 (names are the model's)
        cursor.execute(f"DROP TABLE {staging}")
    for row in rows:
        row._state.adding = False
