"""``lienthong report --month YYYY-MM | --quarter YYYY-Qn | --year YYYY``: the report as a
table, CSV, an Excel workbook, an HTML page or a PDF (printed by Chromium).

Exit codes: 0 written; 1 the output file cannot be written, or Chromium is missing or could
not print the PDF; 2 the database is missing or unreachable; argparse's 2 for bad options (a
malformed month, an unknown province code).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError

from lienthong.adapters.pdf_printer import PdfPrintError, chromium_executable, print_pdf
from lienthong.bootstrap import build_container
from lienthong.cli.database import DatabaseUnavailable, require_existing_database, unavailable
from lienthong.models.identifiers import PROVINCE_CODES
from lienthong.models.report import MonthlyReport, Period, Scope
from lienthong.services.report import monthly_report
from lienthong.services.report_html import render_html
from lienthong.services.report_render import RENDERERS
from lienthong.services.report_xlsx import render_xlsx
from lienthong.settings import Settings

PeriodOf = Callable[[str, ZoneInfo], Period]
TEXT_RENDERERS: dict[str, Callable[[MonthlyReport], str]] = {**RENDERERS, "html": render_html}


def _build(settings: Settings, period_of: PeriodOf, label: str, scope: Scope) -> MonthlyReport:
    require_existing_database(settings.resolved_database_url())
    container = build_container(settings)
    try:
        period = period_of(label, container.deadlines.calendar.timezone)
        return monthly_report(container, period, scope)
    finally:
        container.close()


def _checked(period_of: PeriodOf) -> Callable[[str], str]:
    """Reject a malformed period while parsing, with argparse's usage message."""

    def check(value: str) -> str:
        try:
            period_of(value, ZoneInfo("UTC"))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc
        return value

    return check


def _province(value: str) -> str:
    """Reject a province code that does not exist, rather than report zeros for it."""
    if value not in PROVINCE_CODES:
        raise argparse.ArgumentTypeError(
            f"unknown province code {value!r}: use a three-digit code such as 001 "
            f"({PROVINCE_CODES['001']}) or 079 ({PROVINCE_CODES['079']}), "
            "see models/identifiers.py"
        )
    return value


def _report(args: argparse.Namespace) -> int:
    settings = Settings()
    try:
        period_of, label = _chosen(args)
        report = _build(settings, period_of, label, Scope(args.province, args.commune))
    except (DatabaseUnavailable, DBAPIError) as exc:
        return unavailable(settings.resolved_database_url(), exc)
    try:
        rendered = _rendered(report, args.format, settings)
    except PdfPrintError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out is None:
        sys.stdout.buffer.write(rendered)
        sys.stdout.flush()
        return 0
    try:
        args.out.write_bytes(rendered)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


def _rendered(report: MonthlyReport, output: str, settings: Settings) -> bytes:
    if output == "xlsx":
        return render_xlsx(report)
    if output == "pdf":
        return print_pdf(render_html(report), chromium_executable(settings.chromium))
    return TEXT_RENDERERS[output](report).encode("utf-8")


def _chosen(args: argparse.Namespace) -> tuple[PeriodOf, str]:
    if args.quarter is not None:
        return Period.of_quarter, str(args.quarter)
    if args.year is not None:
        return Period.of_year, str(args.year)
    return Period.of_month, str(args.month)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="the reporting form's figures per chain, step and agency (docs/reporting.md)",
    )
    period = parser.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", type=_checked(Period.of_month), help="YYYY-MM, local time")
    period.add_argument("--quarter", type=_checked(Period.of_quarter), help="YYYY-Qn (n: 1-4)")
    period.add_argument("--year", type=_checked(Period.of_year), help="YYYY")
    parser.add_argument(
        "--province", type=_province, help="only dossiers of this province code (e.g. 079)"
    )
    parser.add_argument("--commune", help="only dossiers of this commune code")
    parser.add_argument(
        "--format",
        choices=sorted([*TEXT_RENDERERS, "xlsx", "pdf"]),
        default="table",
        help="csv, xlsx, html and pdf use the reporting form's Vietnamese words; html and pdf "
        "are the page a province files (pdf: printed by Chromium)",
    )
    parser.add_argument("--out", type=Path, help="write to this file instead of stdout")
    parser.set_defaults(func=_report)
