"""The simulator's own SQLite file: idempotency replies, registrations, webhook receipts.

One connection guarded by one lock: every agency call runs as a single transaction that
checks the idempotency key, applies the agency's rules and stores the reply together, so a
crash or a dropped connection can never leave a registration without its replay entry.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    agency TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    status_code INTEGER NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (agency, key)
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT, agency TEXT NOT NULL, kind TEXT NOT NULL,
    dossier_reference TEXT NOT NULL, idempotency_key TEXT NOT NULL, reference TEXT NOT NULL,
    body TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (
    namespace TEXT NOT NULL, value TEXT NOT NULL, owner TEXT NOT NULL,
    PRIMARY KEY (namespace, value)
);
CREATE TABLE IF NOT EXISTS receipts (
    agency TEXT NOT NULL, receipt_number TEXT NOT NULL, kind TEXT NOT NULL,
    dossier_reference TEXT NOT NULL, idempotency_key TEXT NOT NULL, request TEXT NOT NULL,
    decide_at REAL NOT NULL, verify INTEGER NOT NULL, outcome TEXT NOT NULL,
    notice TEXT, created_at TEXT NOT NULL,
    PRIMARY KEY (agency, receipt_number)
);
CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, slug TEXT NOT NULL, event_id TEXT NOT NULL,
    timestamp INTEGER NOT NULL, body TEXT NOT NULL, received_at TEXT NOT NULL,
    UNIQUE (slug, event_id)
);
CREATE TABLE IF NOT EXISTS webhook_repeats (
    id INTEGER PRIMARY KEY AUTOINCREMENT, slug TEXT NOT NULL, event_id TEXT NOT NULL,
    received_at TEXT NOT NULL
);
"""

# Registered "before the simulator started": the demo's duplicate birth certificate.
SEED_CLAIMS = (("medical_birth_certificate", "GCS-DUPLICATE-0001", "KS-SEED-000001"),)


class IdempotencyConflict(Exception):
    """The key was already used with a different request."""


