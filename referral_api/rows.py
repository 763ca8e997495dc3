"""INSERTs on the hot write paths from statements built once, instead of by the ORM's compiler.

A login writes up to three rows: the user (at sign-up), its sighting (`users.sightings`) and its
session (`users.sessions`); a referral under a reward rule writes two entries and adds them to
two balances (`rewards.services`). Through `Model.save()`, `bulk_create()` and an UPDATE with
`F()` each of those cost 280-700 µs of CPU, most of it building the statement (the query
compiler and the layers around it), more than PostgreSQL takes to run it. Built once per model
and row count, they cost a third to a half of that (`scripts/login_write_costs.py`,
docs/performance.md › What the work changed). This is the one place that does it:

- values are prepared as the ORM prepares them (`Field.pre_save`, then `get_db_prep_save`), and
  the statement runs on Django's cursor, so errors arrive as Django's (`IntegrityError`) and the
  query log and the query budgets of the tests see it;
- the instance ends as `save()` leaves it: its primary key set, in the database, not `adding`;
- no `pre_save`/`post_save` signal is sent: a model with receivers goes through the ORM instead;
- only PostgreSQL takes this path; SQLite (`make run` only) uses the ORM.

tests/test_rows.py checks each statement against the row the ORM writes.
"""

from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import F, Field, Model
from django.db.models.signals import post_save, pre_save


def _fast(model: type[Model], using: str) -> bool:
    return connections[using].vendor == "postgresql" and not (
        pre_save.has_listeners(model) or post_save.has_listeners(model)
    )


def _fields(model: type[Model], *, with_pk: bool) -> list[Field]:
    return [
        field for field in model._meta.local_concrete_fields if with_pk or not field.primary_key
    ]


def _attname(instance: Model, name: str) -> str:
    return cast(Field, instance._meta.get_field(name)).attname


def _column(model: type[Model], name: str) -> str:
    return cast(str, cast(Field, model._meta.get_field(name)).column)


def _quoted(model: type[Model], names: tuple[str, ...]) -> list[str]:
    return [connection.ops.quote_name(_column(model, name)) for name in names]


@cache
def _insert_sql(
    model: type[Model],
    *,
    with_pk: bool,
    rows: int,
    unique: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
    add: tuple[str, ...] = (),
) -> str:
    opts = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(cast(str, field.column)) for field in _fields(model, with_pk=with_pk))
    row = "(" + ", ".join(["%s"] * len(_fields(model, with_pk=with_pk))) + ")"
    # Table and column names from the model, never from input.
    sql = f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES {', '.join([row] * rows)}"  # noqa: S608  # nosec
    if unique:
        table = quote(opts.db_table)
        target = ", ".join(quote(_column(model, name)) for name in unique)
        changes = ", ".join(
            [
                *(f"{column} = EXCLUDED.{column}" for column in _quoted(model, update)),
                *(
                    f"{column} = {table}.{column} + EXCLUDED.{column}"
                    for column in _quoted(model, add)
                ),
            ]
        )
        sql += f" ON CONFLICT ({target}) DO UPDATE SET {changes}"  # nosec B608
    if not with_pk and not unique:
        sql += f" RETURNING {quote(cast(str, opts.pk.column))}"
    return sql


def _values(instance: Model, fields: list[Field], using: str) -> list[Any]:
    db = connections[using]
    return [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]


def _saved(instance: Model, using: str) -> None:
    instance._state.adding = False
    instance._state.db = using


def insert(instance: Model, *, using: str | None = None) -> None:
    """INSERT `instance` as `instance.save(force_insert=True, using=using)` would."""
    using = using or DEFAULT_DB_ALIAS
    if not _fast(type(instance), using):
        instance.save(force_insert=True, using=using)
        return
    _insert([instance], using)


def insert_many(instances: Sequence[Model]) -> None:
    """INSERT `instances` (of one model) in one statement, as `bulk_create` would: each gets its
    primary key."""
    if not instances:
        return
    if not _fast(type(instances[0]), DEFAULT_DB_ALIAS):
        type(instances[0])._default_manager.bulk_create(instances)
        return
    _insert(instances, DEFAULT_DB_ALIAS)


def _insert(instances: Sequence[Model], using: str) -> None:
    model = type(instances[0])
    # Database-made keys for all of them, or their own for all of them.
    with_pk = instances[0].pk is not None
    fields = _fields(model, with_pk=with_pk)
    values = [value for instance in instances for value in _values(instance, fields, using)]
    with connections[using].cursor() as cursor:
        cursor.execute(_insert_sql(model, with_pk=with_pk, rows=len(instances)), values)
        if not with_pk:
            # PostgreSQL returns the rows of a VALUES list in its order (bulk_create relies on
            # it too).
            for instance, (pk,) in zip(instances, cursor.fetchall(), strict=True):
                instance.pk = pk
    for instance in instances:
        _saved(instance, using)


def upsert(
    instances: Sequence[Model],
    *,
    unique_fields: tuple[str, ...],
    update_fields: tuple[str, ...] = (),
    add_fields: tuple[str, ...] = (),
) -> None:
    """INSERT `instances` (of one model, with database-made keys, no two with the same
    `unique_fields`); where a row with their `unique_fields` exists, it takes their
    `update_fields` and gets their `add_fields` added to its own. One statement, whose rows lock
    in the order given. The instances' keys stay unset, as `bulk_create` leaves them."""
    model, using = type(instances[0]), DEFAULT_DB_ALIAS
    if not _fast(model, using):
        _orm_upsert(instances, unique_fields, update_fields, add_fields)
        return
    fields = _fields(model, with_pk=False)
    sql = _insert_sql(
        model,
        with_pk=False,
        rows=len(instances),
        unique=unique_fields,
        update=update_fields,
        add=add_fields,
    )
    values = [value for instance in instances for value in _values(instance, fields, using)]
    with connections[using].cursor() as cursor:
        cursor.execute(sql, values)
    for instance in instances:
        _saved(instance, using)


def _orm_upsert(
    instances: Sequence[Model],
    unique_fields: tuple[str, ...],
    update_fields: tuple[str, ...],
    add_fields: tuple[str, ...],
) -> None:
    manager = type(instances[0])._default_manager
    if not add_fields:
        manager.bulk_create(
            instances,
            update_conflicts=True,
            unique_fields=list(unique_fields),
            update_fields=list(update_fields),
        )
        return
    for instance in instances:
        changes = {name: getattr(instance, name) for name in update_fields}
        changes |= {name: F(name) + getattr(instance, name) for name in add_fields}
        key = {
            _attname(instance, name): getattr(instance, _attname(instance, name))
            for name in unique_fields
        }
        if not manager.filter(**key).update(**changes):
            instance.save(force_insert=True)
