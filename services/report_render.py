"""The report as a plain text table or CSV (the HTML page: services/report_html.py; the
Excel workbook: services/report_xlsx.py)."""

from __future__ import annotations

import csv
import io

from lienthong.models import report_form
from lienthong.models.duplicates import DuplicateFigures
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
    if report.duplicates is not None:
        body += ["", duplicates_line(report.duplicates)]
    return f"{title(report)} (as of {as_of(report)})\n\n" + "\n".join(body) + "\n"


def duplicates_line(figures: DuplicateFigures) -> str:
    return (
        f"Potential duplicates: {figures.held} held at intake; decided: {figures.distinct} "
        f"distinct, {figures.merged} merged, {figures.rejected} rejected; "
        f"{figures.still_held} still held at the end of the period"
    )


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


RENDERERS = {"table": render_table, "csv": render_csv}
