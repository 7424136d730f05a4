"""The report as an Excel workbook (openpyxl), in the form's Vietnamese words.

Sheet "Báo cáo": the title, the reporting unit, the period and when the figures were
produced, then one row per chain, step and agency under the form's headings (counts as
numbers, the on-time rate as a percentage), and a sign-off block. Sheet "Theo ngày": the
dossiers received and resolved per local day of the period.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from lienthong.models import report_form
from lienthong.models.report import MonthlyReport
from lienthong.services.report_render import HEADERS, as_of, form_cells

_BOLD = Font(bold=True)
_CHAIN_FILL = PatternFill("solid", fgColor="F3F3F3")
# Where the table starts: after the title, unit, period and "as of" lines and a blank one.
TABLE_ROW = 6


def render_xlsx(report: MonthlyReport) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None, "a new workbook has a sheet"
    sheet.title = "Báo cáo"
    sheet["A1"] = report_form.TITLE
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = f"Đơn vị báo cáo: {report_form.unit_label(report.scope)}"
    sheet["A3"] = f"Kỳ báo cáo: {report_form.period_label(report.period)}"
    sheet["A4"] = f"Số liệu tính đến: {as_of(report)}"
    for column, name in enumerate(HEADERS, start=1):
        cell = sheet.cell(TABLE_ROW, column, report_form.HEADINGS[name])
        cell.font = _BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    rate_column = len(HEADERS)
    for offset, row in enumerate(report.rows, start=1):
        line = TABLE_ROW + offset
        for column, value in enumerate(form_cells(row), start=1):
            cell = sheet.cell(line, column, value)
            if column == rate_column:
                cell.number_format = "0.0%"
            if row.step is None and row.agency is None:
                cell.font, cell.fill = _BOLD, _CHAIN_FILL
    sign_off = TABLE_ROW + len(report.rows) + 2
    sheet.cell(sign_off, 2, report_form.PREPARER).font = _BOLD
    sheet.cell(sign_off, 2 + len(HEADERS) // 2, report_form.HEAD_OF_UNIT).font = _BOLD
    sheet.cell(sign_off + 1, 2, report_form.PREPARER_HINT)
    sheet.cell(sign_off + 1, 2 + len(HEADERS) // 2, report_form.HEAD_OF_UNIT_HINT)
    for column in range(1, len(HEADERS) + 1):
        sheet.column_dimensions[get_column_letter(column)].width = 34 if column <= 3 else 14
    sheet.freeze_panes = f"D{TABLE_ROW + 1}"

    days = workbook.create_sheet("Theo ngày")
    days.append(["Ngày", "Hồ sơ tiếp nhận", "Hồ sơ đã giải quyết"])
    for cell in days[1]:
        cell.font = _BOLD
    for point in report.days:
        days.append([point.day, point.received, point.resolved])
        days.cell(days.max_row, 1).number_format = "DD/MM/YYYY"
    days.column_dimensions["A"].width = 14
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
