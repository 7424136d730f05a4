"""Intake's match keys and the dossiers held on them, in SQL (models/duplicates.py).

A lookup is one indexed equality per key (``ix_match_keys_digest``) joined to the matching
dossiers by primary key: its cost does not grow with the record (benchmarks/duplicates_1m.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, text
from sqlalchemy.orm import Session

from lienthong.adapters import tables
from lienthong.models.duplicates import (
    Decision,
    DuplicateFigures,
    DuplicateHold,
    Match,
    MatchKey,
    MatchRule,
)
from lienthong.models.lifecycle import Dossier
from lienthong.models.report import Period, Scope
from lienthong.models.status import DossierStatus

# Dossiers that repeat nothing any more: closed at intake or as duplicates, withdrawn,
# refused. A new dossier for the same person is not held for them.
_CLOSED_WITHOUT_EFFECT = (
    DossierStatus.REJECTED,
    DossierStatus.WITHDRAWN,
    DossierStatus.REFUSED,
)
# The first key of PostgreSQL's two-key advisory locks naming this module's ("LTDP").
_LOCK_SPACE = 0x4C54_4450 - 2**31


def _lock_id(key: MatchKey) -> int:
    """A signed 32-bit number from the key's digest (a shared one only serialises more)."""
    return int(key.digest[:8], 16) - 2**31


def _hold(row: tables.DuplicateHold, reference: str) -> DuplicateHold:
    return DuplicateHold(
        reference=reference,
        matches=tuple(Match(m["reference"], MatchRule(m["rule"])) for m in row.matches),
        held_at=row.held_at,
        decision=Decision(row.decision) if row.decision else None,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        merged_into=row.merged_into,
        reason=row.reason,
    )


def _in_scope(query: Select[Any], scope: Scope) -> Select[Any]:
    if (provinces := scope.province_codes()) is not None:
        query = query.where(tables.Dossier.province_code.in_(provinces))
    if scope.commune is not None:
        query = query.where(tables.Dossier.commune_code == scope.commune)
    return query


def _within(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start, column < period.end)


def matching_query(keys: Sequence[MatchKey]) -> Select[tuple[str, str]]:
    """The references and rules of the open dossiers sharing any of ``keys``."""
    return (
        select(tables.Dossier.reference, tables.MatchKey.rule)
        .join(tables.Dossier, tables.Dossier.id == tables.MatchKey.dossier_id)
        .where(
            tables.MatchKey.digest.in_([k.digest for k in keys]),
            tables.Dossier.status.not_in(_CLOSED_WITHOUT_EFFECT),
        )
        .order_by(tables.Dossier.reference, tables.MatchKey.rule)
    )


class SqlDuplicateIndex:
    def __init__(self, session: Session) -> None:
        self._session = session
        # Holds read in this transaction, with their rows: saved onto the same rows.
        self._rows: dict[str, tables.DuplicateHold] = {}

    def lock(self, keys: Sequence[MatchKey]) -> None:
        """PostgreSQL: a transaction's advisory lock per key, in one order (no deadlock).
        SQLite transactions begin IMMEDIATE: writers are serialised already."""
        if self._session.get_bind().dialect.name != "postgresql":
            return
        for lock_id in sorted({_lock_id(k) for k in keys}):
            self._session.execute(
                text("SELECT pg_advisory_xact_lock(:space, :id)"),
                {"space": _LOCK_SPACE, "id": lock_id},
            )

    def matching(self, keys: Sequence[MatchKey]) -> list[Match]:
        if not keys:
            return []
        rows = self._session.execute(matching_query(keys))
        return [Match(reference, MatchRule(rule)) for reference, rule in rows]

    def add_keys(self, dossier: Dossier, keys: Sequence[MatchKey]) -> None:
        if dossier.id is None:
            raise ValueError(f"dossier {dossier.reference} is not stored yet")
        self._session.add_all(
            tables.MatchKey(dossier_id=dossier.id, rule=k.rule.value, digest=k.digest) for k in keys
        )

    def add_hold(self, dossier: Dossier, hold: DuplicateHold) -> None:
        if dossier.id is None:
            raise ValueError(f"dossier {dossier.reference} is not stored yet")
        row = tables.DuplicateHold(dossier_id=dossier.id, held_at=hold.held_at, matches=[])
        self._copy(hold, row)
        self._session.add(row)
        self._rows[hold.reference] = row

    def find_hold(self, reference: str) -> DuplicateHold | None:
        row = self._session.scalar(
            select(tables.DuplicateHold)
            .join(tables.Dossier, tables.Dossier.id == tables.DuplicateHold.dossier_id)
            .where(tables.Dossier.reference == reference)
        )
        if row is None:
            return None
        self._rows[reference] = row
        return _hold(row, reference)

    def save_hold(self, hold: DuplicateHold) -> None:
        self._copy(hold, self._rows[hold.reference])

    def held(self, scope: Scope) -> list[DuplicateHold]:
        query = (
            select(tables.DuplicateHold, tables.Dossier.reference)
            .join(tables.Dossier, tables.Dossier.id == tables.DuplicateHold.dossier_id)
            .where(tables.Dossier.status == DossierStatus.HELD)
            .order_by(tables.DuplicateHold.held_at, tables.Dossier.reference)
        )
        rows = self._session.execute(_in_scope(query, scope))
        return [_hold(row, reference) for row, reference in rows]

    def figures(self, period: Period, scope: Scope) -> DuplicateFigures:
        hold = tables.DuplicateHold
        decided = _within(hold.decided_at, period)

        def count(condition: ColumnElement[bool]) -> Any:
            return func.count().filter(condition)

        query = select(
            count(_within(hold.held_at, period)),
            count(and_(decided, hold.decision == Decision.DISTINCT.value)),
            count(and_(decided, hold.decision == Decision.MERGE.value)),
            count(and_(decided, hold.decision == Decision.REJECT.value)),
            count(
                and_(
                    hold.held_at < period.end,
                    or_(hold.decided_at.is_(None), hold.decided_at >= period.end),
                    # Withdrawn while held: no longer waiting for anyone's decision.
                    tables.Dossier.status != DossierStatus.WITHDRAWN,
                )
            ),
        ).join(tables.Dossier, tables.Dossier.id == hold.dossier_id)
        # Every figure counts holds made before the period's end: one range on its index.
        query = query.where(hold.held_at < period.end)
        held, distinct, merged, rejected, still_held = self._session.execute(
            _in_scope(query, scope)
        ).one()
        return DuplicateFigures(held, distinct, merged, rejected, still_held)

    @staticmethod
    def _copy(hold: DuplicateHold, row: tables.DuplicateHold) -> None:
        row.matches = [{"reference": m.reference, "rule": m.rule.value} for m in hold.matches]
        row.decision = hold.decision.value if hold.decision else None
        row.decided_at = hold.decided_at
        row.decided_by = hold.decided_by
        row.merged_into = hold.merged_into
        row.reason = hold.reason
        row.held_at = hold.held_at
