"""The tamper-evident audit trail's rules: how an event is hashed into the chain, and how a
chain is verified.

Each event's hash is SHA-256 over the previous event's hash and a canonical JSON encoding
of the event's own fields, so altering, deleting or reordering any stored event breaks
every hash after it. :func:`verify_chain` recomputes a chain from its first event; storing
events (and serialising appends) is the audit repository's job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    """What happened, by whom; the chain fields are added when it is appended."""

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


@dataclass(frozen=True)
class AuditEntry:
    """A stored event: its record and its place in the chain."""

    id: int
    record: AuditRecord
    prev_hash: str
    hash: str


def _hashed_fields(record: AuditRecord) -> dict[str, Any]:
    return {
        "occurred_at": record.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": record.actor,
        "action": record.action,
        "dossier_reference": record.dossier_reference,
        "step_kind": record.step_kind,
        "status_before": record.status_before,
        "status_after": record.status_after,
        "reason": record.reason,
        "flow_run_id": record.flow_run_id,
        "details": record.details,
    }


def canonical_encoding(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_details(details: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``details`` as the record keeps it (a JSON round trip), so the hash covers exactly it."""
    return json.loads(canonical_encoding(details)) if details else None


def event_hash(prev_hash: str, record: AuditRecord) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_encoding(_hashed_fields(record)))
    return digest.hexdigest()


def chained(prev_hash: str, record: AuditRecord) -> tuple[AuditRecord, str]:
    """``record`` as it is stored (details canonical, time required aware) and its hash."""
    if record.occurred_at.tzinfo is None:
        raise ValueError("audit events need a timezone-aware time")
    stored = replace(record, details=canonical_details(record.details))
    return stored, event_hash(prev_hash, stored)


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


def verify_chain(entries: Iterable[AuditEntry], anchor: str | None = None) -> VerifyResult:
    """Recompute the whole chain; report the first event whose link or content is wrong.

    A chain whose newest events were deleted is still a valid, shorter chain. To detect
    that, pass as ``anchor`` a head hash published earlier (printed by ``lienthong audit
    verify``): ``anchor_found`` is False when no event has that hash any more.
    """
    expected_prev = GENESIS_HASH
    checked = 0
    found = None if anchor is None else False
    for entry in entries:
        if entry.prev_hash != expected_prev:
            return VerifyResult(
                checked,
                ChainBreak(entry.id, "its previous-hash does not match the event before it"),
                expected_prev,
                found,
            )
        if event_hash(entry.prev_hash, entry.record) != entry.hash:
            return VerifyResult(
                checked,
                ChainBreak(entry.id, "its content does not match its hash"),
                expected_prev,
                found,
            )
        expected_prev = entry.hash
        checked += 1
        if entry.hash == anchor:
            found = True
    return VerifyResult(checked, None, expected_prev, found)
