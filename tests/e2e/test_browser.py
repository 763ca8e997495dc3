"""Swagger UI and ReDoc in a real browser (Debian's Chromium driven by Playwright), live server.

API.md promises both pages with local assets only, so every request a page makes is recorded;
requests to any other host are refused (the test stays offline and fast) and fail the test, unless
the page's own Content-Security-Policy stopped them inside the browser (they never leave it).
Screenshots go to `$E2E_ARTIFACTS_DIR` (default /tmp/referral-e2e-artifacts); the browser
fixtures are in conftest.py.
"""

import contextlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from playwright.sync_api import Browser, Locator, Page, Request, Route
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.browser import TIMEOUT_MS
from tests.e2e.live import PROJECT_DIR, LiveServer

pytestmark = pytest.mark.e2e

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Schemes that never reach the network.
IN_PAGE_SCHEMES = {"data", "blob", "about"}


@dataclass
class PageRequests:
    """Every URL the page asked for; those that would leave the live server are refused."""

    origin: str
    urls: list[str] = field(default_factory=list)
    blocked_by_csp: set[str] = field(default_factory=set)

    def is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in IN_PAGE_SCHEMES:
            return True
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def external(self) -> list[str]:
        return [
            url for url in self.urls if not self.is_local(url) and url not in self.blocked_by_csp
        ]

    def paths(self) -> list[str]:
        return [urlsplit(url).path for url in self.urls if self.is_local(url)]


@dataclass
class DocsPage:
    page: Page
    requests: PageRequests
    artifacts_dir: Path

    def screenshot(
        self, name: str, element: Locator | None = None, *, full_page: bool = True
    ) -> None:
        path = self.artifacts_dir / f"{name}.png"
        if element is None:
            self.page.screenshot(path=path, full_page=full_page)
        else:
            element.screenshot(path=path)


@pytest.fixture
def docs_page(
    request: pytest.FixtureRequest, live_api: LiveServer, browser: Browser, artifacts_dir: Path
) -> Iterator[DocsPage]:
    requests = PageRequests(origin=live_api.url)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)

    def record(request: Request) -> None:
        requests.urls.append(request.url)

    def record_failure(request: Request) -> None:
        if request.failure == "csp":
            requests.blocked_by_csp.add(request.url)

    def keep_local(route: Route) -> None:
        if requests.is_local(route.request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    context.on("request", record)
    context.on("requestfailed", record_failure)
    context.route("**/*", keep_local)
    page = context.new_page()
    yield DocsPage(page=page, requests=requests, artifacts_dir=artifacts_dir)
    # The last state, to see where a failed test stopped.
    with contextlib.suppress(PlaywrightError):
        page.screenshot(path=artifacts_dir / f"{request.node.name}-last.png")
    context.close()


def swagger_operations() -> set[str]:
    """Swagger UI's block ids, `operations-<tag>-<operationId>`, of every operation of the
    committed schema (docs/openapi.yaml): all of them are on the page, and nothing else."""
    schema = yaml.safe_load((PROJECT_DIR / "docs" / "openapi.yaml").read_text())
    return {
        f"operations-{operation['tags'][0]}-{operation['operationId']}"
        for path in schema["paths"].values()
        for method, operation in path.items()
        if method in HTTP_METHODS
    }


def unique_phone() -> str:
    return f"+7999{random.randrange(10_000_000):07d}"


def try_it_out(operation: Locator, body: dict[str, str] | None = None) -> tuple[int, Any]:
    """Expand an operation, "Try it out", execute it and read the rendered live response."""
    if operation.locator(".opblock-body").count() == 0:
        operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    if body is not None:
        operation.locator("textarea.body-param__text").fill(json.dumps(body))
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table tr.response")
    response.wait_for()
    status = int(response.locator(".response-col_status").inner_text())
    rendered = response.locator(".highlight-code pre").inner_text()
    return status, json.loads(rendered)


def operation_heading(page: Page, summary: str) -> Locator:
    """ReDoc's heading of an operation (an h2 with the summary and a share link)."""
    return page.locator("h2", has_text=summary)


def test_swagger_ui_signs_in_and_reads_the_profile_with_local_assets_only(
    live_api: LiveServer, docs_page: DocsPage
) -> None:
    """A client developer's first session: code, sign-in, Authorize, profile (checked per step)."""
    page = docs_page.page
    phone = unique_phone()

    page.goto(f"{live_api.url}/api/docs/")
    page.locator("#operations-auth-auth_request_code_create").wait_for()
    operation_ids = set(page.eval_on_selector_all(".opblock[id]", "els => els.map(e => e.id)"))
    docs_page.screenshot("swagger-ui")
    assert operation_ids == swagger_operations()

    request_code = page.locator("#operations-auth-auth_request_code_create")
    status, sent = try_it_out(request_code, {"phone": phone})
    docs_page.screenshot("swagger-ui-request-code", request_code)
    assert status == 200, sent
    assert sent["phone"] == phone
    assert sent["debug_code"].isdigit()

    verify_code = page.locator("#operations-auth-auth_verify_code_create")
    status, login = try_it_out(verify_code, {"phone": phone, "code": sent["debug_code"]})
    docs_page.screenshot("swagger-ui-verify-code", verify_code)
    assert status == 200, login
    assert login["is_new_user"] is True

    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.locator("#auth-bearer-value").fill(login["access"])
    dialog.get_by_role("button", name="Apply credentials").click()
    dialog.get_by_text("Authorized", exact=True).wait_for()
    docs_page.screenshot("swagger-ui-authorized", dialog.locator(".modal-ux-inner"))
    dialog.get_by_role("button", name="Close").click()

    profile = page.locator("#operations-profile-profile_retrieve")
    status, user = try_it_out(profile)
    curl = profile.locator(".curl-command").inner_text()
    docs_page.screenshot("swagger-ui-profile", profile)
    assert f"Bearer {login['access']}" in curl
    assert status == 200, user
    assert user == login["user"]
    assert user["phone"] == phone

    page.wait_for_load_state("networkidle")
    assert "/api/schema/" in docs_page.requests.paths()
    assert any(path.startswith("/static/") for path in docs_page.requests.paths())
    assert docs_page.requests.external() == [], "Swagger UI must load nothing from other hosts"


def test_redoc_renders_the_operations_with_local_assets_only(
    live_api: LiveServer, docs_page: DocsPage
) -> None:
    page = docs_page.page

    page.goto(f"{live_api.url}/api/redoc/")
    send_code = operation_heading(page, "Send a login code by SMS")
    send_code.wait_for()
    docs_page.screenshot("redoc-top", full_page=False)
    list_referrals = operation_heading(page, "List referrals")
    list_referrals.scroll_into_view_if_needed()
    docs_page.screenshot("redoc-list-referrals", full_page=False)
    page.wait_for_load_state("networkidle")

    assert send_code.is_visible()
    assert list_referrals.is_visible()
    assert operation_heading(page, "Activate an invite code").is_visible()
    assert "/api/schema/" in docs_page.requests.paths()
    assert docs_page.requests.external() == [], "ReDoc must load nothing from other hosts"
