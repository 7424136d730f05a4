"""The monthly report as a Prefect flow: a table artifact and a markdown summary."""

from __future__ import annotations

import asyncio

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from lienthong.bootstrap import current_container
from lienthong.models.identifiers import PROVINCE_CODES
from lienthong.models.report import MonthlyReport, Period, Scope
from lienthong.services.report import monthly_report
from lienthong.services.report_render import HEADERS, as_of, render_table, row_cells, title


def _build(month: str | None, province: str | None) -> MonthlyReport:
    if province is not None and province not in PROVINCE_CODES:
        raise ValueError(f"unknown province code {province!r} (models.identifiers.PROVINCE_CODES)")
    container = current_container()
    timezone = container.deadlines.calendar.timezone
    now = container.clock.now()
    period = Period.of_month(month, timezone) if month else Period.before(now, timezone)
    return monthly_report(container, period, Scope(province=province))


def artifact_key(report: MonthlyReport) -> str:
    """Lowercase letters, digits and dashes only: ``monthly-report-2025-03[-p079]``."""
    suffix = f"-p{report.scope.province.lower()}" if report.scope.province else ""
    return f"monthly-report-{report.period.label.lower()}{suffix}"


@flow(name="monthly-report", persist_result=False)
async def monthly_report_flow(month: str | None = None, province: str | None = None) -> str:
    """Report ``month`` (YYYY-MM; default: the month before the clock's) for ``province``."""
    report = await asyncio.to_thread(_build, month, province)
    key = artifact_key(report)
    await acreate_table_artifact(
        key=key,
        table=[dict(zip(HEADERS, row_cells(row), strict=True)) for row in report.rows],
        description=title(report),
    )
    lines = [f"## {title(report)}", "", f"As of {as_of(report)}.", ""]
    for row in report.chain_rows():
        f = row.figures
        rate = "-" if f.on_time_rate is None else f"{f.on_time_rate:.1%}"
        lines.append(
            f"- **{row.chain.value}**: {f.received} received ({f.carried_over} carried over, "
            f"{f.new} new), {f.resolved} resolved ({f.resolved_early} early, "
            f"{f.resolved_on_time} on time, {f.resolved_late} late, on-time rate {rate}), "
            f"{f.in_progress} in progress ({f.in_progress_overdue} overdue), "
            f"{f.returned} returned for supplementation, {f.refused} refused, "
            f"{f.withdrawn} withdrawn"
        )
    await acreate_markdown_artifact(
        key=f"{key}-summary", markdown="\n".join(lines) + "\n", description=title(report)
    )
    return render_table(report)
