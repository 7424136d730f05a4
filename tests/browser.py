"""A real browser for tests of our web pages: Playwright for Python driving Debian's Chromium.

Playwright's own browser download is not used (this machine reaches only the package
registries): `.ci/run` installs Debian's ``chromium`` and the tests launch /usr/bin/chromium,
or the executable named by ``LIENTHONG_TEST_CHROMIUM``. Each test starts its own
browser (about a second) and gets a fresh context (no shared cookies) and page.

Under CI a missing Chromium fails the tests; elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from lienthong.adapters.pdf_printer import CHROMIUM_ARGS


def chromium_executable() -> Path | None:
    """Debian's Chromium, or the one ``LIENTHONG_TEST_CHROMIUM`` names."""
    named = os.environ.get("LIENTHONG_TEST_CHROMIUM") or shutil.which("chromium")
    return Path(named) if named else None


# Per test, not per session: Playwright's sync API keeps an asyncio event loop running in
# the main thread while it is started, and every async test after it would then fail
# ("Runner.run() cannot be called from a running event loop").
@pytest.fixture
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    executable = chromium_executable()
    if executable is None:
        message = "Chromium not found: install Debian's chromium or set LIENTHONG_TEST_CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    launched = playwright_driver.chromium.launch(
        executable_path=str(executable), args=CHROMIUM_ARGS
    )
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page in its own context, with Vietnamese as the browser's language."""
    context = browser.new_context(locale="vi-VN", viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()
