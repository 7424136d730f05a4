"""The report's HTML page in a real browser, and its PDF (printed by Chromium) as images.

`lienthong report --format html|pdf` on generated figures: the page opens in Chromium with
the Vietnamese headings, the table's figures and matplotlib's charts; the PDF is A4
landscape, not blank, and its text layer holds the title, the figures and the sign-off.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from playwright.sync_api import Page, expect

from lienthong.cli import report as report_command
from lienthong.models.report import MonthlyReport, Scope
from lienthong.models.report_form import (
    CHAINS,
    HEAD_OF_UNIT,
    PREPARER,
    TITLE,
    vietnamese_count,
    vietnamese_rate,
)
from lienthong.models.status import Chain
from lienthong.services.report_render import COLUMNS
from tests.browser import chromium_executable
from tests.integration.test_report import generate, run, store

A4_LANDSCAPE = (841.92, 594.96)  # points: 297 x 210 mm


def _write(database_url: str, out: Path, output: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    parser = argparse.ArgumentParser(prog="lienthong")
    report_command.register(parser.add_subparsers())
    args = parser.parse_args(
        ["report", "--month", "2025-03", "--province", "079", "--format", output, "--out", str(out)]
    )
    code: int = args.func(args)
    return code


def _birth_cells(report: MonthlyReport) -> list[str]:
    birth = report.chain_rows()[0]
    assert birth.chain == Chain.BIRTH
    counts = [vietnamese_count(getattr(birth.figures, name)) for name in COLUMNS]
    return [*counts, vietnamese_rate(birth.figures.on_time_rate)]


@pytest.fixture
def march(session_factory) -> MonthlyReport:
    store(session_factory, generate(seed=12, count=80))
    report = run(session_factory, Scope(province="079"))
    assert report.chain_rows()[0].figures.received > 0
    return report


def test_the_html_page_in_a_real_browser(
    database_url, march, page: Page, tmp_path, monkeypatch
) -> None:
    out = tmp_path / "bao-cao-2025-03.html"
    assert _write(database_url, out, "html", monkeypatch) == 0
    page.goto(out.as_uri())
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.locator("header.document")).to_contain_text("UBND TP. HỒ CHÍ MINH")
    expect(page.locator("p.period")).to_have_text(
        "Kỳ báo cáo: Tháng 03/2025 (từ ngày 01/03/2025 đến ngày 31/03/2025)"
    )
    first = page.locator("table.form tbody tr").first
    expect(first.locator("td").nth(1)).to_have_text(CHAINS[Chain.BIRTH])
    expect(first.locator("td.count")).to_have_text(["1", *_birth_cells(march)])
    expect(page.locator("table.form tbody tr")).to_have_count(len(march.rows))
    expect(page.locator(".sign-off")).to_contain_text(PREPARER)
    expect(page.locator(".sign-off")).to_contain_text(HEAD_OF_UNIT)
    # The charts are laid out with real axes: tick labels drawn, the y axis labelled.
    charts = page.locator("section.charts svg")
    expect(charts).to_have_count(2)
    expect(charts.first.locator("#xtick_31")).to_be_attached()
    assert charts.first.bounding_box()["width"] > 600  # type: ignore[index]
    expect(charts.first).to_contain_text("Số hồ sơ")
    expect(charts.nth(1)).to_contain_text("100%")
    page.screenshot(path=tmp_path / "page.png", full_page=True)


def test_the_pdf_as_images_and_text(database_url, march, tmp_path, monkeypatch) -> None:
    if chromium_executable() is None:
        pytest.skip("Chromium not found: install Debian's chromium")
    out = tmp_path / "bao-cao-2025-03.pdf"
    # In a thread of its own, as in the command: this one may hold the session's Playwright
    # (the `page` fixture), and Playwright's sync API runs one driver per thread.
    with ThreadPoolExecutor(1) as thread:
        assert thread.submit(_write, database_url, out, "pdf", monkeypatch).result() == 0
    document = pdfium.PdfDocument(out)
    assert 1 <= len(document) <= 4
    text = ""
    for number in range(len(document)):
        pdf_page = document[number]
        assert pdf_page.get_size() == pytest.approx(A4_LANDSCAPE, abs=1)
        image = pdf_page.render(scale=1).to_pil().convert("L")
        # Not blank: the first page is mostly the table (rules, text), ink on 1% of it at
        # least; a page after it may hold only the sign-off, or the charts.
        dark = sum(image.histogram()[:200])
        share = 0.01 if number == 0 else 0.002
        assert dark > share * image.width * image.height, f"page {number + 1} is blank"
        text += pdf_page.get_textpage().get_text_range() + "\n"
    flat = " ".join(text.split())
    for words in (TITLE, "Kỳ báo cáo: Tháng 03/2025", PREPARER, HEAD_OF_UNIT, "Số hồ sơ"):
        assert words in flat
    assert " ".join(_birth_cells(march)) in flat
    assert "Trang 1/" in flat


def test_pdf_without_chromium_is_a_one_line_error(database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIENTHONG_CHROMIUM", str(tmp_path / "no-chromium"))
    out = tmp_path / "report.pdf"
    assert _write(database_url, out, "pdf", monkeypatch) == 1
    err = capsys.readouterr().err
    assert err == f"error: Chromium not found at {tmp_path / 'no-chromium'} (LIENTHONG_CHROMIUM)\n"
    assert not out.exists()
