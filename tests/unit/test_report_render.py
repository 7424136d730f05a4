"""Rendering a report: a text table, CSV, and one HTML file that needs no network."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from lienthong.models.chains import CHAIN_STEPS
from lienthong.models.report import DayPoint, Figures, MonthlyReport, Period, Row, Scope
from lienthong.models.report_form import (
    CHAINS,
    HEAD_OF_UNIT,
    HEADINGS,
    PREPARER,
    TITLE,
    WHOLE_CHAIN,
    vietnamese_count,
    vietnamese_rate,
)
from lienthong.models.status import Chain
from lienthong.services.report_html import render_html
from lienthong.services.report_render import HEADERS, render_csv, render_table
from lienthong.services.report_xlsx import TABLE_ROW, render_xlsx

PERIOD = Period.of_month("2025-02", ZoneInfo("Asia/Ho_Chi_Minh"))


def sample() -> MonthlyReport:
    rows = []
    for chain, kinds in CHAIN_STEPS.items():
        resolved = 40 if chain.value == "birth" else 0
        rows.append(
            Row(
                chain,
                None,
                Figures(
                    carried_over=10,
                    new=40,
                    resolved_early=resolved - 13 if resolved else 0,
                    resolved_on_time=10 if resolved else 0,
                    resolved_late=3 if resolved else 0,
                    returned=4,
                ),
            )
        )
        rows += [Row(chain, kind, Figures(new=7, resolved_on_time=7)) for kind in kinds]
    days = [DayPoint(d, received=d.day % 4, resolved=d.day % 3) for d in PERIOD.days()]
    return MonthlyReport(
        PERIOD, Scope(province="079"), datetime(2025, 3, 2, tzinfo=UTC), rows, days
    )


def test_table_has_a_line_per_row_and_the_rates():
    text = render_table(sample())
    assert "2025-02, province 079" in text
    assert "92.5%" in text  # 37 of 40 birth dossiers on time
    assert len([line for line in text.splitlines() if line.startswith(("birth", "death"))]) == 9


def test_csv_round_trips_under_the_forms_vietnamese_headings():
    read = list(csv.DictReader(io.StringIO(render_csv(sample()))))
    assert list(read[0]) == [HEADINGS[name] for name in HEADERS]
    assert list(read[0])[:4] == [
        "Nhóm thủ tục liên thông",
        "Thủ tục",
        "Cơ quan giải quyết",
        "Tổng số hồ sơ nhận giải quyết",
    ]
    rows = [{name: r[HEADINGS[name]] for name in HEADERS} for r in read]
    assert rows[0]["chain"] == CHAINS[Chain.BIRTH]
    assert rows[0]["step"] == WHOLE_CHAIN
    assert rows[0]["on_time_rate"] == "0.9250"
    assert (rows[0]["received"], rows[0]["carried_over"], rows[0]["new"]) == ("50", "10", "40")
    assert rows[0]["resolved"] == "40"
    assert rows[1]["step"] == "Đăng ký khai sinh"
    death = next(r for r in rows if r["chain"] == CHAINS[Chain.DEATH] and r["step"] == WHOLE_CHAIN)
    assert death["on_time_rate"] == ""  # nothing resolved: no rate, not 0%


def test_xlsx_has_the_unit_the_period_the_figures_and_a_sign_off():
    sheet = load_workbook(io.BytesIO(render_xlsx(sample())))["Báo cáo"]
    texts = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any("Hồ Chí Minh (mã 079)" in t for t in texts)
    assert "Kỳ báo cáo: Tháng 02/2025 (từ ngày 01/02/2025 đến ngày 28/02/2025)" in texts
    assert "NGƯỜI LẬP BIỂU" in texts
    assert "THỦ TRƯỞNG ĐƠN VỊ" in texts
    header = [c.value for c in sheet[TABLE_ROW]]
    assert header == [HEADINGS[name] for name in HEADERS]
    birth = [c.value for c in sheet[TABLE_ROW + 1]]
    assert birth[:3] == [CHAINS[Chain.BIRTH], WHOLE_CHAIN, None]
    figures = dict(zip(HEADERS[3:], birth[3:], strict=True))
    assert (figures["received"], figures["resolved"], figures["returned"]) == (50, 40, 4)
    assert figures["on_time_rate"] == pytest.approx(0.925)
    assert sheet.cell(TABLE_ROW + 1, len(HEADERS)).number_format == "0.0%"


def test_html_is_self_contained_in_vietnamese_with_charts_drawn_by_matplotlib():
    html = render_html(sample())
    assert html.count("<svg") == 2
    # Matplotlib's axes, ticks and labels (the day of the month, the percentage):
    assert html.count('id="axes_1"') == 2
    assert html.count('id="xtick_') >= 28 + 6
    for tick in ("Số hồ sơ", ">28<", ">100%<"):
        assert tick in html
    assert "<style>" in html
    assert not re.search(r"https?://(?!www\.w3\.org/)|<script|<link|@import|url\((?!#)", html)
    for words in (
        TITLE,
        "Kỳ báo cáo: Tháng 02/2025",
        "UBND TP. HỒ CHÍ MINH",
        PREPARER,
        HEAD_OF_UNIT,
        "TP. Hồ Chí Minh, ngày 02 tháng 03 năm 2025",
    ):
        assert words in html
    assert ">92,5%<" in html  # 37 of 40 birth dossiers on time, written the Vietnamese way
    assert render_html(sample()) == html  # nothing random or dated: the same page twice
    ids = re.findall(r'<clipPath id="([^"]+)"', html)
    assert len(ids) == len(set(ids)) >= 2  # each chart clips to its own axes


def test_numbers_are_written_the_vietnamese_way():
    assert vietnamese_count(1234567) == "1.234.567"
    assert vietnamese_rate(0.925) == "92,5%"
    assert vietnamese_rate(None) == "-"


def test_as_of_is_local_time_in_every_renderer():
    """Produced at 00:00 UTC on 2 March: 07:00 in Ho Chi Minh City, as operators read it."""
    local = "2025-03-02T07:00:00+07:00"
    assert f"(as of {local})" in render_table(sample())
    assert "Số liệu tính đến: 07:00 ngày 02/03/2025 (UTC+07:00)" in render_html(sample())
    for rendered in (render_table(sample()), render_html(sample())):
        assert "+00:00" not in rendered


def test_a_quarter_is_charted_per_month():
    quarter = Period.of_quarter("2025-Q1", ZoneInfo("Asia/Ho_Chi_Minh"))
    days = [DayPoint(d, received=1, resolved=d.month) for d in quarter.days()]
    report = MonthlyReport(quarter, Scope(), datetime(2025, 4, 2, tzinfo=UTC), sample().rows, days)
    html = render_html(report)
    for month in ("01/2025", "02/2025", "03/2025"):
        assert f">{month}<" in html
    assert ">Tháng<" in html
    assert "Ngày trong tháng" not in html
    assert "Quý 1/2025 (từ ngày 01/01/2025 đến ngày 31/03/2025)" in html
    assert "TỔ CÔNG TÁC TRIỂN KHAI ĐỀ ÁN 06" in html  # the whole country's reporting unit
    assert "…………, ngày 02 tháng 04 năm 2025" in html  # a place to fill in
