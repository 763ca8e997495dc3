"""What keeps the pages safe: CSRF on every form, the headers, and no other user's data."""

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from invites.services import invite_activate
from tests.factories import make_rule
from tests.invites.conftest import fresh
from tests.login import PHONE, sent_code
from tests.web.pages import Page, location, web_log_in
from users.models import User
from users.sms import SmsMessage
from web.middleware import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db


def csrf_browser(user: User | None = None) -> Client:
    browser = Client(enforce_csrf_checks=True)
    if user is not None:
        browser.force_login(user)
    return browser


def csrf_token(browser: Client, path: str) -> str:
    """The token a page's form carries (as a browser would send it back)."""
    page = Page(browser.get(path))
    field = next(e for e in page.elements if e.attrs.get("name") == "csrfmiddlewaretoken")
    return field.attrs["value"]


def test_send_code_without_csrf_token_is_refused_and_sends_nothing(
    outbox: list[SmsMessage],
) -> None:
    browser = csrf_browser()

    page = Page(browser.post(reverse("web:home"), {"phone": PHONE}))

    assert page.response.status_code == 403
    assert "This form could not be accepted" in page.text
    assert page.response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert outbox == []


def test_sign_in_without_csrf_token_is_refused(outbox: list[SmsMessage]) -> None:
    browser = csrf_browser()
    token = csrf_token(browser, reverse("web:home"))
    browser.post(reverse("web:home"), {"phone": PHONE, "csrfmiddlewaretoken": token})

    response = browser.post(reverse("web:sign-in"), {"code": sent_code(outbox)})

    assert response.status_code == 403
    assert not User.objects.filter(phone=PHONE).exists()


def test_activate_without_csrf_token_is_refused(user: User, make_user: Callable[..., User]) -> None:
    owner = make_user()

    response = csrf_browser(user).post(reverse("web:profile"), {"invite_code": owner.invite_code})

    assert response.status_code == 403
    assert fresh(user).referred_by is None


def test_sign_out_without_csrf_token_is_refused(user: User) -> None:
    browser = csrf_browser(user)

    response = browser.post(reverse("web:sign-out"))

    assert response.status_code == 403
    assert browser.get(reverse("web:profile")).status_code == 200


def test_forms_with_their_csrf_token_work(outbox: list[SmsMessage], make_user) -> None:
    owner = make_user()
    browser = csrf_browser()
    token = csrf_token(browser, reverse("web:home"))

    sent = browser.post(reverse("web:home"), {"phone": PHONE, "csrfmiddlewaretoken": token})
    token = csrf_token(browser, reverse("web:sign-in"))
    signed_in = browser.post(
        reverse("web:sign-in"), {"code": sent_code(outbox), "csrfmiddlewaretoken": token}
    )
    token = csrf_token(browser, reverse("web:profile"))
    activated = browser.post(
        reverse("web:profile"), {"invite_code": owner.invite_code, "csrfmiddlewaretoken": token}
    )
    token = csrf_token(browser, reverse("web:profile"))
    signed_out = browser.post(reverse("web:sign-out"), {"csrfmiddlewaretoken": token})

    assert [sent.status_code, signed_in.status_code, activated.status_code] == [302, 302, 302]
    assert signed_out.status_code == 302
    assert User.objects.get(phone=PHONE).referred_by == owner


@pytest.mark.parametrize("name", ["home", "profile", "share"])
def test_pages_send_a_strict_csp_no_framing_and_no_caching(
    browser_for: Callable[[User], Client], user: User, name: str
) -> None:
    args = [user.invite_code] if name == "share" else []
    browser = browser_for(user) if name == "profile" else Client()

    response = browser.get(reverse(f"web:{name}", args=args))

    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "no-store" in response.headers["Cache-Control"]


def test_pages_have_no_inline_script_or_style(
    browser_for: Callable[[User], Client], user: User
) -> None:
    for response in (Client().get(reverse("web:home")), browser_for(user).get("/profile/")):
        page = Page(response)

        scripts = [e for e in page.elements if e.tag == "script"]
        assert scripts
        assert all(script.attrs.get("src") for script in scripts)
        assert not [e for e in page.elements if e.tag == "style" or "style" in e.attrs]
        assert not [e for e in page.elements if any(a.startswith("on") for a in e.attrs)]


def test_api_responses_carry_no_page_policy(auth_client) -> None:
    response = auth_client.get(reverse("invites:profile-detail"))

    assert response.status_code == 200
    assert "Content-Security-Policy" not in response.headers


def test_profile_shows_only_the_signed_in_users_data(
    browser_for: Callable[[User], Client], make_user: Callable[..., User]
) -> None:
    make_rule()
    me, other = make_user(), make_user()
    mine, theirs = make_user(), make_user()
    invite_activate(user=mine, code=me.invite_code)
    invite_activate(user=theirs, code=other.invite_code)

    page = Page(browser_for(me).get(reverse("web:profile")))

    assert me.phone in page.text
    assert mine.phone in page.text
    for secret in (other.phone, other.invite_code, theirs.phone, theirs.invite_code):
        assert secret not in page.html


def test_pending_sign_in_belongs_to_its_own_browser(outbox: list[SmsMessage]) -> None:
    first, second = Client(), Client()
    first.post(reverse("web:home"), {"phone": PHONE})

    response = second.get(reverse("web:sign-in"))
    signed_in = second.post(reverse("web:sign-in"), {"code": sent_code(outbox)})

    assert location(response) == (302, reverse("web:home"))
    assert location(signed_in) == (302, reverse("web:home"))
    assert not User.objects.filter(phone=PHONE).exists()


def test_signing_in_as_someone_else_replaces_the_whole_session(
    outbox: list[SmsMessage], make_user: Callable[..., User]
) -> None:
    other = make_user()
    browser = Client()
    browser.force_login(other)

    web_log_in(browser, outbox, PHONE)

    page = Page(browser.get(reverse("web:profile")))
    assert PHONE in page.text
    assert other.phone not in page.html
