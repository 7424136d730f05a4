"""Rendering a report: a text table, CSV, and one HTML file that needs no network."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from lienthong.models.chains import CHAIN_STEPS
from lienthong.models.report import DayPoint, Figures, MonthlyReport, Period, Row, Scope
from lienthong.services.report_render import HEADERS, render_csv, render_html, render_table

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


def test_csv_round_trips():
    rows = list(csv.DictReader(io.StringIO(render_csv(sample()))))
    assert list(rows[0]) == list(HEADERS)
    assert rows[0]["step"] == "(whole chain)"
    assert rows[0]["on_time_rate"] == "0.9250"
    assert (rows[0]["received"], rows[0]["carried_over"], rows[0]["new"]) == ("50", "10", "40")
    assert rows[0]["resolved"] == "40"
    death = next(r for r in rows if r["chain"] == "death" and r["step"] == "(whole chain)")
    assert death["on_time_rate"] == ""  # nothing resolved: no rate, not 0%


def test_html_is_self_contained_with_inline_svg_charts():
    html = render_html(sample())
    assert html.count("<svg") == 2
    assert html.count("<rect") >= 2 * 28
    assert "<style>" in html
    assert not re.search(r"https?://|<script|<link|@import|url\(", html)
    assert "Liên thông report 2025-02" in html


def test_as_of_is_local_time_in_every_renderer():
    """Produced at 00:00 UTC on 2 March: 07:00 in Ho Chi Minh City, as operators read it."""
    local = "2025-03-02T07:00:00+07:00"
    assert f"(as of {local})" in render_table(sample())
    assert f"produced\n{local}" in render_html(sample())
    for rendered in (render_table(sample()), render_html(sample())):
        assert "+00:00" not in rendered
