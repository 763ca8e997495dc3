"""Reads of users on the hot paths: the caller of every authenticated request, the login user.

Each is one prepared statement on a plain cursor: building the equivalent ORM query (a
select_related join), or even a raw queryset's column mapping, cost more than running it
(docs/performance.md). The row becomes a model instance the way a queryset makes one
(`Model.from_db`), and the referrer's code is put in the relation's cache the way
select_related puts it there, so `user.activated_invite_code` needs no second query.
tests/users/test_selectors.py checks both against the ORM's own answer.
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection
from psycopg.pq import Format

from users.models import Session, User

_FIELDS = User._meta.concrete_fields
_FIELD_NAMES = [field.attname for field in _FIELDS]
_REFERRER = User._meta.get_field("referred_by")
_TABLE = User._meta.db_table
# Column and table names from the model, never from input.
_COLUMNS = ", ".join(f"u.{field.column}" for field in _FIELDS)
_JOIN = f"{_TABLE} u LEFT JOIN {_TABLE} r ON r.id = u.{_REFERRER.column}"
_SELECT = f"SELECT {_COLUMNS}, r.invite_code FROM {_JOIN} "  # noqa: S608  # nosec
_USER_BY_PHONE_SQL = _SELECT + "WHERE u.phone = %s"
_ACTIVE_USER_SQL = _SELECT + "WHERE u.id = %s AND u.is_active"
# The caller of an authenticated request: the user, and the session of the token in the same
# statement (an ended session refuses its tokens at once, and costs no second query).
_SESSIONS = Session._meta.db_table
_CALLER_SQL = (
    f"SELECT {_COLUMNS}, r.invite_code, s.last_used_at FROM {_JOIN} "  # noqa: S608  # nosec
    f"JOIN {_SESSIONS} s ON s.user_id = u.id "
    "WHERE u.id = %s AND u.is_active AND s.id = %s AND s.ended_at IS NULL"
)


def _row(sql: str, values: list[Any]) -> Any:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Rows in binary: psycopg reads them with its C loaders, while text timestamps go
            # through Django's time zone loader, written in Python (about 15 µs of each read).
            cursor.cursor.format = Format.BINARY
        cursor.execute(sql, values)
        return cursor.fetchone()


def _user(row: Any) -> User:
    """A user from the row's user columns and, after them, the referrer's invite code."""
    user = User.from_db(DEFAULT_DB_ALIAS, _FIELD_NAMES, row[: len(_FIELD_NAMES)])
    referrer = None
    if user.referred_by_id is not None:
        # Only the two columns the profile shows of a referrer; the rest stay deferred.
        referrer = User.from_db(
            DEFAULT_DB_ALIAS, ["id", "invite_code"], [user.referred_by_id, row[len(_FIELD_NAMES)]]
        )
    _REFERRER.set_cached_value(user, referrer)
    return user


def _first(sql: str, value: int | str) -> User | None:
    row = _row(sql, [value])
    return None if row is None else _user(row)


def user_by_phone(*, phone: str) -> User | None:
    """The user with this E.164 phone, with the code they activated."""
    return _first(_USER_BY_PHONE_SQL, phone)


def active_user(*, user_id: int) -> User | None:
    """An active user with the code they activated; None if missing or inactive."""
    return _first(_ACTIVE_USER_SQL, user_id)


def session_caller(*, user_id: int, session_id: UUID) -> tuple[User, datetime] | None:
    """The active user of a live session, and when the session was last used; None otherwise."""
    # The id as the database stores it (a uuid on PostgreSQL, 32 hex characters on SQLite).
    session_key = Session._meta.pk.get_db_prep_value(session_id, connection)
    row = _row(_CALLER_SQL, [user_id, session_key])
    if row is None:
        return None
    last_used_at: datetime = row[-1]
    if last_used_at.tzinfo is None:  # SQLite gives naive UTC
        last_used_at = last_used_at.replace(tzinfo=UTC)
    return _user(row), last_used_at
