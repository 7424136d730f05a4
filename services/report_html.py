"""The report as one HTML page in Vietnamese, as a provincial supervisor files it.

The page (Jinja2 template ``templates/report.html.j2``, shipped as package data) carries the
document heading (reporting unit, national name and motto), the title, the period, the
reporting form's table under its two-row heading, matplotlib's charts as inline SVG and the
sign-off block (preparer, head of unit, place and date). It holds its CSS and charts inline:
it can be mailed or archived and opens without a network; Chromium prints it to PDF
(adapters/pdf_printer.py). Numbers are written the Vietnamese way: ``1.234``, ``92,5%``.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from lienthong.models import report_form
from lienthong.models.report import MonthlyReport, Row
from lienthong.services.report_charts import daily_chart, rate_chart
from lienthong.services.report_render import COLUMNS

_ENVIRONMENT = Environment(
    loader=PackageLoader("lienthong.services", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class _Line:
    number: int
    kind: str
    labels: tuple[str, str, str]
    counts: list[str]
    rate: str


def _kind(row: Row) -> str:
    if row.step is None:
        return "chain" if row.agency is None else "agency"
    return "step"


def _labels(row: Row) -> tuple[str, str, str]:
    """The chain's name on its own row only: the rows under it are its steps and agencies."""
    chain, step, agency = report_form.labels(row)
    return (chain if _kind(row) == "chain" else "", step, agency)


def _lines(report: MonthlyReport) -> list[_Line]:
    return [
        _Line(
            number,
            _kind(row),
            _labels(row),
            [report_form.vietnamese_count(getattr(row.figures, name)) for name in COLUMNS],
            report_form.vietnamese_rate(row.figures.on_time_rate),
        )
        for number, row in enumerate(report.rows, start=1)
    ]


def render_html(report: MonthlyReport) -> str:
    signed_on = report.local_as_of().date()
    return _ENVIRONMENT.get_template("report.html.j2").render(
        form=report_form,
        unit_heading=report_form.unit_heading(report.scope),
        unit=report_form.unit_label(report.scope),
        period=report_form.period_label(report.period),
        as_of=report_form.moment_label(report.local_as_of()),
        rows=_lines(report),
        duplicates=report.duplicates,
        # STT, the three names, the counts and the rate.
        column_count=1 + 3 + len(COLUMNS) + 1,
        daily_chart=daily_chart(report),
        rate_chart=rate_chart(report),
        place_and_date=report_form.place_and_date(report_form.place_of(report.scope), signed_on),
    )
