from users.models import User

# The caller of every authenticated request, and the user at every login, is read with one of
# these statements. Raw SQL because building the equivalent ORM query (a select_related join)
# cost more than running it; psycopg prepares each once per connection.
_USER_WITH_REFERRER_CODE_SQL = f"""
SELECT u.*, r.invite_code AS referrer_invite_code
FROM {User._meta.db_table} u LEFT JOIN {User._meta.db_table} r ON r.id = u.referred_by_id
WHERE
"""  # noqa: S608 - the table name is the model's, not input


def _user_with_referrer_code(condition: str, value: object) -> User | None:
    found = list(User.objects.raw(_USER_WITH_REFERRER_CODE_SQL + condition, [value]))
    return found[0] if found else None


def user_by_phone(*, phone: str) -> User | None:
    """The user with this E.164 phone, with the code they activated."""
    return _user_with_referrer_code("u.phone = %s", phone)


def active_user(*, user_id: int) -> User | None:
    """An active user with the code they activated; None if missing or inactive."""
    return _user_with_referrer_code("u.id = %s AND u.is_active", user_id)
