"""The monthly report's figures, computed by the database (definitions: models/report.py).

One GROUP BY query with conditional aggregates for dossiers, one for steps, one for the
daily series; identical SQL on SQLite and PostgreSQL except for the local-day expression.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

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

from lienthong.adapters.tables import Dossier, Step
from lienthong.models.chains import CHAIN_STEPS, chain_of
from lienthong.models.report import FIGURES, DayPoint, Figures, Period, Row, Scope
from lienthong.models.status import (
    STOPPED_STEP_STATUSES,
    Chain,
    DossierStatus,
    StepKind,
    StepStatus,
)

# Steps the agency has not decided: working on it, or stopped (failed / error) on our side.
_UNDECIDED_STEPS = (
    StepStatus.IN_PROGRESS,
    StepStatus.AWAITING_DECISION,
    *sorted(STOPPED_STEP_STATUSES),
)


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


def _in_scope(query: Select[tuple[Any, ...]], scope: Scope) -> Select[tuple[Any, ...]]:
    if (provinces := scope.province_codes()) is not None:
        query = query.where(Dossier.province_code.in_(provinces))
    if scope.commune is not None:
        query = query.where(Dossier.commune_code == scope.commune)
    return query


def dossier_query(period: Period, scope: Scope) -> Select[tuple[Any, ...]]:
    """Per chain. The WHERE is the OR of the figures' own conditions, so each branch can
    use its index (received_at, completed_at, status + updated_at, status)."""
    conditions = _dossier_conditions(period)
    query = (
        select(Dossier.chain, *_counts(conditions))
        .where(_counted(), or_(*conditions.values()))
        .group_by(Dossier.chain)
    )
    return _in_scope(query, scope)


def step_query(period: Period, scope: Scope) -> Select[tuple[Any, ...]]:
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


def day_query(period: Period, scope: Scope, dialect: str) -> Select[tuple[Any, ...]]:
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


class SqlReportQueries:
    """The report's queries in the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def figures(self, period: Period, scope: Scope) -> tuple[list[Row], list[DayPoint]]:
        return figures(self._session, period, scope)


def figures(session: Session, period: Period, scope: Scope) -> tuple[list[Row], list[DayPoint]]:
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
    return rows, days
