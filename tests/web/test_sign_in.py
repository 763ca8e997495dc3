"""Signing in on the web pages: two steps on the API's services, with the API's rules and words.

The rules themselves (limits, invite code before login code, …) are the services' and are tested
in tests/users and tests/invites; these tests show that the pages use them and say what they say.
"""

from collections.abc import Callable

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tests.login import PHONE, sent_code, wrong_code
from tests.web.pages import Page, location, send_code, sign_in, web_log_in
from users.models import Sighting, User
from users.sightings import client_marks
from users.sms import SmsMessage

pytestmark = pytest.mark.django_db

INVALID_PHONE = "Enter a valid phone number in international format, e.g. +79991234567."
INVALID_INVITE = "An invite code is 6 letters or digits, e.g. A1B2C3."


def test_home_shows_the_product_the_docs_and_step_one(browser: Client) -> None:
    page = Page(browser.get(reverse("web:home")))

    assert page.response.status_code == 200
    assert 'href="/api/docs/"' in page.html
    assert 'href="/api/redoc/"' in page.html
    assert page.label("id_phone") == "Phone number"
    assert page.label("id_invite_code") == "Invite code"
    assert page.buttons() == ["Send code"]


def test_share_link_opens_sign_in_with_the_invite_code_filled_in(browser: Client) -> None:
    page = Page(browser.get(reverse("web:share", args=["k7m2p9"])))

    assert page.response.status_code == 200
    assert page.value("id_invite_code") == "K7M2P9"
    assert page.buttons() == ["Send code"]


def test_share_link_signed_in_opens_the_activation_form_filled_in(
    browser_for: Callable[[User], Client], user: User
) -> None:
    response = browser_for(user).get(reverse("web:share", args=["K7M2P9"]), follow=True)

    assert response.redirect_chain == [("/profile/?invite_code=K7M2P9#activate", 302)]
    assert Page(response).value("id_invite_code") == "K7M2P9"


def test_sign_in_new_phone_through_share_link_creates_the_user_with_the_code_activated(
    browser: Client, outbox: list[SmsMessage], make_user: Callable[..., User]
) -> None:
    owner = make_user()
    browser.get(reverse("web:share", args=[owner.invite_code]))

    sent = send_code(browser, "+7 999 123-45-67", invite_code=owner.invite_code.lower())
    step_two = Page(browser.get(reverse("web:sign-in")))
    prefilled = step_two.value("id_invite_code") or ""
    response = sign_in(browser, sent_code(outbox), invite_code=prefilled)

    assert location(sent) == (302, reverse("web:sign-in"))
    assert "+79991234567" in step_two.text
    assert step_two.label("id_code") == "Login code"
    assert step_two.value("id_invite_code") == owner.invite_code
    assert step_two.buttons() == ["Sign in"]
    assert location(response) == (302, reverse("web:profile"))
    user = User.objects.get(phone=PHONE)
    assert user.referred_by == owner
    assert browser.session["_auth_user_id"] == str(user.pk)
    profile = Page(browser.get(reverse("web:profile")))
    assert profile.text_of("activated-code") == owner.invite_code


def test_sign_in_existing_user_finds_the_same_user(
    browser: Client, outbox: list[SmsMessage], make_user: Callable[..., User]
) -> None:
    user = make_user(phone=PHONE)

    web_log_in(browser, outbox, PHONE)

    assert browser.session["_auth_user_id"] == str(user.pk)
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"phone": "12345"}, "phone", INVALID_PHONE),
        ({"phone": ""}, "phone", "This field is required."),
        ({"phone": "+79991234567", "invite_code": "ABC"}, "invite_code", INVALID_INVITE),
    ],
)
def test_send_code_invalid_input_shows_the_api_message_next_to_its_field(
    browser: Client, outbox: list[SmsMessage], fields: dict[str, str], field: str, message: str
) -> None:
    page = Page(browser.post(reverse("web:home"), fields))

    assert page.response.status_code == 400
    assert page.field_errors(field) == [message]
    assert outbox == []


def test_send_code_again_too_soon_shows_the_cooldown_next_to_the_phone(
    browser: Client, outbox: list[SmsMessage]
) -> None:
    send_code(browser, PHONE)

    page = Page(send_code(browser, PHONE))

    assert page.response.status_code == 429
    assert int(page.response.headers["Retry-After"]) >= 1
    assert page.field_errors("phone") == [
        "A code was sent recently. Wait before asking for another one."
    ]
    assert len(outbox) == 1


