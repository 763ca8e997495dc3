"""Abuse against live servers: guessing codes, spreading requests over phones and addresses,
spoofing proxies, guessing invite codes, and reaching for another user's data.

Every server here has its own limits (environment variables, as production sets them). Phones and
client addresses are random per run, so limits left in Redis by earlier runs never interfere.
Requests come from random loopback source addresses (127.x.y.z), so that the per-IP counters of
one test are not those of another.
"""

import secrets
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.e2e.client import (
    ACTIVATE,
    LOGOUT,
    PROFILE,
    REFERRALS,
    REFRESH,
    REQUEST_CODE,
    VERIFY_CODE,
    Answer,
    call,
    random_phone,
)
from tests.e2e.live import LiveServer, start_server

pytestmark = pytest.mark.e2e


FAILURES_PER_DAY = 10
MAX_ATTEMPTS = 5
INVITE_FAILURES_PER_HOUR = 10
SENDS_PER_IP = 5
SENDS_PER_PHONE = 5
GUESSES = 60
INVITE_GUESSES = 25
SERVER_START_TIMEOUT = 180

SERVERS = {
    # Brute force: codes can be resent at once and as often as wanted; only the daily failure
    # cap stands in the way. Behind one proxy, so the attacker can also rotate addresses.
    "brute": {
        "OTP_RESEND_COOLDOWN_SECONDS": "0",
        "OTP_SENDS_PER_PHONE_PER_HOUR": "1000",
        "OTP_SENDS_PER_PHONE_PER_DAY": "1000",
        "OTP_SENDS_PER_IP_PER_HOUR": "1000",
        "OTP_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "OTP_FAILURES_PER_PHONE_PER_DAY": str(FAILURES_PER_DAY),
        "INVITE_ACTIVATE_FAILURES_PER_HOUR": str(INVITE_FAILURES_PER_HOUR),
        "NUM_PROXIES": "1",
    },
    # No proxy in front: X-Forwarded-For is the client's to invent, so it must be ignored.
    "direct": {
        "NUM_PROXIES": "0",
        "OTP_SENDS_PER_IP_PER_HOUR": str(SENDS_PER_IP),
        "OTP_SENDS_PER_PHONE_PER_HOUR": "1000",
        "OTP_SENDS_PER_PHONE_PER_DAY": "1000",
    },
    # One trusted proxy: the last X-Forwarded-For hop is the client, earlier hops are claims.
    "proxied": {
        "NUM_PROXIES": "1",
        "OTP_SENDS_PER_IP_PER_HOUR": str(SENDS_PER_IP),
        "OTP_RESEND_COOLDOWN_SECONDS": "0",
        "OTP_SENDS_PER_PHONE_PER_HOUR": str(SENDS_PER_PHONE),
        "OTP_SENDS_PER_PHONE_PER_DAY": "1000",
    },
}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LiveServer]]:
    """The three servers, started side by side (each `make serve` takes a while)."""
    with ThreadPoolExecutor(len(SERVERS)) as pool:
        futures = {
            name: pool.submit(
                start_server, timeout=SERVER_START_TIMEOUT, GUNICORN_WORKERS="1", **env
            )
            for name, env in SERVERS.items()
        }
    started: dict[str, LiveServer] = {}
    errors = []
    for name, future in futures.items():
        try:
            started[name] = future.result()
        except Exception as exc:  # reported below, after the others are stopped
            errors.append(exc)
    try:
        assert not errors, errors
        yield started
    finally:
        for server in started.values():
            server.stop()


def random_loopback() -> str:
    a, b, c = secrets.randbelow(254) + 1, secrets.randbelow(254) + 1, secrets.randbelow(253) + 2
    return f"127.{a}.{b}.{c}"


def random_public_ip() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def random_invite_code() -> str:
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(6))


def assert_limited(answer: Answer, code: str) -> int:
    """A 429 with the contract's body and a Retry-After of whole seconds, at least 1."""
    assert answer.status == 429, (answer.status, answer.body)
    assert answer.body == {"code": code, "message": answer.body["message"], "errors": {}}
    retry_after = int(answer.headers["Retry-After"])
    assert retry_after >= 1
    return retry_after


