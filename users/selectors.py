from django.db import DEFAULT_DB_ALIAS, connection
from psycopg.pq import Format

from users.models import User

# The caller of every authenticated request, and the user at every login, is read with one of
# these statements, on a plain cursor: building the equivalent ORM query (a select_related
# join), or even a raw queryset's column mapping, cost more than running it. psycopg prepares
# each statement once per connection.
_FIELDS = User._meta.concrete_fields
_FIELD_NAMES = [field.attname for field in _FIELDS]
# Column names from the model, never from input.
_COLUMNS = ", ".join(f"u.{field.column}" for field in _FIELDS)
_JOIN = "users_user u LEFT JOIN users_user r ON r.id = u.referred_by_id"
_SELECT = f"SELECT {_COLUMNS}, r.invite_code FROM {_JOIN} "  # noqa: S608  # nosec
_USER_BY_PHONE_SQL = _SELECT + "WHERE u.phone = %s"
_ACTIVE_USER_SQL = _SELECT + "WHERE u.id = %s AND u.is_active"


def _first(sql: str, value: int | str) -> User | None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Rows in binary: psycopg reads them with its C loaders, while text timestamps go
            # through Django's time zone loader, written in Python (about 15 µs of each read).
            cursor.cursor.format = Format.BINARY
        cursor.execute(sql, [value])
        row = cursor.fetchone()
    if row is None:
        return None
    user = User.from_db(DEFAULT_DB_ALIAS, _FIELD_NAMES, row[:-1])
    # What User.activated_invite_code reads instead of loading the referrer.
    user.__dict__["referrer_invite_code"] = row[-1]
    return user


def user_by_phone(*, phone: str) -> User | None:
    """The user with this E.164 phone, with the code they activated."""
    return _first(_USER_BY_PHONE_SQL, phone)


def active_user(*, user_id: int) -> User | None:
    """An active user with the code they activated; None if missing or inactive."""
    return _first(_ACTIVE_USER_SQL, user_id)