def test_sign_in_wrong_code_shows_the_api_message_next_to_the_code(
    browser: Client, outbox: list[SmsMessage]
) -> None:
    send_code(browser, PHONE)

    page = Page(sign_in(browser, wrong_code(sent_code(outbox))))

    assert page.response.status_code == 400
    assert page.field_errors("code") == ["The code is wrong."]
    assert "_auth_user_id" not in browser.session


@pytest.mark.parametrize(
    ("code", "message"),
    [("12a4", "The code is made of digits only."), ("123", "The code has 4 digits.")],
)
def test_sign_in_malformed_code_shows_the_api_message(
    browser: Client, outbox: list[SmsMessage], code: str, message: str
) -> None:
    send_code(browser, PHONE)

    page = Page(sign_in(browser, code))

    assert page.response.status_code == 400
    assert page.field_errors("code") == [message]


def test_sign_in_unknown_invite_code_is_refused_before_the_login_code(
    browser: Client, outbox: list[SmsMessage]
) -> None:
    send_code(browser, PHONE, invite_code="ZZZZZZ")
    code = sent_code(outbox)

    refused = Page(sign_in(browser, code, invite_code="ZZZZZZ"))
    accepted = sign_in(browser, code, invite_code="")

    assert refused.response.status_code == 400
    assert refused.field_errors("invite_code") == ["No user has this invite code."]
    assert refused.field_errors("code") == []
    assert accepted.status_code == 302
    assert User.objects.get(phone=PHONE).referred_by is None


def test_sign_in_disabled_account_is_refused_above_the_form(
    browser: Client, outbox: list[SmsMessage], make_user: Callable[..., User]
) -> None:
    make_user(phone=PHONE, is_active=False)
    send_code(browser, PHONE)

    page = Page(sign_in(browser, sent_code(outbox)))

    assert page.response.status_code == 403
    assert page.form_errors() == ["This account is disabled."]
    assert "_auth_user_id" not in browser.session


def test_sign_in_without_step_one_goes_back_to_it(browser: Client) -> None:
    response = browser.get(reverse("web:sign-in"))

    assert location(response) == (302, reverse("web:home"))


def test_sign_in_new_session_key_so_a_fixed_session_is_useless(
    browser: Client, outbox: list[SmsMessage]
) -> None:
    send_code(browser, PHONE)
    fixed_key = browser.session.session_key

    sign_in(browser, sent_code(outbox))

    assert browser.session.session_key != fixed_key
    assert not Session.objects.filter(session_key=fixed_key).exists()
    assert browser.session["_auth_user_id"] == str(User.objects.get(phone=PHONE).pk)


def test_sign_in_records_the_client_ip_by_the_api_rule(outbox: list[SmsMessage], settings) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    browser = Client(HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")

    web_log_in(browser, outbox, PHONE)

    user = User.objects.get(phone=PHONE)
    digests = set(Sighting.objects.filter(user=user).values_list("digest", flat=True))
    assert digests == {client_marks(ip="203.0.113.7", device_id=None).ip}


def test_sign_out_ends_the_session(browser: Client, outbox: list[SmsMessage]) -> None:
    web_log_in(browser, outbox, PHONE)
    key = browser.session.session_key

    response = browser.post(reverse("web:sign-out"))

    assert location(response) == (302, reverse("web:home"))
    assert not Session.objects.filter(session_key=key).exists()
    assert browser.get(reverse("web:profile")).status_code == 302


def test_sign_out_is_post_only(browser_for: Callable[[User], Client], user: User) -> None:
    browser = browser_for(user)

    response = browser.get(reverse("web:sign-out"))

    assert response.status_code == 405
    assert browser.get(reverse("web:profile")).status_code == 200


@pytest.mark.parametrize("exposed", [True, False])
def test_sign_in_page_shows_the_code_only_when_codes_are_exposed(
    browser: Client, outbox: list[SmsMessage], settings, exposed: bool
) -> None:
    settings.OTP_EXPOSE_CODE = exposed
    send_code(browser, PHONE)

    page = Page(browser.get(reverse("web:sign-in")))

    shown = page.text_of("debug-code") if page.by_id("debug-code") else None
    assert shown == (sent_code(outbox) if exposed else None)


def test_send_code_nul_character_is_refused_once(browser: Client, outbox: list[SmsMessage]) -> None:
    page = Page(send_code(browser, "+7999\x001234567"))

    assert page.response.status_code == 400
    assert page.field_errors("phone") == ["Null characters are not allowed."]
    assert outbox == []