def login(server: LiveServer, phone: str | None = None, **kwargs: Any) -> dict[str, Any]:
    sent = call(server, "POST", REQUEST_CODE, {"phone": phone or random_phone()}, **kwargs)
    assert sent.status == 200, sent.body
    verified = call(
        server,
        "POST",
        VERIFY_CODE,
        {"phone": sent.body["phone"], "code": sent.body["debug_code"]},
        **kwargs,
    )
    assert verified.status == 200, verified.body
    body: dict[str, Any] = verified.body
    return body


def sms_sent(server: LiveServer) -> int:
    return server.log().count("SMS sent to")


def wrong_guess(live_code: str | None, counter: int) -> str:
    """The attacker's next guess: 0000, 0001, … never the live code (the worst case to bound)."""
    guess = f"{counter:04d}"
    return f"{(counter + 1) % 10_000:04d}" if guess == live_code else guess


# --- brute force ---------------------------------------------------------------------------


def test_brute_force_with_resends_is_bounded_by_the_daily_failure_cap(
    servers: dict[str, LiveServer], figures: list[str]
) -> None:
    server = servers["brute"]
    phone = random_phone()
    sms_before = sms_sent(server)
    live_code: str | None = None
    last_code = ""
    checked = sends = refused_sends = 0
    answers: Counter[str] = Counter()

    for counter in range(GUESSES):
        # Resend before every second guess (and whenever the code is gone), from a new address.
        if live_code is None or counter % 2 == 0:
            sent = call(
                server, "POST", REQUEST_CODE, {"phone": phone}, forwarded_for=random_public_ip()
            )
            if sent.status == 200:
                live_code = last_code = sent.body["debug_code"]
                sends += 1
            else:
                assert_limited(sent, "otp_attempts_exceeded")
                live_code = None
                refused_sends += 1
        guess = call(
            server,
            "POST",
            VERIFY_CODE,
            {"phone": phone, "code": wrong_guess(live_code, counter)},
            forwarded_for=random_public_ip(),
        )
        answers[f"{guess.status} {guess.code}"] += 1
        assert guess.status in {400, 429}, guess.body
        if guess.code == "otp_invalid":
            checked += 1
        elif guess.status == 429:
            assert_limited(guess, "otp_attempts_exceeded")
            # A 429 to a guess at a live code consumed it (burned or locked): it was checked.
            checked += live_code is not None
            live_code = None
        else:
            assert guess.code == "otp_expired", guess.body
            live_code = None

    right_code = call(server, "POST", VERIFY_CODE, {"phone": phone, "code": last_code})
    new_code = call(server, "POST", REQUEST_CODE, {"phone": phone})

    assert checked == FAILURES_PER_DAY, answers
    assert answers["200 None"] == 0
    assert assert_limited(right_code, "otp_attempts_exceeded") > 3600
    assert assert_limited(new_code, "otp_attempts_exceeded") > 3600
    # A locked phone gets no SMS: only the codes sent before the lock went out.
    assert sms_sent(server) - sms_before == sends
    figures.append(
        f"abuse brute force: {GUESSES} guesses with {sends + refused_sends} resend requests "
        f"from rotating addresses; {checked} guesses checked (cap {FAILURES_PER_DAY}), "
        f"{sends} codes sent, {refused_sends} sends refused, 0 logins; the right code "
        f"afterwards: {right_code.status} {right_code.code}"
    )


# --- send limits and client addresses ------------------------------------------------------


def test_many_phones_from_one_address_stop_at_the_per_ip_limit(servers, figures):
    server = servers["direct"]
    client = random_loopback()

    sent = [
        call(server, "POST", REQUEST_CODE, {"phone": random_phone()}, source=client)
        for _ in range(SENDS_PER_IP + 5)
    ]
    other_client = call(
        server, "POST", REQUEST_CODE, {"phone": random_phone()}, source=random_loopback()
    )

    assert [answer.status for answer in sent[:SENDS_PER_IP]] == [200] * SENDS_PER_IP
    for answer in sent[SENDS_PER_IP:]:
        assert_limited(answer, "throttled")
    assert other_client.status == 200
    figures.append(
        f"abuse per-IP: {len(sent)} phones from one address, "
        f"{sum(a.status == 200 for a in sent)} codes sent (limit {SENDS_PER_IP})"
    )


