"""Every statement of the hot endpoints can be served by an index (checked with EXPLAIN).

The statements are captured as the endpoints run them, then explained with sequential scans
disabled and generic plans, as the server's prepared statements are planned: a statement no
index can serve still shows a Seq Scan then.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from tests.login import PHONE, bearer, request_code, sent_code, verify_code
from users.models import User
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db

Statement = tuple[str, Any]


@pytest.fixture
def statements() -> Iterator[list[Statement]]:
    executed: list[Statement] = []

    def capture(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        executed.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        yield executed


def plans(statements: list[Statement]) -> list[str]:
    explained = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        for sql, params in statements:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE")):
                continue
            cursor.execute(f"EXPLAIN {sql}", params)
            explained.append("\n".join(row[0] for row in cursor.fetchall()))
    return explained


def assert_index_served(statements: list[Statement]) -> None:
    explained = plans(statements)

    assert explained, "no statement was captured"
    for plan in explained:
        assert "Seq Scan" not in plan, plan


def test_sign_in_statements_use_indexes(api_client, outbox, make_user, statements):
    make_user(phone=PHONE)
    request_code(api_client)

    response = verify_code(api_client, PHONE, sent_code(outbox))

    assert response.status_code == 200
    assert_index_served(statements)


def test_profile_and_referrals_statements_use_indexes(
    api_client, make_user: Callable[..., User], statements
):
    owner = make_user()
    for _ in range(3):
        make_user(referred_by=owner, referred_at=owner.date_joined)
    access = bearer(token_pair_for(owner).access)

    profile = api_client.get(reverse("invites:profile-detail"), **access)
    first = api_client.get(reverse("invites:profile-referrals"), {"page_size": 1}, **access)
    last = api_client.get(first.json()["next"], **access)

    assert [profile.status_code, first.status_code, last.status_code] == [200, 200, 200]
    assert_index_served(statements)


def test_activate_invite_statements_use_indexes(api_client, make_user, statements):
    owner, user = make_user(), make_user()

    response = api_client.post(
        reverse("invites:profile-activate-invite"),
        {"invite_code": owner.invite_code},
        **bearer(token_pair_for(user).access),
    )

    assert response.status_code == 200
    assert_index_served(statements)
