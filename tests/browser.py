"""Real Chromium for the console's tests: Playwright driving Debian's `chromium` package (its own
browser download cannot work here), and pages that fail a test on any browser console error."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.servers import RunningServer

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REFUSED = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")
# A laptop screen: every page must be usable at this width.
LAPTOP = {"width": 1366, "height": 768}


def chromium_or_skip() -> str:
    """Debian's chromium; a test needing it is skipped where it is missing, but fails on CI."""
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: apt-get install -y chromium (.ci/run does)")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


def launch() -> Iterator[Browser]:
    """One headless Chromium (Playwright gives it a fresh, temporary user-data-dir)."""
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Visit:
    """A browser context of its own (its own cookies) with the messages its pages logged."""

    page: Page
    server: RunningServer
    errors: list[str] = field(default_factory=list)
    # HTTP statuses a test provokes on purpose: Chromium logs each refused page load as an error.
    refusals: set[int] = field(default_factory=set)

    def expect_refusals(self, *statuses: int) -> None:
        self.refusals.update(statuses)

    def url(self, path: str) -> str:
        return self.server.url + path

    def sign_in(self, token: str | None = None) -> None:
        """Sign in with a token through the sign-in form, as a person does."""
        self.page.goto(self.url("/console/"))
        self.page.get_by_label("Token", exact=True).fill(token or self.server.token)
        self.page.get_by_role("button", name="Sign in", exact=True).click()
        self.page.wait_for_url(lambda url: "/sign-in" not in url)

    def run(self, project: str, function_id: int, data: str) -> None:
        """Run a function from its page with `data` typed as JSON; its call's page opens."""
        self.page.goto(self.url(f"/console/p/{project}/functions/{function_id}"))
        self.page.get_by_label("Input data (JSON)").fill(data)
        self.page.get_by_role("button", name="Run").click()
        self.page.wait_for_url("**/calls/*")

    def csrf_token(self) -> str:
        value = self.page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert value
        return value


def open_visit(browser: Browser, server: RunningServer) -> Iterator[Visit]:
    """A fresh context and page; at the end, no error may have reached the browser console."""
    context = browser.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
    page = context.new_page()
    visit = Visit(page, server)

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        refused = REFUSED.search(message.text)
        if refused and int(refused.group(1)) in visit.refusals:
            return
        visit.errors.append(f"console: {message.text} at {message.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: visit.errors.append(f"page error: {error}"))
    try:
        yield visit
    finally:
        context.close()
    assert visit.errors == [], "the browser logged errors"
