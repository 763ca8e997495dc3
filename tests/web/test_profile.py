"""The profile page: own code and share link, activation, referrals by pages, rewards, stats."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from invites.services import invite_activate
from tests.factories import make_rule
from tests.invites.conftest import fresh
from tests.web.pages import Page, location
from users.models import User
from users.sightings import client_marks, sighting_record

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
INVALID_INVITE = "An invite code is 6 letters or digits, e.g. A1B2C3."


@pytest.fixture
def refer(db: None) -> Callable[..., User]:
    """`refer(referral, owner)`: the referral activates the owner's code (the real service)."""

    def refer(referral: User, owner: User, **fields) -> User:
        return invite_activate(user=fresh(referral), code=owner.invite_code, **fields)

    return refer


def profile_page(browser: Client, query: str = "") -> Page:
    return Page(browser.get(f"{reverse('web:profile')}{query}"))


def activate(browser: Client, invite_code: str) -> Page:
    return Page(browser.post(reverse("web:profile"), {"invite_code": invite_code}))


def test_profile_shows_own_code_share_link_and_the_activation_form(
    browser_for: Callable[[User], Client], user: User
) -> None:
    page = profile_page(browser_for(user))

    assert page.response.status_code == 200
    assert page.value("own-code") == user.invite_code
    assert page.value("share-link") == f"http://testserver/i/{user.invite_code}/"
    assert page.label("id_invite_code") == "Invite code"
    assert "Activate" in page.buttons()
    assert "Sign out" in page.buttons()


def test_profile_copy_buttons_wait_for_the_script_and_the_fields_are_selectable(
    browser_for: Callable[[User], Client], user: User
) -> None:
    page = profile_page(browser_for(user))

    copy_buttons = [e for e in page.elements if e.tag == "button" and "data-copy" in e.attrs]
    assert {button.attrs["data-copy"] for button in copy_buttons} == {"own-code", "share-link"}
    assert all("hidden" in button.attrs for button in copy_buttons)
    assert all("readonly" in page.attrs_of(target) for target in ("own-code", "share-link"))
    assert '<script src="/static/web/copy.js" defer></script>' in page.html


def test_profile_without_session_goes_to_sign_in(browser: Client) -> None:
    response = browser.get(reverse("web:profile"))

    assert location(response) == (302, reverse("web:home"))


def test_activate_from_the_profile_records_the_referral(
    browser_for: Callable[[User], Client], user: User, make_user: Callable[..., User]
) -> None:
    owner = make_user()
    browser = browser_for(user)

    response = browser.post(
        reverse("web:profile"), {"invite_code": f" {owner.invite_code.lower()} "}
    )
    page = profile_page(browser)

    assert location(response) == (302, reverse("web:profile"))
    assert fresh(user).referred_by == owner
    assert fresh(owner).referrals_count == 1
    assert page.text_of("activated-code") == owner.invite_code
    assert "Activate" not in page.buttons()


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("unknown", 400, "No user has this invite code."),
        ("own", 400, "You cannot activate your own invite code."),
        ("cycle", 400, "This code belongs to someone you invited, directly or through others."),
        ("malformed", 400, INVALID_INVITE),
        ("blank", 400, "This field is required."),
    ],
)
def test_activate_refusal_is_shown_in_words_next_to_the_field(
    browser_for: Callable[[User], Client],
    user: User,
    make_user: Callable[..., User],
    refer: Callable[..., User],
    case: str,
    status: int,
    message: str,
) -> None:
    invited = make_user()
    refer(invited, user)
    codes = {
        "unknown": "ZZZZZZ",
        "own": user.invite_code,
        "cycle": invited.invite_code,
        "malformed": "ABC",
        "blank": " ",
    }

    page = activate(browser_for(user), codes[case])

    assert page.response.status_code == status
    assert page.field_errors("invite_code") == [message]
    assert fresh(user).referred_by is None


def test_activate_twice_names_the_activated_code(
    browser_for: Callable[[User], Client],
    user: User,
    make_user: Callable[..., User],
    refer: Callable[..., User],
) -> None:
    first, second = make_user(), make_user()
    refer(user, first)

    page = activate(browser_for(user), second.invite_code)

    assert page.response.status_code == 409
    assert page.form_errors() == [
        f"You have already activated the invite code {first.invite_code}."
    ]


def test_activate_too_many_unknown_codes_is_throttled_with_retry_after(
    browser_for: Callable[[User], Client], user: User, settings
) -> None:
    settings.INVITE_ACTIVATE_FAILURES_PER_HOUR = 2
    browser = browser_for(user)
    activate(browser, "ZZZZZ1")
    activate(browser, "ZZZZZ2")

    page = activate(browser, "ZZZZZ3")

    assert page.response.status_code == 429
    assert int(page.response.headers["Retry-After"]) >= 1
    assert page.field_errors("invite_code") == [
        "Too many failed activation attempts. Try again later."
    ]


