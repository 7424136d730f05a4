"""The overdue sweep's candidates, pre-filtered by the database (rules: models/overdue.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import Session

from lienthong.adapters.database import without_jit
from lienthong.adapters.tables import Dossier, Step
from lienthong.models.overdue import (
    CHAIN_CLOCK_RUNNING,
    CLOCK_RUNNING,
    READY_STATUSES,
    DossierCandidate,
    StepCandidate,
)
from lienthong.models.status import STOPPED_STEP_STATUSES, DossierStatus, StepStatus


def candidates_query(
    now: datetime, due_soon_limit: datetime, stuck_after: timedelta, supplement_window: int
) -> Select[tuple[Any, ...]]:
    """The one query that finds every candidate step; the benchmark times it.

    Each branch of the OR is served by ``ix_steps_status_due`` (status first). The
    supplementation branch is pre-filtered with a bound that cannot miss: a window of
    N >= 1 working days never closes less than N calendar days after the request.
    """
    return (
        select(
            Step.id.label("step_id"),
            Dossier.reference,
            Dossier.chain,
            Dossier.province_code,
            Dossier.commune_code,
            Step.kind,
            Step.agency,
            Step.status,
            Step.due_at,
            Step.updated_at,
            Step.finished_at,
            Dossier.lease_owner,
            Dossier.lease_expires_at,
        )
        .join(Dossier, Dossier.id == Step.dossier_id)
        .where(
            or_(
                and_(Step.status.in_(CLOCK_RUNNING), Step.due_at <= due_soon_limit),
                Step.status.in_(STOPPED_STEP_STATUSES),
                and_(
                    Step.status == StepStatus.IN_PROGRESS,
                    Step.updated_at < now - stuck_after,
                ),
                and_(
                    Step.status == StepStatus.AWAITING_SUPPLEMENT,
                    Step.finished_at < now - timedelta(days=supplement_window),
                ),
            )
        )
        .order_by(Step.id)
    )


def dossiers_query(now: datetime, stuck_after: timedelta) -> Select[tuple[Any, ...]]:
    """Dossiers never started, stalled between steps or past their chain's due instant;
    the benchmark times it.

    Only the columns the sweep needs (not the payload). Both branches of the OR start with
    the dossier's status, so each is an index search (a multi-index OR on SQLite, a
    BitmapOr on PostgreSQL): the first on ``ix_dossiers_status_updated`` (status, updated_at)
    or ``ix_dossiers_status``, the second on the status index over the open dossiers only
    (received or in progress: the backlog, a small part of the table), then ``due_at`` is
    checked on those rows. No (status, due_at) index: with one million dossiers and a backlog
    of 58k open ones this query takes about 0.2 s on PostgreSQL (benchmarks/report_1m.py).
    The stalled branch reads dossiers in progress with a pending step and none busy: both
    sets of steps come from ``ix_steps_status_due`` (status first); how recently their steps
    changed is left to :func:`models.overdue.classify` (no index on ``steps.updated_at``).
    """
    quiet_since = now - stuck_after
    pending = exists().where(Step.dossier_id == Dossier.id, Step.status == StepStatus.PENDING)
    busy = exists().where(Step.dossier_id == Dossier.id, Step.status.in_(BUSY_STATUSES))
    return (
        select(
            Dossier.id,
            Dossier.reference,
            Dossier.chain,
            Dossier.province_code,
            Dossier.commune_code,
            Dossier.status,
            Dossier.received_at,
            Dossier.due_at,
            Dossier.updated_at,
            Dossier.lease_owner,
            Dossier.lease_expires_at,
        )
        .where(
            Dossier.chain.is_not(None),
            or_(
                and_(
                    Dossier.status == DossierStatus.RECEIVED,
                    Dossier.updated_at < quiet_since,
                    Dossier.received_at < quiet_since,
                ),
                and_(Dossier.status.in_(CHAIN_CLOCK_RUNNING), Dossier.due_at < now),
                and_(
                    Dossier.status == DossierStatus.IN_PROGRESS,
                    Dossier.updated_at < quiet_since,
                    pending,
                    ~busy,
                ),
            ),
        )
        .order_by(Dossier.id)
    )


# A step in one of these is going on or stopped: its dossier is not stalled.
BUSY_STATUSES = tuple(s for s in StepStatus if s not in READY_STATUSES)


class SqlSweepQueries:
    """The sweep's queries in the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def step_candidates(
        self, now: datetime, due_soon_limit: datetime, stuck_after: timedelta, window_days: int
    ) -> list[StepCandidate]:
        without_jit(self._session)
        query = candidates_query(now, due_soon_limit, stuck_after, window_days)
        return [StepCandidate(**row._asdict()) for row in self._session.execute(query)]

    def dossier_candidates(self, now: datetime, stuck_after: timedelta) -> list[DossierCandidate]:
        without_jit(self._session)
        query = dossiers_query(now, stuck_after)
        rows = [row._asdict() for row in self._session.execute(query)]
        open_ids = [r["id"] for r in rows if r["status"] == DossierStatus.IN_PROGRESS]
        steps = self._steps_of(open_ids)
        return [
            DossierCandidate(
                **row,
                step_statuses=tuple(s for s, _ in steps.get(row["id"], [])),
                steps_updated_at=max((u for _, u in steps.get(row["id"], [])), default=None),
            )
            for row in rows
        ]

    def _steps_of(self, dossier_ids: list[int]) -> dict[int, list[tuple[StepStatus, datetime]]]:
        """Each dossier's steps' (status, updated_at), in chain order."""
        found: dict[int, list[tuple[StepStatus, datetime]]] = {}
        if not dossier_ids:
            return found
        query = (
            select(Step.dossier_id, Step.status, Step.updated_at)
            .where(Step.dossier_id.in_(dossier_ids))
            .order_by(Step.dossier_id, Step.position)
        )
        for dossier_id, status, updated_at in self._session.execute(query):
            found.setdefault(dossier_id, []).append((status, updated_at))
        return found
