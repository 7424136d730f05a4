"""The monthly report's figures, computed by the database (definitions: models/report.py).

One GROUP BY query with conditional aggregates for dossiers, one for steps, one for the
daily series; identical SQL on SQLite and PostgreSQL except for the local-day expression.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    distinct,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from lienthong.adapters.tables import ClockEvent, Dossier, Step
from lienthong.models.chains import CHAIN_STEPS
from lienthong.models.history import RETURNED
from lienthong.models.report import FIGURES, USUAL_AGENCY, DayPoint, Figures, Period, Row, Scope
from lienthong.models.status import (
    Agency,
    Chain,
    DossierStatus,
    StepKind,
    StepStatus,
)

_CLOSED_DOSSIERS = (DossierStatus.REFUSED, DossierStatus.WITHDRAWN)
_OPEN_DOSSIERS = (
    DossierStatus.RECEIVED,
    DossierStatus.HELD,
    DossierStatus.IN_PROGRESS,
    DossierStatus.AWAITING_SUPPLEMENT,
)
# A step is closed once its agency decided for good (or the applicant withdrew); every other
# status of a started step is open: in progress, awaiting the agency's decision (its limit
# runs, the longer one with verification), failed or error on our side (the citizen still
# waits), awaiting the applicant, or pending again after a supplement.
_CLOSED_STEPS = (StepStatus.SUCCEEDED, StepStatus.REFUSED, StepStatus.WITHDRAWN)
_OPEN_STEPS = tuple(s for s in StepStatus if s not in _CLOSED_STEPS and s != StepStatus.SKIPPED)


def _within(
    column: InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None], period: Period
) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def _counts(conditions: dict[str, ColumnElement[bool]]) -> list[ColumnElement[int]]:
    return [func.count().filter(conditions[name]).label(name) for name in FIGURES]


def _dossier_open_at(moment: datetime) -> ColumnElement[bool]:
    """Received before ``moment`` and not closed before it. Each branch has its index:
    still open (status), completed at or after (completed_at), refused or withdrawn at or
    after it (status, updated_at: a closed dossier takes no more changes)."""
    return and_(
        Dossier.received_at < moment,
        or_(
            Dossier.status.in_(_OPEN_DOSSIERS),
            and_(Dossier.status == DossierStatus.COMPLETED, Dossier.completed_at >= moment),
            and_(Dossier.status.in_(_CLOSED_DOSSIERS), Dossier.updated_at >= moment),
        ),
    )


def _step_open_at(moment: datetime) -> ColumnElement[bool]:
    """First started before ``moment`` and not decided for good before it."""
    return and_(
        Step.first_started_at < moment,
        or_(
            Step.status.in_(_OPEN_STEPS),
            and_(Step.status.in_(_CLOSED_STEPS), Step.finished_at >= moment),
        ),
    )


def _due_in_force(moment: datetime, step_kind: InstrumentedAttribute[StepKind] | None) -> Any:
    """The due instant in force just before ``moment``: that of the dossier's (or step's)
    latest clock event before it; none while the clock is stopped (models/history.py)."""
    kind_matches = (
        ClockEvent.step_kind.is_(None) if step_kind is None else ClockEvent.step_kind == step_kind
    )
    dossier_id = Dossier.id if step_kind is None else Step.dossier_id
    return (
        select(ClockEvent.due_at)
        .where(ClockEvent.dossier_id == dossier_id, kind_matches, ClockEvent.occurred_at < moment)
        .order_by(ClockEvent.occurred_at.desc(), ClockEvent.id.desc())
        .limit(1)
        .correlate_except(ClockEvent)
        .scalar_subquery()
    )


def _resolution(
    resolved: ColumnElement[bool],
    on_time: InstrumentedAttribute[bool | None],
    finished: ColumnElement[str],
    due: ColumnElement[str],
) -> dict[str, ColumnElement[bool]]:
    """Before the due day, on it (by the due instant), after the due instant. "On time"
    counts every one done by its due instant here, less the early ones in :func:`_figures`,
    so the local days are compared once per row."""
    return {
        "resolved_early": and_(resolved, on_time.is_(True), finished < due),
        "resolved_on_time": and_(resolved, on_time.is_(True)),
        "resolved_late": and_(resolved, on_time.is_(False)),
    }


def _dossier_conditions(period: Period, dialect: str) -> dict[str, ColumnElement[bool]]:
    resolved = and_(
        Dossier.status == DossierStatus.COMPLETED, _within(Dossier.completed_at, period)
    )
    open_at_end = _dossier_open_at(period.end)
    overdue = _due_in_force(period.end, None) < period.end
    return {
        "carried_over": _dossier_open_at(period.start),
        "new": _within(Dossier.received_at, period),
        **_resolution(
            resolved,
            Dossier.on_time,
            _local_day(Dossier.completed_at, dialect, period),
            _local_day(Dossier.due_at, dialect, period),
        ),
        # The whole backlog here; less the overdue ones in :func:`_figures`, so the due
        # instant in force is looked up once per row.
        "in_progress_within": open_at_end,
        "in_progress_overdue": and_(open_at_end, overdue),
        # Counted by their own query over the clock history: always false here.
        "returned": false(),
        "refused": and_(
            Dossier.status == DossierStatus.REFUSED, _within(Dossier.updated_at, period)
        ),
        "withdrawn": and_(
            Dossier.status == DossierStatus.WITHDRAWN, _within(Dossier.updated_at, period)
        ),
    }


def _step_conditions(period: Period, dialect: str) -> dict[str, ColumnElement[bool]]:
    resolved = and_(Step.status == StepStatus.SUCCEEDED, _within(Step.finished_at, period))
    open_at_end = _step_open_at(period.end)
    overdue = _due_in_force(period.end, Step.kind) < period.end
    return {
        "carried_over": _step_open_at(period.start),
        "new": _within(Step.first_started_at, period),
        **_resolution(
            resolved,
            Step.on_time,
            _local_day(Step.finished_at, dialect, period),
            _local_day(Step.due_at, dialect, period),
        ),
        "in_progress_within": open_at_end,
        "in_progress_overdue": and_(open_at_end, overdue),
        "returned": false(),
        "refused": and_(Step.status == StepStatus.REFUSED, _within(Step.finished_at, period)),
        "withdrawn": and_(Step.status == StepStatus.WITHDRAWN, _within(Step.finished_at, period)),
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


def _rows_to_read(conditions: dict[str, ColumnElement[bool]]) -> ColumnElement[bool]:
    """The WHERE: the OR of the figures' own conditions, each branch on its index; the
    backlog's due instant in force (a subquery) is read only for the rows it keeps."""
    backlog = ("in_progress_within", "in_progress_overdue", "returned")
    return or_(*(c for name, c in conditions.items() if name not in backlog))