def referral_phones(page: Page) -> list[str]:
    return [phone for phone, _ in page.table("People you invited, newest first")]


def pager_link(page: Page, rel: str) -> str | None:
    link = next((e for e in page.elements if e.tag == "a" and e.attrs.get("rel") == rel), None)
    return None if link is None else link.attrs["href"]


def follow(browser: Client, page: Page, rel: str) -> Page:
    """Follow the pager's `prev` or `next` link (a query string and the list's anchor)."""
    link = pager_link(page, rel)
    assert link is not None, f"no {rel} link"
    return profile_page(browser, link.removesuffix("#referrals"))


def test_profile_pages_through_referrals_newest_first_with_the_api_cursor(
    browser_for: Callable[[User], Client],
    user: User,
    make_user: Callable[..., User],
    refer: Callable[..., User],
    time_machine,
) -> None:
    invited = [make_user() for _ in range(5)]
    for minutes, referral in enumerate(invited):
        time_machine.move_to(NOW + timedelta(minutes=minutes), tick=False)
        refer(referral, user)
    newest_first = [referral.phone for referral in reversed(invited)]
    browser = browser_for(user)

    first = profile_page(browser, "?page_size=2")
    second = follow(browser, first, "next")
    third = follow(browser, second, "next")
    back = follow(browser, third, "prev")

    assert referral_phones(first) == newest_first[:2]
    assert pager_link(first, "prev") is None
    assert referral_phones(second) == newest_first[2:4]
    assert referral_phones(third) == newest_first[4:]
    assert pager_link(third, "next") is None
    assert referral_phones(back) == newest_first[2:4]


def test_profile_forged_cursor_says_so_and_links_the_first_page(
    browser_for: Callable[[User], Client], user: User
) -> None:
    # A well-formed cursor whose position is no time.
    page = profile_page(browser_for(user), "?cursor=cD1ub3RhZGF0ZQ==")

    assert page.response.status_code == 200
    assert "This cursor is not valid." in page.form_errors()[0]
    assert 'href="/profile/#referrals"' in page.html


def test_profile_shows_the_balance_and_latest_entries_held_ones_as_pending(
    browser_for: Callable[[User], Client],
    user: User,
    make_user: Callable[..., User],
    refer: Callable[..., User],
) -> None:
    make_rule(referrer_amount=100, referee_amount=50, unit="points")
    marks = client_marks(ip="192.0.2.10", device_id=None)
    sighting_record(user=user, marks=marks, at=datetime.now(UTC))
    held, other = make_user(), make_user()
    refer(held, user, marks=marks)
    refer(other, user)

    page = profile_page(browser_for(user))

    assert page.table("Balance") == [["points", "100", "100", "0"]]
    entries = [row[1:] for row in page.table("Latest entries")]
    assert entries == [
        [f"for inviting ({other.phone})", "100 points", "credited"],
        [f"for inviting ({held.phone})", "100 points", "pending"],
    ]


def test_profile_stats_chart_draws_thirty_days(
    browser_for: Callable[[User], Client],
    user: User,
    make_user: Callable[..., User],
    refer: Callable[..., User],
) -> None:
    for _ in range(3):
        refer(make_user(), user)

    page = profile_page(browser_for(user))

    bars = [e for e in page.elements if e.tag == "rect"]
    assert len(bars) == 30
    assert [bar.attrs["height"] for bar in bars[-1:]] == ["120"]
    assert all(bar.attrs["height"] == "1" for bar in bars[:-1])
    assert page.text_of("chart-title") == "3 referrals in the last 30 days, per day"


@pytest.mark.parametrize(("is_staff", "links"), [(True, 1), (False, 0)])
def test_profile_links_the_admin_for_staff_only(
    browser_for: Callable[[User], Client],
    make_user: Callable[..., User],
    is_staff: bool,
    links: int,
) -> None:
    page = profile_page(browser_for(make_user(is_staff=is_staff)))

    assert page.html.count('href="/admin/"') == links


def test_profile_query_budget(
    browser_for: Callable[[User], Client],
    user: User,
    make_user: Callable[..., User],
    refer: Callable[..., User],
    django_assert_max_num_queries,
) -> None:
    make_rule()
    for _ in range(3):
        refer(make_user(), user)
    browser = browser_for(user)

    with django_assert_max_num_queries(7):
        response = browser.get(reverse("web:profile"))

    assert response.status_code == 200
