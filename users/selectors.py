from users.models import User


def user_by_phone(*, phone: str) -> User | None:
    """The user with this E.164 phone, with the referrer whose code they activated."""
    try:
        # get(), not first(): ORDER BY costs more to build than the lookup itself.
        return User.objects.select_related("referred_by").get(phone=phone)
    except User.DoesNotExist:
        return None


# Every authenticated request reads its caller with this statement. Raw SQL because building the
# equivalent ORM query (a select_related join) cost more than running it; psycopg prepares it
# once per connection.
_ACTIVE_USER_SQL = f"""
SELECT u.*, r.invite_code AS referrer_invite_code
FROM {User._meta.db_table} u LEFT JOIN {User._meta.db_table} r ON r.id = u.referred_by_id
WHERE u.id = %s AND u.is_active
"""  # noqa: S608 - the table name is the model's, not input


def active_user(*, user_id: int) -> User | None:
    """An active user with the code they activated, in one query; None if missing or inactive."""
    found = list(User.objects.raw(_ACTIVE_USER_SQL, [user_id]))
    return found[0] if found else None
