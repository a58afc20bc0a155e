"""Inserting many rows at once: `COPY … FROM STDIN` on PostgreSQL (ids drawn from the table's sequence first, so the
rows can be linked and their history written), Django's `bulk_create` elsewhere. Nothing is validated here: the
bulk writer has validated the rows, and the database's constraints hold whatever path writes.

History and link rows are plain dicts (attname → value): at a million rows, building a model instance for each of
them costs more than writing it."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.db import connections, models, router
from django.utils import timezone

_PLAIN = (type(None), str, int, float, bool, Decimal, date, uuid.UUID)


def _next_ids(connection, model: type[models.Model], count: int) -> list[int]:
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, column, count]
        )
        return [row[0] for row in cursor.fetchall()]


def _copy(connection, model: type[models.Model], attnames: list[str], rows: list[list]) -> None:
    by_attname = {field.attname: field for field in model._meta.concrete_fields}
    fields = [by_attname[name] for name in attnames]
    # COPY adapts plain values itself; any other (a file, JSON, a file's name in a history row) needs Django's
    # preparation first.
    prepared = [
        (i, field)
        for i, field in enumerate(fields)
        if isinstance(field, (models.FileField, models.JSONField)) or not isinstance(rows[0][i], _PLAIN)
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    # wrap_database_errors: a refused row raises Django's IntegrityError, as a save would (COPY is psycopg's own).
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            for i, field in prepared:
                row[i] = field.get_db_prep_save(row[i], connection)
            copy.write_row(row)


def insert(model: type[models.Model], objs: list[models.Model]) -> list[models.Model]:
    """Insert `objs` (unsaved model instances, pk unset) and set their primary keys; returns them."""
    if not objs:
        return objs
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model._base_manager.using(using).bulk_create(objs)
    fields = model._meta.concrete_fields
    now = timezone.now()
    stamped = [f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    for obj, pk in zip(objs, _next_ids(connection, model, len(objs)), strict=True):
        obj.pk = pk
        for name in stamped:  # what save() fills in by itself
            setattr(obj, name, now)
    attnames = [field.attname for field in fields]
    _copy(connection, model, attnames, [[getattr(obj, name) for name in attnames] for obj in objs])
    for obj in objs:
        obj._state.adding, obj._state.db = False, using
    return objs


def insert_rows(model: type[models.Model], rows: list[dict]) -> list[int]:
    """Insert plain rows (attname → value; the same keys in each, the pk left out); returns their pks in order."""
    if not rows:
        return []
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return [obj.pk for obj in model._base_manager.using(using).bulk_create([model(**row) for row in rows])]
    ids = _next_ids(connection, model, len(rows))
    attnames = [model._meta.pk.attname, *rows[0]]
    _copy(connection, model, attnames, [[pk, *row.values()] for pk, row in zip(ids, rows, strict=True)])
    return ids


def history_row(obj: models.Model, tracked: list[str], *, kind: str, user, when) -> dict:
    """A history entry of `obj` as simple-history writes it for a save by `user`."""
    row = {name: getattr(obj, name) for name in tracked}
    row.update(history_date=when, history_type=kind, history_user_id=user.pk, history_change_reason=None)
    return row


def insert_with_history(model: type[models.Model], objs: list[models.Model], *, user, when) -> list[models.Model]:
    """Insert `objs` and their creation in the history ("+"), attributed to `user` at `when`, as a save records it."""
    insert(model, objs)
    history_model = model.history.model
    tracked = [field.attname for field in history_model.tracked_fields]
    insert_rows(history_model, [history_row(obj, tracked, kind="+", user=user, when=when) for obj in objs])
    return objs
