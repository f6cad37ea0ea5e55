"""Fixtures of the end-to-end tests that drive the console in a real browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser import Visit, launch, open_visit
from tests.servers import RunningServer


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module."""
    yield from launch()


@pytest.fixture
def visit(browser: Browser, server: RunningServer) -> Iterator[Visit]:
    """A fresh browser context on the shared server; fails the test on any console error."""
    yield from open_visit(browser, server)