def test_without_trusted_proxies_rotating_x_forwarded_for_does_not_bypass_the_ip_limit(
    servers, figures
):
    server = servers["direct"]
    client = random_loopback()
    for _ in range(SENDS_PER_IP):
        assert (
            call(server, "POST", REQUEST_CODE, {"phone": random_phone()}, source=client).status
            == 200
        )

    rotated = [
        call(
            server,
            "POST",
            REQUEST_CODE,
            {"phone": random_phone()},
            source=client,
            forwarded_for=forwarded,
        )
        for forwarded in [
            random_public_ip(),
            random_public_ip(),
            f"{random_public_ip()}, {random_public_ip()}",
            "127.0.0.1",
            "unknown",
        ]
    ]

    for answer in rotated:
        assert_limited(answer, "throttled")
    figures.append(
        f"abuse X-Forwarded-For without a proxy: {len(rotated)} rotated values after the limit, "
        f"{sum(a.status == 200 for a in rotated)} got through"
    )


def test_behind_one_proxy_each_forwarded_client_has_its_own_limit(servers):
    server = servers["proxied"]
    client, other = random_public_ip(), random_public_ip()

    first = [
        call(server, "POST", REQUEST_CODE, {"phone": random_phone()}, forwarded_for=client)
        for _ in range(SENDS_PER_IP + 1)
    ]
    second = call(server, "POST", REQUEST_CODE, {"phone": random_phone()}, forwarded_for=other)

    assert [answer.status for answer in first[:SENDS_PER_IP]] == [200] * SENDS_PER_IP
    assert_limited(first[SENDS_PER_IP], "throttled")
    assert second.status == 200


def test_behind_one_proxy_only_the_last_hop_counts(servers, figures):
    server = servers["proxied"]
    client = random_public_ip()
    for _ in range(SENDS_PER_IP):
        sent = call(server, "POST", REQUEST_CODE, {"phone": random_phone()}, forwarded_for=client)
        assert sent.status == 200, sent.body

    # The client claims other addresses in front of the one the trusted proxy appended.
    spoofed = [
        call(
            server,
            "POST",
            REQUEST_CODE,
            {"phone": random_phone()},
            forwarded_for=f"{claimed}, {client}",
        )
        for claimed in ["1.2.3.4", "5.6.7.8", random_public_ip(), "127.0.0.1"]
    ]
    # The same client's address as a claim, in front of a new last hop: a new client.
    moved = call(
        server,
        "POST",
        REQUEST_CODE,
        {"phone": random_phone()},
        forwarded_for=f"{client}, {random_public_ip()}",
    )

    for answer in spoofed:
        assert_limited(answer, "throttled")
    assert moved.status == 200
    figures.append(
        f"abuse spoofed multi-hop X-Forwarded-For: {len(spoofed)} tries, "
        f"{sum(a.status == 200 for a in spoofed)} got through"
    )


def test_one_phone_from_many_addresses_stops_at_the_per_phone_limit(servers, figures):
    server = servers["proxied"]
    phone = random_phone()

    sent = [
        call(server, "POST", REQUEST_CODE, {"phone": phone}, forwarded_for=random_public_ip())
        for _ in range(SENDS_PER_PHONE + 5)
    ]

    assert [answer.status for answer in sent[:SENDS_PER_PHONE]] == [200] * SENDS_PER_PHONE
    for answer in sent[SENDS_PER_PHONE:]:
        assert_limited(answer, "throttled")
    figures.append(
        f"abuse per-phone: {len(sent)} requests for one phone from {len(sent)} addresses, "
        f"{sum(a.status == 200 for a in sent)} codes sent (limit {SENDS_PER_PHONE}/hour)"
    )


# --- invite codes --------------------------------------------------------------------------


def test_guessing_invite_codes_is_throttled_after_the_hourly_failure_limit(servers, figures):
    server = servers["brute"]
    guesser = login(server)
    owner = login(server)
    token = guesser["access"]

    answers = [
        call(server, "POST", ACTIVATE, {"invite_code": random_invite_code()}, token=token)
        for _ in range(INVITE_GUESSES)
    ]
    real_code = call(
        server, "POST", ACTIVATE, {"invite_code": owner["user"]["invite_code"]}, token=token
    )
    malformed = call(server, "POST", ACTIVATE, {"invite_code": "ABC"}, token=token)
    profile = call(server, "GET", PROFILE, token=token)

    codes = [answer.code for answer in answers]
    assert codes[:INVITE_FAILURES_PER_HOUR] == ["invite_code_not_found"] * INVITE_FAILURES_PER_HOUR
    for answer in answers[INVITE_FAILURES_PER_HOUR:]:
        assert 1 <= assert_limited(answer, "throttled") <= 3600
    # Throttled comes before every other answer but validation_error (API.md, activate).
    assert_limited(real_code, "throttled")
    assert malformed.status == 400
    assert malformed.code == "validation_error"
    assert profile.body["activated_invite_code"] is None
    figures.append(
        f"abuse invite guessing: {INVITE_GUESSES} wrong codes, "
        f"{codes.count('invite_code_not_found')} checked (limit {INVITE_FAILURES_PER_HOUR}/hour), "
        f"{codes.count('throttled')} throttled; a real code while throttled: "
        f"{real_code.status} {real_code.code}"
    )


