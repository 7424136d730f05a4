"""The report a province files: the one-stop shop's reporting form, per chain, step and agency.

The figures are those of the form the provinces fill for administrative procedures
("tình hình tiếp nhận, giải quyết TTHC"), as the seed reports use them:

- received ("số hồ sơ nhận giải quyết"): ``carried_over`` ("từ kỳ trước chuyển qua": received
  before the period, not closed when it began) and ``new`` ("mới tiếp nhận": received in it);
- resolved ("đã giải quyết") in the period: ``resolved_early`` ("trước hạn": on a local day
  before the due day), ``resolved_on_time`` ("đúng hạn": on the due day, by the due instant),
  ``resolved_late`` ("quá hạn": after the due instant);
- in progress at the end of the period ("đang giải quyết"): ``in_progress_within`` ("trong
  hạn") and ``in_progress_overdue`` ("quá hạn"), by the due instant in force at that moment;
- ``returned`` ("trả hồ sơ bổ sung"): returned for supplementation in the period, each dossier
  (or step) once, even if it was completed later;
- ``refused`` ("từ chối") and ``withdrawn`` ("rút hồ sơ") in the period.

Every figure is a fact about instants up to the end of the period, read from what the record
never rewrites (reception, completion and closing instants, a step's first start, the clock
history of models/history.py): a past period's report gives the same figures whenever it is
produced. docs/reporting.md defines each figure and each clock.

The period is a calendar month, quarter or year in local time (Asia/Ho_Chi_Minh by default):
``[first day 00:00, first day of the next period 00:00)``. Optionally only one province and/or
one commune. Dossiers rejected at intake never entered a chain and are not counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from lienthong.models.chains import birth_plan, death_plan
from lienthong.models.duplicates import DuplicateFigures
from lienthong.models.jurisdictions import grouped_provinces
from lienthong.models.status import Agency, Chain, FuneralPayerBasis, StepKind

FIGURES = (
    "carried_over",
    "new",
    "resolved_early",
    "resolved_on_time",
    "resolved_late",
    "in_progress_within",
    "in_progress_overdue",
    "returned",
    "refused",
    "withdrawn",
)
# Who usually performs each step: the row a step gets when no agency performed it.
USUAL_AGENCY: dict[StepKind, Agency] = {
    p.kind: p.agency for p in [*birth_plan(), *death_plan(4, FuneralPayerBasis.INSURED)]
}
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


def _first_of(year: int, month: int, timezone: ZoneInfo) -> datetime:
    """00:00 local on the first day of ``month`` (13 is January of the next year)."""
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=timezone)


@dataclass(frozen=True)
class Period:
    """A calendar month (``2025-03``), quarter (``2025-Q1``) or year (``2025``), local time."""

    label: str
    start: datetime
    end: datetime

    @classmethod
    def of_month(cls, month: str, timezone: ZoneInfo) -> Period:
        match = _MONTH.match(month)
        if match is None:
            raise ValueError(f"month must read YYYY-MM, not {month!r}")
        year, number = int(match[1]), int(match[2])
        return cls(month, _first_of(year, number, timezone), _first_of(year, number + 1, timezone))

    @classmethod
    def of_quarter(cls, quarter: str, timezone: ZoneInfo) -> Period:
        match = _QUARTER.match(quarter)
        if match is None:
            raise ValueError(f"quarter must read YYYY-Qn (n from 1 to 4), not {quarter!r}")
        year, first = int(match[1]), 3 * int(match[2]) - 2
        return cls(quarter, _first_of(year, first, timezone), _first_of(year, first + 3, timezone))

    @classmethod
    def of_year(cls, year: str, timezone: ZoneInfo) -> Period:
        if _YEAR.match(year) is None:
            raise ValueError(f"year must read YYYY, not {year!r}")
        number = int(year)
        return cls(year, _first_of(number, 1, timezone), _first_of(number + 1, 1, timezone))

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
    carried_over: int = 0
    new: int = 0
    resolved_early: int = 0
    resolved_on_time: int = 0
    resolved_late: int = 0
    in_progress_within: int = 0
    in_progress_overdue: int = 0
    returned: int = 0
    refused: int = 0
    withdrawn: int = 0

    @property
    def received(self) -> int:
        return self.carried_over + self.new

    @property
    def resolved(self) -> int:
        return self.resolved_early + self.resolved_on_time + self.resolved_late

    @property
    def in_progress(self) -> int:
        return self.in_progress_within + self.in_progress_overdue

    @property
    def on_time_rate(self) -> float | None:
        """Resolved early or on time / resolved ("tỷ lệ đúng hạn"); none if nothing resolved."""
        if not self.resolved:
            return None
        return (self.resolved_early + self.resolved_on_time) / self.resolved

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, n) + getattr(other, n) for n in FIGURES))


@dataclass(frozen=True)
class Row:
    """One line of the report: a whole chain (``step`` and ``agency`` None), one step as
    performed by one agency, or an agency's steps of a chain together (``step`` None)."""

    chain: Chain
    step: StepKind | None
    figures: Figures
    agency: Agency | None = None


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
    # Potential duplicates held at intake and the decisions on them (issue 14): clean data
    # is a figure every Project-06 report gives.
    duplicates: DuplicateFigures | None = None

    def chain_rows(self) -> list[Row]:
        return [row for row in self.rows if row.step is None and row.agency is None]

    def local_as_of(self) -> datetime:
        """When the report was produced, in the period's (local) time zone."""
        return self.as_of.astimezone(self.period.start.tzinfo)
