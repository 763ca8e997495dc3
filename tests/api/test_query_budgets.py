"""Database queries per phone-login request: each budget is the real, tight number.

Inside a test every `transaction.atomic` is a savepoint, and SAVEPOINT / RELEASE count as queries.
"""

import pytest
from django.urls import reverse

from rewards.services import reward_rule_create
from tests.login import PHONE, bearer, request_code, sent_code, verify_code, wrong_code
from users.tokens import token_pair_for

pytestmark = pytest.mark.django_db


def test_request_code_query_budget(api_client, outbox, make_user, django_assert_max_num_queries):
    make_user(phone=PHONE)

    with django_assert_max_num_queries(0):
        response = request_code(api_client)

    assert response.status_code == 200


def test_verify_code_sign_up_query_budget(api_client, outbox, django_assert_max_num_queries):
    request_code(api_client)
    code = sent_code(outbox)

    # The user by phone; the new user with its sighting of the login's client IP and its session,
    # in one statement (referral_api.rows.write), in a savepoint (an invite code already taken
    # is drawn again).
    with django_assert_max_num_queries(4):
        response = verify_code(api_client, PHONE, code)

    assert response.status_code == 200


def test_verify_code_sign_up_with_invite_query_budget(
    api_client, outbox, make_user, django_assert_max_num_queries
):
    inviter = make_user()
    request_code(api_client)
    code = sent_code(outbox)

    # The user row with its sighting and its session (one statement), the referral (both rows in
    # one UPDATE), the owner's day count (UPDATE, and INSERT for the first of the day), the
    # active rule: none, the owner's sighting of this IP (abuse signal same_ip); the referral's
    # locks (the owner's root read, the new user, the root and the owner locked one by one, in a
    # savepoint: invites.services._lock_for_referral).
    with django_assert_max_num_queries(17):
        response = verify_code(api_client, PHONE, code, invite_code=inviter.invite_code)

    assert response.status_code == 200


def test_verify_code_sign_up_with_invite_and_rule_query_budget(
    api_client, outbox, make_user, django_assert_max_num_queries
):
    inviter = make_user()
    reward_rule_create(staff=None, referrer_amount=100, referee_amount=50)
    request_code(api_client)
    code = sent_code(outbox)

    # As above, plus both entries in one INSERT and both balances in one upsert.
    with django_assert_max_num_queries(19):
        response = verify_code(api_client, PHONE, code, invite_code=inviter.invite_code)

    assert response.status_code == 200


def test_verify_code_sign_in_query_budget(
    api_client, outbox, make_user, django_assert_max_num_queries
):
    make_user(phone=PHONE)
    request_code(api_client)
    code = sent_code(outbox)

    # The user; the sighting of the login's client IP (an upsert) and the session row, in one
    # statement (referral_api.rows.write).
    with django_assert_max_num_queries(2):
        response = verify_code(api_client, PHONE, code)

    assert response.status_code == 200


def test_verify_code_wrong_code_query_budget(
    api_client, outbox, make_user, django_assert_max_num_queries
):
    make_user(phone=PHONE)
    request_code(api_client)

    with django_assert_max_num_queries(1):
        response = verify_code(api_client, PHONE, wrong_code(sent_code(outbox)))

    assert response.status_code == 400


def test_refresh_query_budget(api_client, user, django_assert_max_num_queries):
    pair = token_pair_for(user)

    with django_assert_max_num_queries(9):
        response = api_client.post(reverse("users:auth-refresh"), {"refresh": pair.refresh})

    assert response.status_code == 200


def test_logout_query_budget(api_client, user, django_assert_max_num_queries):
    pair = token_pair_for(user)

    # +2: ending the token's session (UPDATE, and whether the session is the caller's).
    with django_assert_max_num_queries(9):
        response = api_client.post(
            reverse("users:auth-logout"), {"refresh": pair.refresh}, **bearer(pair.access)
        )

    assert response.status_code == 204


def test_profile_query_budget(api_client, make_user, django_assert_max_num_queries):
    inviter = make_user()
    user = make_user(referred_by=inviter, referred_at=inviter.date_joined)
    pair = token_pair_for(user)

    with django_assert_max_num_queries(1):
        response = api_client.get(reverse("invites:profile-detail"), **bearer(pair.access))

    assert response.status_code == 200
    assert response.json()["activated_invite_code"] == inviter.invite_code
