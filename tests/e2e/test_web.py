"""The web interface in a real browser (Debian's Chromium driven by Playwright), live server.

A new user signs up through a share link, sees the profile with the activated code, is refused
activations in words, pages through referrals and signs out: in English and in Russian, with
JavaScript and without it. Every page is checked with axe-core (the npm package pinned in
tests/e2e/axe/package-lock.json) for serious or critical violations, every page must keep to its
Content-Security-Policy (the browser reports any breach on the console), and nothing is loaded
from another host. Screenshots go to `$E2E_ARTIFACTS_DIR` (default /tmp/referral-e2e-artifacts).
"""

import contextlib
import fcntl
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.browser import TIMEOUT_MS
from tests.e2e.client import REQUEST_CODE, VERIFY_CODE, call, random_phone
from tests.e2e.live import PROJECT_DIR, LiveServer
from tests.login import wrong_code

pytestmark = pytest.mark.e2e

AXE_DIR = PROJECT_DIR / "tests" / "e2e" / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# `npm ci` starts by deleting node_modules: one lock for every run sharing the checkout.
NPM_LOCK = Path("/tmp/referral-axe-npm.lock")  # noqa: S108 - shared on purpose
BLOCKING_IMPACTS = {"serious", "critical"}

# What each language's pages say: the contract's labels and buttons, and the API's messages.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "locale": "en-US",
        "phone": "Phone number",
        "login_code": "Login code",
        "invite_code": "Invite code",
        "send_code": "Send code",
        "sign_in": "Sign in",
        "activate": "Activate",
        "sign_out": "Sign out",
        "older": "Older",
        "newer": "Newer",
        "copied": "Copied",
        "own": "You cannot activate your own invite code.",
        "unknown": "No user has this invite code.",
        "cycle": "This code belongs to someone you invited, directly or through others.",
        "malformed": "An invite code is 6 letters or digits, e.g. A1B2C3.",
        "wrong_code": "The code is wrong.",
    },
    "ru": {
        "locale": "ru-RU",
        "phone": "Номер телефона",
        "login_code": "Код входа",
        "invite_code": "Код приглашения",
        "send_code": "Отправить код",
        "sign_in": "Войти",
        "activate": "Активировать",
        "sign_out": "Выйти",
        "older": "Старше",
        "newer": "Новее",
        "copied": "Скопировано",
        "own": "Нельзя активировать собственный код приглашения.",
        "unknown": "Ни у кого нет такого кода приглашения.",
        "cycle": "Этот код принадлежит тому, кого пригласили вы — напрямую или через других.",
        "malformed": "Код приглашения — это 6 латинских букв или цифр, например A1B2C3.",
        "wrong_code": "Неверный код.",
    },
}


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core at the version pinned in tests/e2e/axe (`npm ci` when it is missing)."""
    with NPM_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pinned = json.loads((AXE_DIR / "package.json").read_text())["devDependencies"]["axe-core"]
        installed = AXE_DIR / "node_modules" / "axe-core" / "package.json"
        if not installed.exists() or json.loads(installed.read_text())["version"] != pinned:
            npm = shutil.which("npm")
            if npm is None:
                pytest.fail("npm is needed to install axe-core (apt-get install -y npm)")
            result = subprocess.run(
                [npm, "ci", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return AXE_SCRIPT.read_text()


@dataclass
class WebPage:
    """One browser tab with its own cookies, watched for what a page must never do."""

    page: Page
    server: LiveServer
    name: str
    artifacts_dir: Path
    axe_source: str
    texts: dict[str, str]
    javascript: bool
    external: list[str] = field(default_factory=list)
    policy_breaches: list[str] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(f"{self.server.url}{path}")

    def path(self) -> str:
        parts = urlsplit(self.page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def field(self, key: str) -> Any:
        return self.page.get_by_label(self.texts[key], exact=True)

    def button(self, key: str) -> Any:
        return self.page.get_by_role("button", name=self.texts[key], exact=True)

    def error_of(self, field_id: str) -> Any:
        """The error shown next to a field (Django renders it right after the input)."""
        return self.page.locator(f"#{field_id}_error")

    def check(self, step: str) -> None:
        """A screenshot of this step, then axe-core on the page (with JavaScript only)."""
        shot = self.artifacts_dir / f"web-{self.name}-{step}.png"
        self.page.screenshot(path=shot, full_page=True)
        if not self.javascript:
            return
        self.page.evaluate(self.axe_source)
        results = self.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        blocking = [
            f"{violation['id']} ({violation['impact']}): "
            + ", ".join(str(node["target"]) for node in violation["nodes"])
            for violation in results["violations"]
            if violation["impact"] in BLOCKING_IMPACTS
        ]
        assert blocking == [], f"axe-core on {step} ({self.path()})"
        self.audited.append(step)


@pytest.fixture
def open_tab(
    request: pytest.FixtureRequest,
    live_api: LiveServer,
    browser: Browser,
    artifacts_dir: Path,
    axe_source: str,
) -> Iterator[Callable[..., WebPage]]:
    """`open_tab(language, javascript=True)`: a fresh browser context on the live server."""
    tabs: list[tuple[WebPage, Any]] = []

    def open_tab(language: str, *, javascript: bool = True, name: str = "") -> WebPage:
        texts = TEXTS[language]
        context = browser.new_context(
            locale=texts["locale"],
            java_script_enabled=javascript,
            viewport={"width": 1100, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        if javascript:
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_api.url)
        tab = WebPage(
            page=context.new_page(),
            server=live_api,
            name=f"{language}-{name or ('js' if javascript else 'nojs')}",
            artifacts_dir=artifacts_dir,
            axe_source=axe_source,
            texts=texts,
            javascript=javascript,
        )

        def keep_local(route: Route) -> None:
            if route.request.url.startswith(f"{live_api.url}/"):
                route.continue_()
            else:
                tab.external.append(route.request.url)
                route.abort("blockedbyclient")

        def watch_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text:
                tab.policy_breaches.append(message.text)

        context.route("**/*", keep_local)
        tab.page.on("console", watch_console)
        tabs.append((tab, context))
        return tab

    yield open_tab
    for tab, context in tabs:
        # The last state, to see where a failed test stopped.
        with contextlib.suppress(PlaywrightError):
            tab.page.screenshot(path=artifacts_dir / f"{request.node.name}-{tab.name}-last.png")
        context.close()
    for tab, _ in tabs:
        assert tab.external == [], "the pages must load nothing from other hosts"
        assert tab.policy_breaches == [], "the pages must keep to their CSP"


def api_sign_up(server: LiveServer, invite_code: str | None = None) -> dict[str, Any]:
    """A user signed up through the API (as the mobile app would); returns the login body."""
    phone = random_phone()
    sent = call(server, "POST", REQUEST_CODE, {"phone": phone})
    assert sent.status == 200, sent.body
    body: dict[str, Any] = {"phone": phone, "code": sent.body["debug_code"]}
    if invite_code is not None:
        body["invite_code"] = invite_code
    login = call(server, "POST", VERIFY_CODE, body)
    assert login.status == 200, login.body
    return login.body


def web_sign_up(tab: WebPage, *, share_code: str | None = None) -> str:
    """Both sign-in steps in the browser, from a share link when given; returns the phone."""
    phone = random_phone()
    tab.open(f"/i/{share_code}/" if share_code else "/")
    if share_code:
        expect(tab.field("invite_code")).to_have_value(share_code)
    tab.field("phone").fill(phone)
    tab.button("send_code").click()
    tab.page.wait_for_url("**/sign-in/")
    if share_code:
        # Carried to step 2, where the login code spends it.
        expect(tab.field("invite_code")).to_have_value(share_code)
    code = tab.page.locator("#debug-code").inner_text()
    tab.field("login_code").fill(code)
    tab.button("sign_in").click()
    tab.page.wait_for_url("**/profile/")
    return phone


def own_code(tab: WebPage) -> str:
    return tab.page.locator("#own-code").input_value()


def refused(tab: WebPage, code: str) -> str:
    """Try to activate `code`; the words shown next to the field."""
    tab.field("invite_code").fill(code)
    tab.button("activate").click()
    tab.page.wait_for_load_state()
    return tab.error_of("id_invite_code").inner_text()


def referral_phones(tab: WebPage) -> list[str]:
    return tab.page.locator("#referrals tbody tr td:first-child").all_inner_texts()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_web_share_link_sign_up_refusals_referrals_and_sign_out(
    live_api: LiveServer, open_tab: Callable[..., WebPage], language: str
) -> None:
    texts = TEXTS[language]
    inviter = api_sign_up(live_api)["user"]

    # A new user opens a friend's share link and signs up with the code filled in.
    alice = open_tab(language, name="alice")
    alice.open(f"/i/{inviter['invite_code']}/")
    alice.check("share-link")
    alice.field("phone").fill(random_phone())
    alice.button("send_code").click()
    alice.page.wait_for_url("**/sign-in/")
    alice.check("sign-in-step-2")
    code = alice.page.locator("#debug-code").inner_text()
    alice.field("login_code").fill(wrong_code(code))
    alice.button("sign_in").click()
    expect(alice.error_of("id_code")).to_have_text(texts["wrong_code"])
    alice.check("sign-in-wrong-code")
    alice.field("login_code").fill(code)
    alice.button("sign_in").click()
    alice.page.wait_for_url("**/profile/")
    expect(alice.page.locator("#activated-code")).to_have_text(inviter["invite_code"])
    expect(alice.button("activate")).to_have_count(0)
    alice.check("profile")
    alice_code = own_code(alice)
    expect(alice.page.locator("#share-link")).to_have_value(f"{live_api.url}/i/{alice_code}/")

    # The copy button (JavaScript) puts the code on the clipboard.
    alice.page.locator("button[data-copy='own-code']").click()
    expect(alice.page.locator(".copy-status")).to_contain_text(texts["copied"])
    assert alice.page.evaluate("() => navigator.clipboard.readText()") == alice_code

    # Another new user, without an invitation, is refused activations in words.
    bob = open_tab(language, name="bob")
    web_sign_up(bob)
    bob_code = own_code(bob)
    bobs_friend = api_sign_up(live_api, invite_code=bob_code)["user"]
    assert refused(bob, bob_code) == texts["own"]
    bob.check("activation-refused")
    assert refused(bob, "ZZZZZZ") == texts["unknown"]
    assert refused(bob, "AB12") == texts["malformed"]
    assert refused(bob, bobs_friend["invite_code"]) == texts["cycle"]
    bob.field("invite_code").fill(alice_code.lower())
    bob.button("activate").click()
    expect(bob.page.locator("#activated-code")).to_have_text(alice_code)

    # Alice pages through her referrals, newest first.
    later = [api_sign_up(live_api, invite_code=alice_code)["user"]["phone"] for _ in range(2)]
    alice.open("/profile/?page_size=2")
    first_page = referral_phones(alice)
    alice.check("referrals-page-1")
    alice.page.get_by_role("link", name=texts["older"], exact=True).click()
    second_page = referral_phones(alice)
    alice.check("referrals-page-2")
    alice.page.get_by_role("link", name=texts["newer"], exact=True).click()
    assert first_page == later[::-1]
    assert len(second_page) == 1
    assert referral_phones(alice) == first_page
    assert alice.page.get_by_role("link", name=texts["newer"], exact=True).count() == 0

    # Signing out ends the session: the profile asks to sign in again.
    alice.button("sign_out").click()
    alice.page.wait_for_url(f"{live_api.url}/")
    expect(alice.button("send_code")).to_be_visible()
    alice.open("/profile/")
    assert alice.path() == "/"
    assert alice.audited == [
        "share-link",
        "sign-in-step-2",
        "sign-in-wrong-code",
        "profile",
        "referrals-page-1",
        "referrals-page-2",
    ]


def test_web_without_javascript_signs_in_and_activates(
    live_api: LiveServer, open_tab: Callable[..., WebPage]
) -> None:
    inviter = api_sign_up(live_api)["user"]
    carol = open_tab("en", javascript=False, name="carol-nojs")
    dave = open_tab("en", javascript=False, name="dave-nojs")

    web_sign_up(carol, share_code=inviter["invite_code"])
    carol.check("profile")
    web_sign_up(dave)
    dave.field("invite_code").fill(own_code(carol))
    dave.button("activate").click()
    dave.page.wait_for_load_state()
    dave.check("activated")

    expect(carol.page.locator("#activated-code")).to_have_text(inviter["invite_code"])
    # The copy buttons need the script; the read-only fields can still be selected and copied.
    expect(carol.page.locator("button[data-copy]")).to_have_count(2)
    expect(carol.page.locator("button[data-copy='own-code']")).to_be_hidden()
    expect(dave.page.locator("#activated-code")).to_have_text(own_code(carol))


def test_web_form_without_its_csrf_token_is_refused_in_words(
    open_tab: Callable[..., WebPage],
) -> None:
    tab = open_tab("en", name="csrf")
    tab.open("/")
    tab.page.locator("input[name=csrfmiddlewaretoken]").evaluate("field => field.remove()")
    tab.field("phone").fill(random_phone())

    with tab.page.expect_response(lambda response: response.request.method == "POST") as answer:
        tab.button("send_code").click()
    tab.page.wait_for_load_state()
    tab.check("csrf-refused")

    assert answer.value.status == 403
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("This form could not be accepted")
