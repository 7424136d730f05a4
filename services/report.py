"""Produce the monthly report (its figures are defined in models/report.py)."""

from __future__ import annotations

from lienthong.models.report import MonthlyReport, Period, Scope
from lienthong.services.container import Container


def monthly_report(container: Container, period: Period, scope: Scope) -> MonthlyReport:
    """The figures of ``period`` for ``scope``, as of now."""
    with container.unit_of_work() as uow:
        rows, days = uow.reports.figures(period, scope)
        duplicates = uow.duplicates.figures(period, scope)
    return MonthlyReport(period, scope, container.clock.now(), rows, days, duplicates)
