from users.models import User

# The caller of every authenticated request, and the user at every login, is read with one of
# these statements. Raw SQL because building the equivalent ORM query (a select_related join)
# cost more than running it; psycopg prepares each once per connection.
_USER_BY_PHONE_SQL = """
SELECT u.*, r.invite_code AS referrer_invite_code
FROM users_user u LEFT JOIN users_user r ON r.id = u.referred_by_id
WHERE u.phone = %s
"""
_ACTIVE_USER_SQL = """
SELECT u.*, r.invite_code AS referrer_invite_code
FROM users_user u LEFT JOIN users_user r ON r.id = u.referred_by_id
WHERE u.id = %s AND u.is_active
"""


def _first(sql: str, value: object) -> User | None:
    found = list(User.objects.raw(sql, [value]))
    return found[0] if found else None


def user_by_phone(*, phone: str) -> User | None:
    """The user with this E.164 phone, with the code they activated."""
    return _first(_USER_BY_PHONE_SQL, phone)


def active_user(*, user_id: int) -> User | None:
    """An active user with the code they activated; None if missing or inactive."""
    return _first(_ACTIVE_USER_SQL, user_id)
