"""Metrics (docs/operations.md › Metrics): each moves when its fact happens, with bounded labels,
and `/metrics` answers only a scraper with the token or from an allowed address."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from invites.services import invite_activate
from referral_api.error_codes import ErrorCode
from rewards.models import RewardEntry
from rewards.services import reward_credit
from tests.factories import make_rule
from tests.invites.conftest import fresh
from tests.login import PHONE, log_in, request_code, sent_code, verify_code, wrong_code
from tests.users.provider_servers import closed_port
from tests.web.pages import send_code
from users.models import User
from users.sightings import client_marks, sighting_record
from users.sms import SmsMessage

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789abcdef"
# Every label the metrics may carry: none names a person, a code or an address.
ALLOWED_LABELS = {
    "route",
    "method",
    "status",
    "country_code",
    "result",
    "provider",
    "reason",
    "state",
    "signal",
    "limit",
    "le",
}
# Labels whose values are numbers by nature, so one may equal a user id by chance.
NUMERIC_LABELS = {"status", "le", "country_code"}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """How much a sample moved since the start of a `with` block."""

    def __init__(self, name: str, **labels: str) -> None:
        self.name, self.labels = name, labels

    def __enter__(self) -> "Delta":
        self.before = value(self.name, **self.labels)
        return self

    def __exit__(self, *exc: object) -> None:
        self.moved = value(self.name, **self.labels) - self.before


@pytest.fixture
def metrics_on(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


def scrape(client: Client | APIClient, **extra: Any) -> Any:
    return client.get(reverse("metrics"), **extra)


# ------------------------------------------------------------------------------- requests


def test_requests_are_counted_and_timed_by_route_name_method_and_status(api_client):
    labels = {"route": "healthz", "method": "GET", "status": "200"}

    with (
        Delta("referral_http_requests_total", **labels) as count,
        Delta("referral_http_request_duration_seconds_count", **labels) as timed,
    ):
        api_client.get(reverse("healthz"))
        api_client.get(reverse("healthz"))

    assert count.moved == 2
    assert timed.moved == 2


def test_request_route_is_the_pattern_name_never_the_path(api_client):
    share = {"route": "web:share", "method": "GET", "status": "200"}
    unknown = {"route": "unmatched", "method": "GET", "status": "404"}

    with (
        Delta("referral_http_requests_total", **share) as shared,
        Delta("referral_http_requests_total", **unknown) as unmatched,
    ):
        api_client.get(reverse("web:share", args=["k7m2p9"]))
        api_client.get("/no/such/path/+79991234567/")

    assert shared.moved == 1
    assert unmatched.moved == 1


def test_static_files_count_as_one_route(api_client, settings):
    static = {"route": "static", "method": "GET", "status": "404"}

    with Delta("referral_http_requests_total", **static) as counted:
        api_client.get(f"{settings.STATIC_URL}no-such-file.css")

    assert counted.moved == 1


# ------------------------------------------------------------------------------- codes


def test_codes_sent_are_counted_by_country_calling_code(api_client, outbox):
    with (
        Delta("referral_otp_codes_sent_total", country_code="7") as russia,
        Delta("referral_otp_codes_sent_total", country_code="44") as britain,
    ):
        request_code(api_client, "+79991234567")
        request_code(api_client, "+447911123456")
        request_code(api_client, "+447911123456")  # the resend cooldown: nothing sent

    assert (russia.moved, britain.moved) == (1, 1)


def test_verifications_are_counted_by_result(api_client, outbox):
    request_code(api_client)
    code = sent_code(outbox)

    with (
        Delta("referral_otp_verifications_total", result="invalid") as invalid,
        Delta("referral_otp_verifications_total", result="ok") as ok,
        Delta("referral_otp_verifications_total", result="expired") as expired,
    ):
        verify_code(api_client, PHONE, wrong_code(code))
        verify_code(api_client, PHONE, code)
        verify_code(api_client, PHONE, code)  # consumed: no valid code any more

    assert (invalid.moved, ok.moved, expired.moved) == (1, 1, 1)


def test_sms_gateway_failures_are_counted_by_provider(api_client, settings, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    settings.SMS_BACKEND = "users.sms_providers.TwilioBackend"
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{closed_port()}"
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "token"
    settings.TWILIO_FROM = "+15005550006"

    with (
        Delta(
            "referral_sms_failures_total", provider="TwilioBackend", reason="unavailable"
        ) as failed,
        Delta("referral_otp_codes_sent_total", country_code="7") as sent,
    ):
        response = request_code(api_client)

    assert response.status_code == 503
    assert (failed.moved, sent.moved) == (1, 0)


# ------------------------------------------------------------------------------- referrals


def test_a_referral_is_counted_once_committed(make_user, django_capture_on_commit_callbacks):
    owner, user = make_user(), make_user()

    with (
        Delta("referral_referrals_total") as referrals,
        django_capture_on_commit_callbacks(execute=True),
    ):
        invite_activate(user=fresh(user), code=owner.invite_code)

    assert referrals.moved == 1


def test_a_rolled_back_referral_is_not_counted(make_user, django_capture_on_commit_callbacks):
    owner, user = make_user(), make_user()

    def refer_then_fail() -> None:
        with transaction.atomic():
            invite_activate(user=fresh(user), code=owner.invite_code)
            raise RuntimeError("the caller's transaction fails after the referral")

    with (
        Delta("referral_referrals_total") as referrals,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
    ):
        refer_then_fail()

    assert referrals.moved == 0
    assert fresh(user).referred_by is None


def test_reward_entries_are_counted_by_the_state_they_enter(
    make_user, django_capture_on_commit_callbacks
):
    make_rule(referrer_amount=100, referee_amount=50, auto_credit_days=7)
    owner, user = make_user(), make_user()

    with (
        Delta("referral_reward_entries_total", state="pending") as pending,
        Delta("referral_reward_entries_total", state="credited") as credited,
        django_capture_on_commit_callbacks(execute=True),
    ):
        invite_activate(user=fresh(user), code=owner.invite_code)
        entry = RewardEntry.objects.get(user=owner)
        reward_credit(entry_id=entry.pk, staff=None)
        reward_credit(entry_id=entry.pk, staff=None)  # credited already: no move

    assert (pending.moved, credited.moved) == (2, 1)


def test_flagged_referrals_are_counted_by_signal(make_user, django_capture_on_commit_callbacks):
    make_rule(referrer_amount=100, referee_amount=50, auto_credit_days=7)
    owner, user = make_user(), make_user()
    owner_ip = "203.0.113.5"
    sighting_record(user=owner, marks=client_marks(ip=owner_ip, device_id=None), at=timezone.now())
    client = APIClient()
    client.force_authenticate(user=fresh(user))

    with (
        Delta("referral_referrals_flagged_total", signal="same_ip") as same_ip,
        Delta("referral_reward_entries_total", state="held") as held,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(
            reverse("invites:profile-activate-invite"),
            {"invite_code": owner.invite_code},
            REMOTE_ADDR=owner_ip,
        )

    assert response.status_code == 200, response.json()
    assert (same_ip.moved, held.moved) == (1, 2)


# ------------------------------------------------------------------------------- 429s


def test_api_refusals_with_429_are_counted_by_limit(api_client, outbox):
    request_code(api_client)

    with Delta("referral_throttled_total", limit=ErrorCode.OTP_COOLDOWN) as cooldown:
        response = request_code(api_client)

    assert response.status_code == 429
    assert cooldown.moved == 1


def test_send_limits_are_told_apart(api_client, outbox, settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    settings.OTP_SENDS_PER_PHONE_PER_HOUR = 1
    request_code(api_client)

    with Delta("referral_throttled_total", limit="otp_phone_limit") as phone_limit:
        response = request_code(api_client)

    assert response.status_code == 429
    assert response.json()["code"] == ErrorCode.THROTTLED
    assert phone_limit.moved == 1


def test_invite_activation_failures_limit_is_counted(user, settings):
    settings.INVITE_ACTIVATE_FAILURES_PER_HOUR = 1
    client = APIClient()
    client.force_authenticate(user=fresh(user))
    url = reverse("invites:profile-activate-invite")
    client.post(url, {"invite_code": "ZZZZZ9"})

    with Delta("referral_throttled_total", limit="invite_activation_failures") as limited:
        response = client.post(url, {"invite_code": "ZZZZZ8"})

    assert response.status_code == 429
    assert limited.moved == 1


def test_web_page_refusals_with_429_are_counted_by_limit(outbox):
    browser = Client()
    send_code(browser, PHONE)

    with Delta("referral_throttled_total", limit=ErrorCode.OTP_COOLDOWN) as cooldown:
        response = send_code(browser, PHONE)

    assert response.status_code == 429
    assert cooldown.moved == 1


# ------------------------------------------------------------------------------- labels


def test_labels_never_carry_a_phone_a_code_or_a_user_id(
    api_client: APIClient,
    outbox: list[SmsMessage],
    make_user: Callable[..., User],
    metrics_on: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    make_rule()
    owner = make_user(phone="+79990001122")
    phone = "+79995556677"
    with django_capture_on_commit_callbacks(execute=True):
        tokens = log_in(api_client, outbox, phone, invite_code=owner.invite_code)
    code = sent_code(outbox, phone)
    user = User.objects.get(phone=phone)

    text = scrape(api_client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()

    labels: list[tuple[str, str]] = [
        item
        for family in text_string_to_metric_families(text)
        if family.name.startswith("referral_")
        for sample in family.samples
        for item in sample.labels.items()
    ]
    assert labels
    assert {name for name, _ in labels} <= ALLOWED_LABELS
    secrets = [phone, phone[1:], phone[-10:], owner.phone[-10:], code, owner.invite_code]
    secrets += [tokens["access"], tokens["refresh"]]
    for name, label in labels:
        assert not any(secret in label for secret in secrets), (name, label)
        if name not in NUMERIC_LABELS:
            assert label not in {str(user.pk), str(owner.pk)}, (name, label)
        if name == "route":
            assert "/" not in label, label


# ------------------------------------------------------------------------------- access


def test_metrics_are_off_without_a_token_or_addresses(api_client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []

    response = scrape(api_client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "errors": {}}


def test_metrics_with_the_token_are_prometheus_text(api_client, metrics_on):
    response = scrape(api_client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE referral_http_requests_total counter" in response.content


def test_metrics_without_credentials_are_unauthenticated(api_client, metrics_on):
    response = scrape(api_client)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "errors": {},
    }


@pytest.mark.parametrize(
    "header", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer x", f"Basic {TOKEN}"]
)
def test_metrics_with_a_wrong_token_are_refused(api_client, metrics_on, header):
    response = scrape(api_client, HTTP_AUTHORIZATION=header)

    expected = 401 if header.startswith("Basic") else 403
    assert response.status_code == expected
    assert response.json()["code"] in {"not_authenticated", "permission_denied"}
    assert set(response.json()) == {"code", "message", "errors"}


def test_metrics_from_an_allowed_address_need_no_token(api_client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "192.0.2.7"]

    allowed = [scrape(api_client, REMOTE_ADDR=ip).status_code for ip in ("10.1.2.3", "192.0.2.7")]
    refused = scrape(api_client, REMOTE_ADDR="192.0.2.8")

    assert allowed == [200, 200]
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"


def test_metrics_address_is_the_client_behind_the_trusted_proxy(api_client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.5"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    through_proxy = scrape(api_client, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.0.0.5")
    chain = "10.0.0.5, 192.0.2.9"  # the client wrote the first hop itself
    spoofed = scrape(api_client, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=chain)

    assert through_proxy.status_code == 200
    assert spoofed.status_code == 403


def test_metrics_answer_only_get(api_client, metrics_on):
    response = api_client.post(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