def dossier_query(period: Period, scope: Scope, dialect: str) -> Select[tuple[Any, ...]]:
    """Per chain, over dossiers."""
    conditions = _dossier_conditions(period, dialect)
    where = or_(_rows_to_read(conditions), _dossier_open_at(period.end))
    query = (
        select(Dossier.chain, *_counts(conditions)).where(_counted(), where).group_by(Dossier.chain)
    )
    return _in_scope(query, scope)


def step_query(period: Period, scope: Scope, dialect: str) -> Select[tuple[Any, ...]]:
    """Per step kind and agency (the funeral allowance is paid by Social Insurance or Social
    Affairs); dossiers are joined only to scope."""
    conditions = _step_conditions(period, dialect)
    where = or_(_rows_to_read(conditions), _step_open_at(period.end))
    query = (
        select(Step.kind, Step.agency, *_counts(conditions))
        .where(where)
        .group_by(Step.kind, Step.agency)
    )
    if scope.province is not None or scope.commune is not None:
        query = _in_scope(query.join(Dossier, Dossier.id == Step.dossier_id), scope)
    return query


def returned_query(period: Period, scope: Scope) -> Select[tuple[Any, ...]]:
    """Dossiers and steps returned for supplementation in the period, each once, from the
    clock history (a range scan of its (event, occurred_at) index): a dossier returned in
    March and completed in April counts in March, whenever the report runs."""
    step_agency = (
        select(Step.agency)
        .where(Step.dossier_id == ClockEvent.dossier_id, Step.kind == ClockEvent.step_kind)
        .correlate(ClockEvent)
        .scalar_subquery()
    )
    query = (
        select(
            Dossier.chain,
            ClockEvent.step_kind,
            step_agency.label("agency"),
            func.count(distinct(ClockEvent.dossier_id)),
        )
        .join(Dossier, Dossier.id == ClockEvent.dossier_id)
        .where(ClockEvent.event == RETURNED, _within(ClockEvent.occurred_at, period))
        .group_by(Dossier.chain, ClockEvent.step_kind, step_agency)
    )
    return _in_scope(query, scope)


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
        ).where(
            base,
            Dossier.status == DossierStatus.COMPLETED,
            _within(Dossier.completed_at, period),
        ),
        scope,
    )
    events = union_all(received, resolved).subquery()
    return (
        select(events.c.day, func.sum(events.c.received), func.sum(events.c.resolved))
        .group_by(events.c.day)
        .order_by(events.c.day)
    )


