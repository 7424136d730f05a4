"""The tamper-evident audit trail: append events to a hash chain, and verify the chain.

Each event's hash is SHA-256 over the previous event's hash and a canonical JSON encoding
of the event's own fields, so altering, deleting or reordering any stored event breaks
every hash after it. ``verify_chain`` recomputes the chain from the first event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from models.tables import AuditEvent

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the PostgreSQL advisory lock that serialises appends.
_APPEND_LOCK_KEY = 0x4C54_4155_4449_54  # "LTAUDIT"


@dataclass(frozen=True)
class AuditRecord:
    """What happened, by whom; the chain fields are added by :func:`append_event`."""

    actor: str
    action: str
    occurred_at: datetime
    dossier_reference: str | None = None
    step_kind: str | None = None
    status_before: str | None = None
    status_after: str | None = None
    reason: str | None = None
    flow_run_id: str | None = None
    details: Mapping[str, Any] | None = None


def _hashed_fields(event: AuditRecord | AuditEvent) -> dict[str, Any]:
    return {
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": event.actor,
        "action": event.action,
        "dossier_reference": event.dossier_reference,
        "step_kind": event.step_kind,
        "status_before": event.status_before,
        "status_after": event.status_after,
        "reason": event.reason,
        "flow_run_id": event.flow_run_id,
        "details": event.details,
    }


def canonical_encoding(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def event_hash(prev_hash: str, event: AuditRecord | AuditEvent) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_encoding(_hashed_fields(event)))
    return digest.hexdigest()


def _lock_chain_head(session: Session) -> None:
    """Serialise appends on PostgreSQL; SQLite already holds its write lock (BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK_KEY})


def _chain_head(session: Session) -> str:
    head = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return head or GENESIS_HASH


def append_event(session: Session, record: AuditRecord) -> AuditEvent:
    """Add ``record`` to the chain inside the caller's transaction.

    The event commits or rolls back with the status change it describes. Should two
    writers still race, the unique ``prev_hash`` makes the second transaction fail rather
    than fork the chain.
    """
    if record.occurred_at.tzinfo is None:
        raise ValueError("audit events need a timezone-aware time")
    # Round-trip details through JSON so the hash covers exactly what the database keeps.
    details = json.loads(canonical_encoding(record.details)) if record.details else None
    _lock_chain_head(session)
    prev_hash = _chain_head(session)
    event = AuditEvent(
        occurred_at=record.occurred_at,
        actor=record.actor,
        action=record.action,
        dossier_reference=record.dossier_reference,
        step_kind=record.step_kind,
        status_before=record.status_before,
        status_after=record.status_after,
        reason=record.reason,
        flow_run_id=record.flow_run_id,
        details=details,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(prev_hash, event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    problem: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_break: ChainBreak | None
    # The hash of the last event verified: publish it, and check it later with ``anchor``.
    head: str = GENESIS_HASH
    # Whether the anchor given to verify_chain is still an event of the chain.
    anchor_found: bool | None = None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def _events_in_order(session: Session) -> Iterator[AuditEvent]:
    yield from session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    )


def verify_chain(session: Session, anchor: str | None = None) -> VerifyResult:
    """Recompute the whole chain; report the first event whose link or content is wrong.

    A chain whose newest events were deleted is still a valid, shorter chain. To detect
    that, pass as ``anchor`` a head hash published earlier (printed by ``lienthong audit
    verify``): ``anchor_found`` is False when no event has that hash any more.
    """
    expected_prev = GENESIS_HASH
    checked = 0
    found = None if anchor is None else False
    for event in _events_in_order(session):
        if event.prev_hash != expected_prev:
            return VerifyResult(
                checked,
                ChainBreak(event.id, "its previous-hash does not match the event before it"),
                expected_prev,
                found,
            )
        if event_hash(event.prev_hash, event) != event.hash:
            return VerifyResult(
                checked,
                ChainBreak(event.id, "its content does not match its hash"),
                expected_prev,
                found,
            )
        expected_prev = event.hash
        checked += 1
        if event.hash == anchor:
            found = True
    return VerifyResult(checked, None, expected_prev, found)
