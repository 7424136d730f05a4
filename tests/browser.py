"""A real browser for tests of our web pages: Playwright for Python driving Debian's Chromium.

Playwright's own browser download is not used (this machine reaches only the package
registries): `.ci/run` installs Debian's ``chromium`` and the tests launch /usr/bin/chromium,
or the executable named by ``LIENTHONG_TEST_CHROMIUM``. The browser starts once per test module;
each test gets a fresh context (no shared cookies) and page.

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


# Module scope, not session: while Playwright's sync API is started, its event loop counts
# as running in this thread, so every later test calling asyncio.run() (or anyio's) in the
# same worker would fail with "cannot be called from a running event loop". The browser
# closes with the last test of the module that asked for it.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
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