@dataclass(frozen=True)
class StoredReply:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Ledger:
    """What an agency handler may do inside its transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def next_value(self, sequence: str) -> int:
        """1, 2, 3... per named sequence."""
        row = self._conn.execute(
            "INSERT INTO sequences (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            (sequence,),
        ).fetchone()
        return int(row[0])

    def owner_of(self, namespace: str, value: str) -> str | None:
        """Who already holds a unique fact (e.g. a birth certificate number), if anyone."""
        row = self._conn.execute(
            "SELECT owner FROM claims WHERE namespace = ? AND value = ?", (namespace, value)
        ).fetchone()
        return None if row is None else str(row[0])

    def claim(self, namespace: str, value: str, owner: str) -> None:
        self._conn.execute(
            "INSERT INTO claims (namespace, value, owner) VALUES (?, ?, ?)",
            (namespace, value, owner),
        )

    def add_receipt(
        self,
        agency: str,
        kind: str,
        dossier_reference: str,
        idempotency_key: str,
        request: dict[str, Any],
        decide_at: float,
        verify: bool,
    ) -> str:
        """Keep a request to decide later; returns its receipt number."""
        receipt_number = f"BN-{agency.upper()}-{self.next_value(f'receipt:{agency}'):08d}"
        self._conn.execute(
            "INSERT INTO receipts (agency, receipt_number, kind, dossier_reference,"
            " idempotency_key, request, decide_at, verify, outcome, notice, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, ?)",
            (
                agency,
                receipt_number,
                kind,
                dossier_reference,
                idempotency_key,
                json.dumps(request),
                decide_at,
                int(verify),
                _now(),
            ),
        )
        return receipt_number

    def record(
        self,
        agency: str,
        kind: str,
        dossier_reference: str,
        idempotency_key: str,
        reference: str,
        body: dict[str, Any],
    ) -> None:
        self._conn.execute(
            "INSERT INTO records (agency, kind, dossier_reference, idempotency_key, reference,"
            " body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (agency, kind, dossier_reference, idempotency_key, reference, json.dumps(body), _now()),
        )


@dataclass(frozen=True)
class PendingReceipt:
    """A request an agency acknowledged and has not finally decided yet."""

    agency: str
    receipt_number: str
    kind: str
    dossier_reference: str
    idempotency_key: str
    request: dict[str, Any]
    verify: bool
    outcome: str


class SimulatorStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)
        self._conn.executemany(
            "INSERT OR IGNORE INTO claims (namespace, value, owner) VALUES (?, ?, ?)", SEED_CLAIMS
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def run_once(
        self,
        agency: str,
        key: str,
        fingerprint: str,
        handler: Callable[[Ledger], tuple[int, dict[str, Any]]],
    ) -> StoredReply:
        """Replay the stored reply for ``key``, or run ``handler`` and store its reply.

        Raises :class:`IdempotencyConflict` when ``key`` was used for a different request.
        If ``handler`` raises, nothing it did is kept.
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                reply = self._replay(agency, key, fingerprint)
                if reply is None:
                    status_code, body = handler(Ledger(self._conn))
                    self._conn.execute(
                        "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                        (agency, key, fingerprint, status_code, json.dumps(body), _now()),
                    )
                    reply = StoredReply(status_code, body, replayed=False)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return reply

    def _replay(self, agency: str, key: str, fingerprint: str) -> StoredReply | None:
        row = self._conn.execute(
            "SELECT fingerprint, status_code, body FROM idempotency WHERE agency = ? AND key = ?",
            (agency, key),
        ).fetchone()
        if row is None:
            return None
        if row[0] != fingerprint:
            raise IdempotencyConflict(key)
        return StoredReply(int(row[1]), json.loads(row[2]), replayed=True)

    def due_receipts(self, now: float) -> list[PendingReceipt]:
        """Receipts whose (next) decision is due, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT agency, receipt_number, kind, dossier_reference, idempotency_key,"
                " request, verify, outcome FROM receipts WHERE decide_at <= ?"
                " AND outcome IN ('pending', 'verification_needed') ORDER BY decide_at",
                (now,),
            ).fetchall()
        return [
            PendingReceipt(a, r, k, d, i, json.loads(req), bool(v), o)
            for a, r, k, d, i, req, v, o in rows
        ]

    def decide_now(self, agency: str, receipt_number: str) -> bool:
        """Make an undecided receipt due now (the officer gets to it); False if none."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE receipts SET decide_at = 0 WHERE agency = ? AND receipt_number = ?"
                " AND outcome IN ('pending', 'verification_needed')",
                (agency, receipt_number),
            )
            return cursor.rowcount == 1

    def decide_receipt(
        self,
        agency: str,
        receipt_number: str,
        decide: Callable[[Ledger], tuple[str, dict[str, Any]]],
        next_at: float,
    ) -> dict[str, Any] | None:
        """Run ``decide`` (-> outcome, notice) once for a due receipt, in one transaction.

        ``next_at`` is when an interim outcome is followed by the final one. None when the
        receipt was decided meanwhile.
        """
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    "SELECT outcome FROM receipts WHERE agency = ? AND receipt_number = ?",
                    (agency, receipt_number),
                ).fetchone()
                if row is None or row[0] not in ("pending", "verification_needed"):
                    self._conn.execute("ROLLBACK")
                    return None
                outcome, notice = decide(Ledger(self._conn))
                self._conn.execute(
                    "UPDATE receipts SET outcome = ?, notice = ?, decide_at = ?"
                    " WHERE agency = ? AND receipt_number = ?",
                    (outcome, json.dumps(notice), next_at, agency, receipt_number),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return notice

    def receipt_notice(self, agency: str, receipt_number: str) -> dict[str, Any] | None:
        """The latest notice on a receipt: None if unknown, ``pending`` before any."""
        with self._lock:
            row = self._conn.execute(
                "SELECT dossier_reference, notice FROM receipts"
                " WHERE agency = ? AND receipt_number = ?",
                (agency, receipt_number),
            ).fetchone()
        if row is None:
            return None
        if row[1] is None:
            return {
                "receipt_number": receipt_number,
                "dossier_reference": row[0],
                "outcome": "pending",
            }
        notice: dict[str, Any] = json.loads(row[1])
        return notice

    def records(self, agency: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, dossier_reference, idempotency_key, reference, body, created_at "
                "FROM records WHERE agency = ? ORDER BY id",
                (agency,),
            ).fetchall()
        return [
            {
                "kind": kind,
                "dossier_reference": dossier_reference,
                "idempotency_key": idempotency_key,
                "reference": reference,
                "result": json.loads(body),
                "created_at": created_at,
            }
            for kind, dossier_reference, idempotency_key, reference, body, created_at in rows
        ]

    def receive_webhook(self, slug: str, event_id: str, timestamp: int, body: bytes) -> bool:
        """Store a notification; False when this event id was already received (the repeat
        is counted, for :meth:`webhook_stats`)."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO webhooks (slug, event_id, timestamp, body, received_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (slug, event_id, timestamp, body.decode(), _now()),
            )
            if cursor.rowcount == 1:
                return True
            self._conn.execute(
                "INSERT INTO webhook_repeats (slug, event_id, received_at) VALUES (?, ?, ?)",
                (slug, event_id, _now()),
            )
            return False

    def webhook_stats(self) -> dict[str, dict[str, int]]:
        """Per receiver: notifications kept (``received``) and repeated deliveries of an
        event id already kept, acknowledged and dropped (``duplicates``)."""
        with self._lock:
            received = self._conn.execute(
                "SELECT slug, count(*) FROM webhooks GROUP BY slug"
            ).fetchall()
            repeats = dict(
                self._conn.execute(
                    "SELECT slug, count(*) FROM webhook_repeats GROUP BY slug"
                ).fetchall()
            )
        stats = {slug: {"received": count, "duplicates": 0} for slug, count in received}
        for slug, count in repeats.items():
            stats.setdefault(slug, {"received": 0, "duplicates": 0})["duplicates"] = count
        return stats

    def received_webhooks(self, slug: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT event_id, timestamp, body, received_at FROM webhooks "
                "WHERE slug = ? ORDER BY id",
                (slug,),
            ).fetchall()
        return [
            {
                "event_id": event_id,
                "timestamp": timestamp,
                "payload": json.loads(body),
                "received_at": received_at,
            }
            for event_id, timestamp, body, received_at in rows
        ]