# --- one user, another user's data -----------------------------------------------------------


def test_a_user_never_reads_or_changes_another_users_data(servers, figures):
    server = servers["brute"]
    alice, bob, carol, dave = (login(server) for _ in range(4))
    a, b = alice["access"], bob["access"]
    foreign = {"id": bob["user"]["id"], "user_id": bob["user"]["id"], "phone": bob["user"]["phone"]}
    attempts = 0

    # The profile is the caller's, whatever the query string names.
    for token, own in [(a, alice), (b, bob)]:
        assert call(server, "GET", PROFILE, token=token).body == own["user"]
    for query in [foreign, {"pk": bob["user"]["id"]}, {"user": bob["user"]["phone"]}]:
        attempts += 1
        assert call(server, "GET", f"{PROFILE}?{urlencode(query)}", token=a).body == alice["user"]

    # Activation changes the caller only, whatever the body names.
    activated = call(
        server,
        "POST",
        ACTIVATE,
        {"invite_code": alice["user"]["invite_code"], **foreign},
        token=carol["access"],
    )
    attempts += 1
    assert activated.status == 200, activated.body
    assert activated.body["id"] == carol["user"]["id"]
    assert activated.body["activated_invite_code"] == alice["user"]["invite_code"]
    assert call(server, "GET", PROFILE, token=b).body == bob["user"]
    assert (
        call(
            server,
            "POST",
            ACTIVATE,
            {"invite_code": alice["user"]["invite_code"]},
            token=dave["access"],
        ).status
        == 200
    )

    # Referrals: only the caller's own, also with another user's cursor or a query naming them.
    alice_page = call(server, "GET", f"{REFERRALS}?page_size=1", token=a).body
    assert alice_page["count"] == 2
    assert alice_page["results"][0]["phone"] == dave["user"]["phone"]
    assert alice_page["next"]
    alice_cursor = urlsplit(alice_page["next"]).query
    for query in [f"?{alice_cursor}", f"?{urlencode(foreign)}", f"?user_id={alice['user']['id']}"]:
        attempts += 1
        page = call(server, "GET", f"{REFERRALS}{query}", token=b)
        assert page.status in {200, 400}, page.body
        if page.status == 200:
            assert page.body["results"] == []
            assert page.body["count"] == 0
    assert call(server, "GET", PROFILE, token=b).body["referrals_count"] == 0

    # Logout with another user's refresh token is refused and revokes nothing.
    attempts += 1
    refused = call(server, "POST", LOGOUT, {"refresh": bob["refresh"]}, token=a)
    assert refused.status == 400
    assert refused.body == {
        "code": "validation_error",
        "message": "The refresh token is not valid for this user.",
        "errors": {"refresh": ["The refresh token is not valid for this user."]},
    }
    rotated = call(server, "POST", REFRESH, {"refresh": bob["refresh"]})
    assert rotated.status == 200, rotated.body

    # A refresh token stays bound to its user: what it yields is that user's, nobody else's.
    alice_rotated = call(server, "POST", REFRESH, {"refresh": alice["refresh"]})
    assert (
        call(server, "GET", PROFILE, token=alice_rotated.body["access"]).body["id"]
        == alice["user"]["id"]
    )
    assert (
        call(server, "GET", PROFILE, token=rotated.body["access"]).body["id"] == bob["user"]["id"]
    )
    attempts += 1
    cross = call(
        server,
        "POST",
        LOGOUT,
        {"refresh": alice_rotated.body["refresh"]},
        token=rotated.body["access"],
    )
    assert cross.status == 400
    assert call(server, "POST", REFRESH, {"refresh": alice_rotated.body["refresh"]}).status == 200
    figures.append(f"abuse cross-user: {attempts} attempts on another user's data, 0 got through")
