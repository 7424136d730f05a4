"""The report as a plain text table, CSV, or one self-contained HTML file.

The HTML page carries its CSS and an SVG chart inline (received vs resolved per day, and
the on-time rate per chain): it can be mailed or archived and opens without a network.
"""

from __future__ import annotations

import csv
import io
from html import escape

from lienthong.models import report_form
from lienthong.models.report import MonthlyReport, Row

# The form's columns: each total, then its parts (models/report.py defines them).
COLUMNS = (
    "received",
    "carried_over",
    "new",
    "resolved",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "in_progress",
    "in_progress_within",
    "in_progress_overdue",
    "returned",
    "refused",
    "withdrawn",
)
HEADERS = ("chain", "step", "agency", *COLUMNS, "on_time_rate")
_LABELS = 3


def _rate(row: Row) -> str:
    rate = row.figures.on_time_rate
    return "" if rate is None else f"{rate:.1%}"


def row_cells(row: Row) -> list[str]:
    figures = [str(getattr(row.figures, name)) for name in COLUMNS]
    if row.step is not None:
        step = row.step.value
    else:
        step = "(whole chain)" if row.agency is None else "(all its steps)"
    agency = row.agency.value if row.agency else ""
    return [row.chain.value, step, agency, *figures, _rate(row)]


def as_of(report: MonthlyReport) -> str:
    """When the report was produced, local time with its UTC offset, to the second."""
    return report.local_as_of().isoformat(timespec="seconds")


def title(report: MonthlyReport) -> str:
    return f"Liên thông report {report.period.label}, {report.scope.label()}"


def render_table(report: MonthlyReport) -> str:
    rows = [list(HEADERS), *(row_cells(r) for r in report.rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < _LABELS else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(rows[0]), rule, *(line(r) for r in rows[1:])]
    return f"{title(report)} (as of {as_of(report)})\n\n" + "\n".join(body) + "\n"


def form_cells(row: Row) -> list[str | int | float | None]:
    """A row in the form's words (models/report_form.py): names, counts, the rate (0..1)."""
    return [
        *report_form.labels(row),
        *(int(getattr(row.figures, name)) for name in COLUMNS),
        row.figures.on_time_rate,
    ]


def render_csv(report: MonthlyReport) -> str:
    """The form's columns under their Vietnamese headings; the rate as a fraction (0.9250)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report_form.HEADINGS[name] for name in HEADERS)
    for row in report.rows:
        *cells, rate = form_cells(row)
        writer.writerow([*cells, "" if rate is None else f"{rate:.4f}"])
    return out.getvalue()


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th:nth-child(-n+3), td:nth-child(-n+3) { text-align: left; }
tr.chain td { font-weight: bold; background: #f3f3f3; }
.legend span { display: inline-block; width: 0.8rem; height: 0.8rem; margin: 0 0.3rem; }
"""
_RECEIVED, _RESOLVED, _RATE = "#3b6fb6", "#2e9e5b", "#d08a1e"


def _daily_chart(report: MonthlyReport, width: int = 760, height: int = 240) -> str:
    """Paired bars per day: received and resolved, with a y axis scaled to the peak."""
    left, bottom, top = 40, 30, 10
    days = report.days
    peak = max([1, *(max(d.received, d.resolved) for d in days)])
    slot = (width - left) / max(len(days), 1)
    bar = max(slot / 2 - 1, 1)
    plot = height - bottom - top
    parts = [
        f'<svg width="{width}" height="{height}" '
        f'role="img" aria-label="received and resolved per day">',
        f'<line x1="{left}" y1="{top + plot}" x2="{width}" y2="{top + plot}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot}" font-size="10" text-anchor="end">0</text>',
    ]
    for i, day in enumerate(days):
        x = left + i * slot
        for offset, value, colour, name in (
            (0.0, day.received, _RECEIVED, "received"),
            (bar, day.resolved, _RESOLVED, "resolved"),
        ):
            h = plot * value / peak
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{top + plot - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{day.day.isoformat()}: '
                f"{value} {name}</title></rect>"
            )
        if day.day.day == 1 or day.day.day % 5 == 0:
            parts.append(
                f'<text x="{x + bar:.1f}" y="{height - 12}" font-size="10" '
                f'text-anchor="middle">{day.day.day}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _rate_chart(report: MonthlyReport, width: int = 760) -> str:
    """One horizontal bar per chain: its on-time rate out of 100%."""
    rows = report.chain_rows()
    label, bar_h, gap = 70, 18, 8
    height = len(rows) * (bar_h + gap) + gap
    full = width - label - 60
    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="on-time rate per chain">'
    ]
    for i, row in enumerate(rows):
        y = gap + i * (bar_h + gap)
        rate = row.figures.on_time_rate
        shown = "no dossier resolved" if rate is None else f"{rate:.1%}"
        parts += [
            f'<text x="0" y="{y + 13}" font-size="12">{escape(row.chain.value)}</text>',
            f'<rect x="{label}" y="{y}" width="{full}" height="{bar_h}" fill="#eee"/>',
            f'<rect x="{label}" y="{y}" width="{full * (rate or 0):.1f}" height="{bar_h}" '
            f'fill="{_RATE}"/>',
            f'<text x="{label + full + 6}" y="{y + 13}" font-size="12">{shown}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: MonthlyReport) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADERS)
    body = "".join(
        f'<tr class="{"chain" if row.step is None and row.agency is None else "step"}">'
        + "".join(f"<td>{escape(c)}</td>" for c in row_cells(row))
        + "</tr>"
        for row in report.rows
    )
    heading = escape(title(report))
    return f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<title>{heading}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{heading}</h1>
<p>Period {report.period.start.isoformat()} to {report.period.end.isoformat()}; produced
{escape(as_of(report))}. Definitions: docs/reporting.md.</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Dossiers received and resolved per day</h2>
<p class="legend"><span style="background:{_RECEIVED}"></span>received
<span style="background:{_RESOLVED}"></span>resolved</p>
{_daily_chart(report)}
<h2>On-time rate (resolved on time / resolved)</h2>
{_rate_chart(report)}
</body>
</html>
"""


RENDERERS = {"table": render_table, "csv": render_csv, "html": render_html}
