"""The report's charts, drawn by matplotlib as SVG for the HTML page and its PDF.

Two charts, with real axes (ticks, labels, a grid): dossiers received and resolved per
local day of a month (per month of a quarter or a year), and each step's on-time rate.
Matplotlib's object API is used (a ``Figure`` per chart, no pyplot): no global state, safe in
threads. Text stays text in the SVG (``svg.fonttype: none``), so the browser draws the
Vietnamese letters with its own fonts and the PDF keeps them in its text layer; the SVG
carries no date and fixed ids (``svg.hashsalt``, one per chart), so a report renders the same twice.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from matplotlib.typing import RcKeyType

from lienthong.models import report_form
from lienthong.models.report import DayPoint, MonthlyReport
from lienthong.models.report_form import vietnamese_rate

RECEIVED, RESOLVED, RATE = "#3b6fb6", "#2e9e5b", "#d08a1e"
_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# A month has at most 31 days: a longer period is drawn per month.
_DAILY_UP_TO = 31


@contextmanager
def _style(chart: str) -> Iterator[None]:
    """Our style; the chart's name salts its SVG ids, fixed and distinct between the charts
    of one page (two charts with the same ids would share each other's clip paths)."""
    with matplotlib.rc_context({**_STYLE, "svg.hashsalt": f"lienthong-{chart}"}):
        yield


def _svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element to put in a page (no XML prologue, no date)."""
    out = io.StringIO()
    # No metadata block (date, creator, RDF namespaces): nothing in the page points outside.
    quiet = {"Date": None, "Creator": None, "Format": None, "Type": None}
    figure.savefig(out, format="svg", metadata=quiet, bbox_inches="tight")
    text = out.getvalue()
    return text[text.index("<svg") :]


def _series(days: list[DayPoint]) -> tuple[list[str], list[int], list[int], str]:
    """Labels, received and resolved per day, or per month for a longer period."""
    if len(days) <= _DAILY_UP_TO:
        return (
            [f"{d.day:%d}" for d in days],
            [d.received for d in days],
            [d.resolved for d in days],
            "Ngày trong tháng",
        )
    months: dict[str, list[int]] = {}
    for d in days:
        totals = months.setdefault(f"{d.day:%m/%Y}", [0, 0])
        totals[0] += d.received
        totals[1] += d.resolved
    labels = list(months)
    return (
        labels,
        [months[m][0] for m in labels],
        [months[m][1] for m in labels],
        "Tháng",
    )


def daily_chart(report: MonthlyReport) -> str:
    """Grouped bars: dossiers received and resolved per day (or month) of the period."""
    labels, received, resolved, axis = _series(report.days)
    with _style("daily"):
        figure = Figure(figsize=(10, 2.8))
        ax = figure.add_subplot()
        positions = range(len(labels))
        width = 0.4
        ax.bar(
            [p - width / 2 for p in positions], received, width, label="Tiếp nhận", color=RECEIVED
        )
        ax.bar(
            [p + width / 2 for p in positions],
            resolved,
            width,
            label="Đã giải quyết",
            color=RESOLVED,
        )
        ax.set_xticks(list(positions), labels)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_xlabel(axis)
        ax.set_ylabel("Số hồ sơ")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", linewidth=0.4, alpha=0.6)
        ax.set_axisbelow(True)
        ax.set_ylim(0, max([1, *received, *resolved]) * 1.2)  # room for the legend
        ax.legend(loc="upper right", frameon=True, framealpha=0.9, ncols=2)
        ax.set_title("Hồ sơ tiếp nhận và đã giải quyết trong kỳ (hồ sơ liên thông)")
        return _svg(figure)


def rate_chart(report: MonthlyReport) -> str:
    """Horizontal bars: the on-time rate of each chain and each step, out of 100%."""
    rows = [r for r in report.rows if r.agency is None or r.step is not None]
    names = []
    for row in rows:
        _, step, agency = report_form.labels(row)
        if row.step is None:
            names.append(f"{report_form.SHORT_CHAINS[row.chain]}: {step}")
        else:
            names.append(f"{step} ({agency})" if agency else step)
    rates = [(r.figures.on_time_rate or 0.0) * 100 for r in rows]
    with _style("rate"):
        figure = Figure(figsize=(10, 0.25 * len(rows) + 1))
        ax = figure.add_subplot()
        positions = list(range(len(rows)))
        ax.barh(positions, rates, color=RATE, height=0.6)
        ax.set_yticks(positions, names)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.xaxis.set_major_formatter(PercentFormatter(100))
        ax.set_xlabel("Tỷ lệ giải quyết trước hạn và đúng hạn")
        ax.grid(axis="x", linewidth=0.4, alpha=0.6)
        ax.set_axisbelow(True)
        for position, row in zip(positions, rows, strict=True):
            rate = row.figures.on_time_rate
            if rate is None:
                ax.text(1, position, "chưa có hồ sơ giải quyết", va="center", fontsize=8)
            elif rate < 0.85:
                ax.text(rate * 100 + 1, position, vietnamese_rate(rate), va="center", fontsize=8)
            else:  # inside the bar's end, where there is room
                shown = vietnamese_rate(rate)
                ax.text(
                    rate * 100 - 1,
                    position,
                    shown,
                    va="center",
                    ha="right",
                    fontsize=8,
                    color="white",
                )
        ax.set_title("Tỷ lệ giải quyết đúng hạn theo nhóm thủ tục và thủ tục")
        return _svg(figure)
