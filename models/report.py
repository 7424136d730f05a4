"""The monthly report: dossiers and steps received, resolved, on time, late, still open.

The period is a calendar month in local time (Asia/Ho_Chi_Minh by default):
``[first day 00:00, first day of the next month 00:00)``. Optionally only one province
and/or one commune. Dossiers rejected at intake never entered a chain and are not counted.

Per chain (dossier level, the figure a one-stop shop reports for the chain as a whole):

- ``received``: dossiers received in the period (``received_at``).
- ``resolved``: dossiers completed in the period (``completed_at``): every step succeeded or
  was not applicable, and the result was returned.
- ``resolved_on_time`` / ``late``: of those, completed by / after the chain's due instant.
- ``in_progress``: dossiers received before the end of the period and still being processed
  when the report is produced (status ``received`` or ``in_progress``).
- ``awaiting_supplement``: dossiers received before the end of the period and waiting for
  the applicant's supplement when the report is produced (returned for supplementation).
- ``refused``: dossiers refused in the period (an agency's refusal with its reason, or the
  applicant's supplementation window lapsing), dated by their last status change.
- ``withdrawn``: dossiers withdrawn in the period, dated the same way.
- ``on_time_rate``: ``resolved_on_time / resolved`` (none when nothing was resolved).

Per step (the agency's own procedure; steps not applicable to a dossier are not counted):

- ``received``: steps whose clock last started in the period (``started_at``: the agency got
  a complete dossier). A step counts once: a supplement restarts its clock and overwrites
  ``started_at``, so a step returned for supplementation counts in the month it was sent
  again, not in both months (the earlier start is in the audit trail).
- ``resolved`` / ``resolved_on_time`` / ``late``: steps that succeeded in the period
  (``finished_at``), by / after the step's due instant.
- ``in_progress``: steps started before the end of the period that the agency has not
  decided yet when the report is produced (``in_progress``; ``failed``: our calls to the
  agency ran out of retries and the sweep will resume them; ``error``: a permanent error a
  person must fix, the citizen still waiting: ``models.status.STOPPED_STEP_STATUSES``).
- ``awaiting_supplement``: steps started before the end of the period now waiting for the
  applicant after the agency asked for a supplement.
- ``refused``: steps refused in the period (``finished_at``).
- ``withdrawn``: steps withdrawn in the period (``updated_at``).

``in_progress`` and ``awaiting_supplement`` describe the backlog when the report runs (the
record keeps current statuses; their history is in the audit trail), so run the report
for a month shortly after it ends. The daily series counts dossiers received and resolved
per local day of the period.

Everything is computed by the database (adapters/report_queries.py): one GROUP BY query
with conditional aggregates for dossiers, one for steps, one for the daily series;
identical SQL on SQLite and PostgreSQL except for the local-day expression of the series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from lienthong.models.jurisdictions import grouped_provinces
from lienthong.models.status import Chain, StepKind

FIGURES = (
    "received",
    "resolved",
    "resolved_on_time",
    "late",
    "in_progress",
    "awaiting_supplement",
    "refused",
    "withdrawn",
)
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Period:
    """A calendar month in local time."""

    month: str
    start: datetime
    end: datetime

    @classmethod
    def of_month(cls, month: str, timezone: ZoneInfo) -> Period:
        match = _MONTH.match(month)
        if match is None:
            raise ValueError(f"month must read YYYY-MM, not {month!r}")
        year, number = int(match[1]), int(match[2])
        start = datetime(year, number, 1, tzinfo=timezone)
        following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=timezone)
        return cls(month, start, following)

    @classmethod
    def before(cls, now: datetime, timezone: ZoneInfo) -> Period:
        """The month before the local month of ``now``."""
        first = now.astimezone(timezone).date().replace(day=1)
        previous = first - timedelta(days=1)
        return cls.of_month(f"{previous.year:04d}-{previous.month:02d}", timezone)

    def days(self) -> list[date]:
        first = self.start.date()
        return [first + timedelta(days=i) for i in range((self.end.date() - first).days)]


@dataclass(frozen=True)
class Figures:
    received: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    late: int = 0
    in_progress: int = 0
    awaiting_supplement: int = 0
    refused: int = 0
    withdrawn: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.resolved_on_time / self.resolved if self.resolved else None


@dataclass(frozen=True)
class Row:
    """One line of the report: a whole chain (``step`` is None) or one of its steps."""

    chain: Chain
    step: StepKind | None
    figures: Figures


@dataclass(frozen=True)
class DayPoint:
    day: date
    received: int
    resolved: int


@dataclass(frozen=True)
class Scope:
    """Which dossiers a report counts. A current province counts the records of the old
    provinces it took over on 1 July 2025 as well (``models.jurisdictions``)."""

    province: str | None = None
    commune: str | None = None

    def province_codes(self) -> tuple[str, ...] | None:
        """The stored province codes in scope; ``None``: every province."""
        return None if self.province is None else grouped_provinces(self.province)

    def label(self) -> str:
        parts = [
            f"province {self.province}" if self.province else "",
            f"commune {self.commune}" if self.commune else "",
        ]
        return ", ".join(p for p in parts if p) or "whole country"


@dataclass(frozen=True)
class MonthlyReport:
    period: Period
    scope: Scope
    as_of: datetime
    rows: list[Row]
    days: list[DayPoint]

    def chain_rows(self) -> list[Row]:
        return [row for row in self.rows if row.step is None]

    def local_as_of(self) -> datetime:
        """When the report was produced, in the period's (local) time zone."""
        return self.as_of.astimezone(self.period.start.tzinfo)
