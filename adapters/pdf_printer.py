"""Print an HTML page to PDF with Chromium, driven by Playwright for Python.

The Chromium is Debian's (``/usr/bin/chromium``, or the ``LIENTHONG_CHROMIUM`` setting),
never a browser Playwright downloads: the page is self-contained (its CSS and SVG charts
inline) and the browser is launched without background networking, so printing needs no
network. The page's ``@page`` rule sets the paper (A4 landscape for the report); Chromium
adds the page numbers in the footer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

# Flags for a headless Chromium on a machine with a closed network: without the background
# networking ones, Chromium keeps trying (and failing) to reach Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;font-family:DejaVu Sans,sans-serif">'
    'Trang <span class="pageNumber"></span>/<span class="totalPages"></span></div>'
)


class PdfPrintError(Exception):
    """Chromium is missing or could not print: the message says which, in one line."""


def chromium_executable(configured: Path | None) -> Path:
    """The configured Chromium, else ``chromium`` on the PATH (Debian's package)."""
    if configured is not None:
        if not configured.is_file():
            raise PdfPrintError(f"Chromium not found at {configured} (LIENTHONG_CHROMIUM)")
        return configured
    found = shutil.which("chromium")
    if found is None:
        raise PdfPrintError(
            "Chromium not found: install Debian's chromium package "
            "(apt-get install chromium) or set LIENTHONG_CHROMIUM to its path"
        )
    return Path(found)


def print_pdf(html: str, executable: Path) -> bytes:
    """The page as a PDF, as Chromium prints it (backgrounds on, the page's paper size)."""
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(locale="vi-VN")
                page.set_content(html, wait_until="load")
                return page.pdf(
                    print_background=True,
                    prefer_css_page_size=True,
                    display_header_footer=True,
                    header_template="<div></div>",
                    footer_template=_FOOTER,
                )
            finally:
                browser.close()
    except PlaywrightError as exc:
        first_line = (exc.message or str(exc)).strip().splitlines()[0]
        raise PdfPrintError(
            f"Chromium ({executable}) could not print the PDF: {first_line}"
        ) from exc
