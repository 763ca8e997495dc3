"""A send decided one hash slot at a time (users/otp.py): each limit reserves in its own slot,
the code is stored once all hold, and a refused send releases what it reserved. Exact under
concurrency, and nothing counted for a send that did not happen. The suite runs them on one
Redis; scripts/topologies.sh runs them on Sentinel and on a Redis Cluster too."""

import pytest
from rest_framework.test import APIClient

from referral_api import redis_store
from referral_api.error_codes import ErrorCode
from tests.concurrency import run_concurrently
from tests.login import PHONE, request_code

THREADS = 16
UNAVAILABLE = {
    "code": ErrorCode.SERVICE_UNAVAILABLE,
    "message": "The service is temporarily unavailable. Try again shortly.",
    "errors": {},
}


def send(phone: str, address: str) -> int:
    return int(request_code(APIClient(), phone, REMOTE_ADDR=address).status_code)


@pytest.mark.django_db(transaction=True)
def test_request_code_concurrent_sends_to_one_phone_stop_at_its_hourly_limit(settings, outbox):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    settings.OTP_SENDS_PER_PHONE_PER_HOUR = 3

    statuses = run_concurrently(THREADS, lambda index: send(PHONE, f"10.0.0.{index}"))

    assert sorted(statuses) == [200] * 3 + [429] * (THREADS - 3)
    assert len(outbox) == 3


@pytest.mark.django_db(transaction=True)
def test_request_code_concurrent_sends_from_one_address_stop_at_its_hourly_limit(settings, outbox):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 5

    statuses = run_concurrently(THREADS, lambda index: send(f"+7999000{index:04d}", "10.0.0.1"))

    assert sorted(statuses) == [200] * 5 + [429] * (THREADS - 5)
    assert len(outbox) == 5


@pytest.mark.django_db(transaction=True)
def test_request_code_concurrent_sends_against_every_limit_never_exceed_one(settings, outbox):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    settings.OTP_SENDS_PER_PHONE_PER_HOUR = 2
    settings.OTP_SENDS_PER_IP_PER_HOUR = 3
    settings.OTP_SENDS_PER_PREFIX_PER_HOUR = 5
    # 4 phones of one number range, each from 4 addresses: every limit binds somewhere.
    pairs = [(f"+799955500{index % 4:02d}", f"10.0.0.{index // 4}") for index in range(THREADS)]

    statuses = run_concurrently(THREADS, lambda index: send(*pairs[index]))

    sent = [pair for pair, status in zip(pairs, statuses, strict=True) if status == 200]
    assert set(statuses) <= {200, 429}
    assert 1 <= len(sent) <= 5
    assert all(sum(phone == sent_phone for sent_phone, _ in sent) <= 2 for phone, _ in pairs)
    assert all(sum(ip == sent_ip for _, sent_ip in sent) <= 3 for _, ip in pairs)
    assert sorted(sms.phone for sms in outbox) == sorted(phone for phone, _ in sent)


@pytest.mark.django_db
def test_request_code_refused_by_the_address_limit_leaves_the_phone_uncounted(settings, outbox):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1
    assert send("+79990000001", "10.0.0.1") == 200

    refused = send(PHONE, "10.0.0.1")
    elsewhere = send(PHONE, "10.0.0.2")

    assert refused == 429
    # Not in its cooldown: the refused send's reservation in the phone's window was released.
    assert elsewhere == 200
    assert [sms.phone for sms in outbox] == ["+79990000001", PHONE]


@pytest.mark.django_db
def test_request_code_refused_by_the_prefix_limit_leaves_phone_and_address_uncounted(
    settings, outbox
):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1
    settings.OTP_SENDS_PER_PREFIX_PER_HOUR = 1
    assert send("+79995550001", "10.0.0.1") == 200

    refused = send("+79995550002", "10.0.0.2")
    settings.OTP_SENDS_PER_PREFIX_PER_HOUR = 0
    retried = send("+79995550002", "10.0.0.2")

    assert refused == 429
    # Neither the address's window (1 a hour) nor the phone's cooldown counted the refusal.
    assert retried == 200
    assert [sms.phone for sms in outbox] == ["+79995550001", "+79995550002"]


@pytest.mark.django_db
def test_request_code_reservation_lost_before_the_code_is_unavailable_and_sends_nothing(
    api_client, settings, outbox, monkeypatch
):
    settings.OTP_SENDS_PER_IP_PER_HOUR = 1
    run_script = redis_store.run_script

    def losing_the_phone_reservation(source, *, keys, args, durable=False):
        if keys[0].endswith(":code"):  # storing the code: a failover lost the reservation
            redis_store.connection().delete(keys[1])
        return run_script(source, keys=keys, args=args, durable=durable)

    monkeypatch.setattr(redis_store, "run_script", losing_the_phone_reservation)
    response = request_code(api_client, PHONE, REMOTE_ADDR="10.0.0.1")
    monkeypatch.undo()

    assert response.status_code == 503
    assert response.json() == UNAVAILABLE
    assert outbox == []
    # The address's reservation was released: its one send of the hour is still there.
    assert send(PHONE, "10.0.0.1") == 200
