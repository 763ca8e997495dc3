"""INSERTs on the hot write paths from statements built once, instead of by the ORM's compiler.

A login writes up to three rows: the user (at sign-up), its sighting (`users.sightings`) and its
session (`users.sessions`); a referral under a reward rule writes two entries and adds them to
two balances (`rewards.services`). Through `Model.save()`, `bulk_create()` and an UPDATE with
`F()` each of those cost 280-700 µs of CPU, most of it building the statement (the query
compiler and the layers around it), more than PostgreSQL takes to run it. Built once per model
and row count, they cost a third to a half of that (`scripts/write_costs.py`,
docs/performance.md › What the work changed). This is the one place that does it:

- values are prepared as the ORM prepares them (`Field.pre_save`, then `get_db_prep_save`), and
  the statement runs on Django's cursor, so errors arrive as Django's (`IntegrityError`) and the
  query log and the query budgets of the tests see it;
- the instance ends as `save()` leaves it: its primary key set, in the database, not `adding`;
- no `pre_save`/`post_save` signal is sent: a model with receivers goes through the ORM instead;
- only PostgreSQL takes this path; SQLite (`make run` only) uses the ORM.

`write` puts several of these writes into one statement (a sign-up's user, sighting and session,
a sign-in's sighting and session): each round trip to PostgreSQL is also a moment the request's
thread gives up the GIL and waits to get it back, and under load that wait cost more CPU than
the statement itself (docs/performance.md › What the work changed).

tests/test_rows.py checks each statement against the row the ORM writes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
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
    links: tuple[tuple[str, int, str], ...] = (),
) -> str:
    """The INSERT of `rows` rows. `links`: (column, n, key) triples, the column taking the `key`
    column of the row that part `wn` of the statement returns (see `write`)."""
    opts = model._meta
    quote = connection.ops.quote_name
    fields = _fields(model, with_pk=with_pk)
    columns = ", ".join(quote(cast(str, field.column)) for field in fields)
    # Table and column names from the model, never from input; part numbers from `write`.
    linked = {column: f"(SELECT {quote(key)} FROM w{part})" for column, part, key in links}  # noqa: S608  # nosec B608
    row = "(" + ", ".join(linked.get(cast(str, field.column), "%s") for field in fields) + ")"
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


@dataclass(frozen=True)
class Upsert:
    """`upsert`'s arguments, as one part of a `write`."""

    instances: Sequence[Model]
    unique_fields: tuple[str, ...]
    update_fields: tuple[str, ...] = ()
    add_fields: tuple[str, ...] = ()


def write(*parts: Model | Upsert, using: str | None = None) -> None:
    """Several writes in one statement, in the order given: a model instance is INSERTed as
    `insert` does it, an `Upsert` as `upsert` does it. All of them are written or none.

    A foreign key to the instance of an earlier part whose key the database makes (an instance
    given on its own) takes that key: a new user and the rows that point at it go together.
    On PostgreSQL each part is a data-modifying WITH query; a later part reads the key of an
    earlier one with a sub-select, and the statement's one row is the keys made.
    """
    using = using or DEFAULT_DB_ALIAS
    steps = [part if isinstance(part, Upsert) else Upsert([part], ()) for part in parts]
    if not all(_fast(type(step.instances[0]), using) for step in steps):
        _orm_write(steps, using)
        return
    # Part number of each instance whose key the statement makes, by the instance's id().
    keyed: dict[int, int] = {}
    statements, values = [], []
    for number, step in enumerate(steps):
        model, first = type(step.instances[0]), step.instances[0]
        with_pk = first.pk is not None
        fields = _fields(model, with_pk=with_pk)
        links = _links(first, fields, keyed)
        statements.append(
            _insert_sql(
                model,
                with_pk=with_pk,
                rows=len(step.instances),
                unique=step.unique_fields,
                update=step.update_fields,
                add=step.add_fields,
                links=links,
            )
        )
        # A linked column takes no parameter: its value is the sub-select.
        linked = {column for column, _, _ in links}
        values += [
            value
            for instance in step.instances
            for field, value in zip(fields, _values(instance, fields, using), strict=True)
            if field.column not in linked
        ]
        if not with_pk and not step.unique_fields and len(step.instances) == 1:
            keyed[id(first)] = number
    made = sorted(keyed.values())
    sql = statements[0] if len(steps) == 1 else _with_sql(statements, steps, made)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, values)
        if made:
            for number, pk in zip(made, cursor.fetchone(), strict=True):
                steps[number].instances[0].pk = pk
    for step in steps:
        for instance in step.instances:
            _link_keys(instance)
            _saved(instance, using)


def _with_sql(statements: list[str], steps: list[Upsert], made: list[int]) -> str:
    """`statements` as the WITH queries w0, w1…, then a SELECT of the keys of parts `made`."""
    quote = connection.ops.quote_name
    queries = ", ".join(f"w{number} AS ({sql})" for number, sql in enumerate(statements))
    keys = ", ".join(
        f"(SELECT {quote(_pk_column(steps[number]))} FROM w{number})"  # noqa: S608  # nosec B608
        for number in made
    )
    return f"WITH {queries} SELECT {keys or 'NULL'}"


def _pk_column(step: Upsert) -> str:
    return cast(str, step.instances[0]._meta.pk.column)


def _links(
    instance: Model, fields: list[Field], keyed: dict[int, int]
) -> tuple[tuple[str, int, str], ...]:
    """(column, part, key column) for each foreign key of `instance` to an instance of an earlier
    part whose key the statement makes."""
    links = []
    for field in fields:
        if not field.is_relation or getattr(instance, field.attname) is not None:
            continue
        target = field.get_cached_value(instance, default=None)  # type: ignore[attr-defined]
        if target is not None and id(target) in keyed:
            key = cast(str, target._meta.pk.column)
            links.append((cast(str, field.column), keyed[id(target)], key))
    return tuple(links)


def _link_keys(instance: Model) -> None:
    """Copy the keys of the rows `instance` points at, made by the statement, into its foreign
    keys."""
    for field in instance._meta.concrete_fields:
        if field.is_relation and getattr(instance, field.attname) is None:
            target = field.get_cached_value(instance, default=None)  # type: ignore[attr-defined]
            if target is not None:
                setattr(instance, field.attname, target.pk)


def _orm_write(steps: list[Upsert], using: str) -> None:
    with transaction.atomic(using=using):
        for step in steps:
            for instance in step.instances:
                _link_keys(instance)
            if step.unique_fields:
                upsert(
                    step.instances,
                    unique_fields=step.unique_fields,
                    update_fields=step.update_fields,
                    add_fields=step.add_fields,
                )
            else:
                for instance in step.instances:
                    insert(instance, using=using)