def _figures(values: tuple[Any, ...]) -> Figures:
    counts = {name: int(v or 0) for name, v in zip(FIGURES, values, strict=True)}
    counts["in_progress_within"] -= counts["in_progress_overdue"]  # the backlog, less overdue
    counts["resolved_on_time"] -= counts["resolved_early"]  # by the due instant, less early
    return Figures(**counts)


class SqlReportQueries:
    """The report's queries in the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def figures(self, period: Period, scope: Scope) -> tuple[list[Row], list[DayPoint]]:
        return figures(self._session, period, scope)


def figures(session: Session, period: Period, scope: Scope) -> tuple[list[Row], list[DayPoint]]:
    """Run the queries; every chain, step and agency has a row, zeros included.

    A chain's rows: the chain, then each step as performed by each agency that performed it
    (every step at least once, by its usual agency), then each agency's steps together.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # PostgreSQL's JIT compiles these short aggregates for longer than they run (1.6 s
        # of compilation for a 20 ms scan, as the backlog's per-row look-ups of the due
        # instant in force raise the estimated cost): off for this transaction only.
        session.execute(text("SET LOCAL jit = off"))
    by_chain = {
        Chain(r[0]): _figures(tuple(r[1:]))
        for r in session.execute(dossier_query(period, scope, dialect))
    }
    by_step = {
        (StepKind(r[0]), Agency(r[1])): _figures(tuple(r[2:]))
        for r in session.execute(step_query(period, scope, dialect))
    }
    for chain_value, kind, agency, count in session.execute(returned_query(period, scope)):
        if kind is None:
            key_chain = Chain(chain_value)
            by_chain[key_chain] = replace(by_chain.get(key_chain, Figures()), returned=count)
        elif agency is not None:
            key = (StepKind(kind), Agency(agency))
            by_step[key] = replace(by_step.get(key, Figures()), returned=count)
    rows: list[Row] = []
    for chain, kinds in CHAIN_STEPS.items():
        rows.append(Row(chain, None, by_chain.get(chain, Figures())))
        step_rows = [
            Row(chain, kind, by_step.get((kind, agency), Figures()), agency)
            for kind in kinds
            for agency in _agencies(kind, by_step)
        ]
        rows += step_rows
        for agency in dict.fromkeys(r.agency for r in step_rows if r.agency is not None):
            total = sum((r.figures for r in step_rows if r.agency == agency), Figures())
            rows.append(Row(chain, None, total, agency))
    counted = {
        date.fromisoformat(str(day)): (int(rec or 0), int(res or 0))
        for day, rec, res in session.execute(day_query(period, scope, dialect))
    }
    days = [DayPoint(d, *counted.get(d, (0, 0))) for d in period.days()]
    return rows, days


def _agencies(kind: StepKind, by_step: dict[tuple[StepKind, Agency], Figures]) -> list[Agency]:
    """The agencies that performed ``kind`` in the figures, or its usual one when none did."""
    found = sorted((a for k, a in by_step if k == kind), key=lambda a: a.value)
    return found or [USUAL_AGENCY[kind]]
