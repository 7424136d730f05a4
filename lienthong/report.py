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

Everything is computed by the database: one GROUP BY query with conditional aggregates for
dossiers, one for steps, one for the daily series; identical SQL on SQLite and PostgreSQL
except for the local-day expression of the series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from lienthong.deadlines import CHAIN_STEPS
from models.chains import chain_of
from models.status import STOPPED_STEP_STATUSES, Chain, DossierStatus, StepKind, StepStatus
from models.tables import Dossier, Step

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
# Steps the agency has not decided: working on it, or stopped (failed / error) on our side.
_UNDECIDED_STEPS = (StepStatus.IN_PROGRESS, *sorted(STOPPED_STEP_STATUSES))
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
    province: str | None = None
    commune: str | None = None

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


def _within(
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None], period: Period
) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _counts(conditions: dict[str, ColumnElement[bool]]) -> list[ColumnElement[int]]:
    return [func.count().filter(conditions[name]).label(name) for name in FIGURES]


def _dossier_conditions(period: Period) -> dict[str, ColumnElement[bool]]:
    resolved = and_(
        Dossier.status == DossierStatus.COMPLETED, _within(Dossier.completed_at, period)
    )
    open_before_end = Dossier.received_at < period.end
    return {
        "received": _within(Dossier.received_at, period),
        "resolved": resolved,
        "resolved_on_time": and_(resolved, Dossier.on_time.is_(True)),
        "late": and_(resolved, Dossier.on_time.is_(False)),
        "in_progress": and_(
            Dossier.status.in_((DossierStatus.RECEIVED, DossierStatus.IN_PROGRESS)),
            open_before_end,
        ),
        "awaiting_supplement": and_(
            Dossier.status == DossierStatus.AWAITING_SUPPLEMENT, open_before_end
        ),
        "refused": and_(
            Dossier.status == DossierStatus.REFUSED, _within(Dossier.updated_at, period)
        ),
        "withdrawn": and_(
            Dossier.status == DossierStatus.WITHDRAWN, _within(Dossier.updated_at, period)
        ),
    }


def _step_conditions(period: Period) -> dict[str, ColumnElement[bool]]:
    resolved = and_(Step.status == StepStatus.SUCCEEDED, _within(Step.finished_at, period))
    started_before_end = Step.started_at < period.end
    return {
        "received": _within(Step.started_at, period),
        "resolved": resolved,
        "resolved_on_time": and_(resolved, Step.on_time.is_(True)),
        "late": and_(resolved, Step.on_time.is_(False)),
        "in_progress": and_(Step.status.in_(_UNDECIDED_STEPS), started_before_end),
        "awaiting_supplement": and_(
            Step.status == StepStatus.AWAITING_SUPPLEMENT, started_before_end
        ),
        "refused": and_(Step.status == StepStatus.REFUSED, _within(Step.finished_at, period)),
        "withdrawn": and_(Step.status == StepStatus.WITHDRAWN, _within(Step.updated_at, period)),
    }


def _counted() -> ColumnElement[bool]:
    """Dossiers that entered a chain: not those rejected at intake."""
    return and_(Dossier.chain.is_not(None), Dossier.status != DossierStatus.REJECTED)


def _in_scope(query: Select[*tuple[Any, ...]], scope: Scope) -> Select[*tuple[Any, ...]]:
    if scope.province is not None:
        query = query.where(Dossier.province_code == scope.province)
    if scope.commune is not None:
        query = query.where(Dossier.commune_code == scope.commune)
    return query


def dossier_query(period: Period, scope: Scope) -> Select[*tuple[Any, ...]]:
    """Per chain. The WHERE is the OR of the figures' own conditions, so each branch can
    use its index (received_at, completed_at, status + updated_at, status)."""
    conditions = _dossier_conditions(period)
    query = (
        select(Dossier.chain, *_counts(conditions))
        .where(_counted(), or_(*conditions.values()))
        .group_by(Dossier.chain)
    )
    return _in_scope(query, scope)


def step_query(period: Period, scope: Scope) -> Select[*tuple[Any, ...]]:
    """Per step kind; a step's kind names its chain, so dossiers are joined only to scope."""
    conditions = _step_conditions(period)
    query = (
        select(Step.kind, *_counts(conditions)).where(or_(*conditions.values())).group_by(Step.kind)
    )
    if scope.province is not None or scope.commune is not None:
        query = _in_scope(query.join(Dossier, Dossier.id == Step.dossier_id), scope)
    return query


def _local_day(
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    dialect: str,
    period: Period,
) -> ColumnElement[str]:
    """``YYYY-MM-DD`` of the local day of ``column`` (stored in UTC).

    SQLite has no time zones: it shifts by the zone's UTC offset at the start of the
    period, which is exact for zones without daylight saving such as Asia/Ho_Chi_Minh.
    """
    if dialect == "postgresql":
        zone = str(period.start.tzinfo)
        return func.to_char(func.timezone(literal(zone), column), literal("YYYY-MM-DD"))
    offset = period.start.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    # Whole seconds only: SQLite rounds to milliseconds, so 23:59:59.9999 became the next day.
    seconds = func.substr(column, 1, 19)
    return func.strftime(literal("%Y-%m-%d"), seconds, literal(f"{minutes:+d} minutes"))


def day_query(period: Period, scope: Scope, dialect: str) -> Select[*tuple[Any, ...]]:
    base = _counted()
    received = _in_scope(
        select(
            _local_day(Dossier.received_at, dialect, period).label("day"),
            literal_column("1").label("received"),
            literal_column("0").label("resolved"),
        ).where(base, _within(Dossier.received_at, period)),
        scope,
    )
    resolved = _in_scope(
        select(
            _local_day(Dossier.completed_at, dialect, period).label("day"),
            literal_column("0").label("received"),
            literal_column("1").label("resolved"),
        ).where(base, _dossier_conditions(period)["resolved"]),
        scope,
    )
    events = union_all(received, resolved).subquery()
    return (
        select(events.c.day, func.sum(events.c.received), func.sum(events.c.resolved))
        .group_by(events.c.day)
        .order_by(events.c.day)
    )


def _figures(values: tuple[Any, ...]) -> Figures:
    return Figures(**{name: int(v or 0) for name, v in zip(FIGURES, values, strict=True)})


def monthly_report(
    session: Session, period: Period, scope: Scope, as_of: datetime
) -> MonthlyReport:
    """Run the three queries; every chain and step has a row, zeros included."""
    dialect = session.get_bind().dialect.name
    by_chain = {
        Chain(r[0]): _figures(tuple(r[1:])) for r in session.execute(dossier_query(period, scope))
    }
    by_step = {
        StepKind(r[0]): _figures(tuple(r[1:])) for r in session.execute(step_query(period, scope))
    }
    rows: list[Row] = []
    for chain, kinds in CHAIN_STEPS.items():
        rows.append(Row(chain, None, by_chain.get(chain, Figures())))
        rows += [Row(chain_of(k), k, by_step.get(k, Figures())) for k in kinds]
    counted = {
        date.fromisoformat(str(day)): (int(rec or 0), int(res or 0))
        for day, rec, res in session.execute(day_query(period, scope, dialect))
    }
    days = [DayPoint(d, *counted.get(d, (0, 0))) for d in period.days()]
    return MonthlyReport(period, scope, as_of, rows, days)
