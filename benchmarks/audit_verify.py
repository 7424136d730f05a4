"""Verify an audit trail of 1,000,000 events on PostgreSQL: the hash chain recomputed, every
event replayed and compared with every dossier and step row, as `lienthong audit verify`.

    .venv/bin/python -m benchmarks.audit_verify [--events N] [--keep]

Creates a throwaway database on ``LIENTHONG_TEST_POSTGRES_URL`` (default: the local
server), loads birth dossiers that went through their three steps, with their rows and
nine audit events each, chained exactly as the audit log chains them (``COPY``), then
times ``services.audit_trail.verify``. Target: under 10 s. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from benchmarks.report_1m import DOSSIER_COLUMNS, STEP_COLUMNS, database, flag, ts
from lienthong.adapters.database import canonical_json, make_engine
from lienthong.bootstrap import build_container
from lienthong.models.audit import GENESIS_HASH, AuditRecord, chained
from lienthong.models.chains import CHAIN_STEPS
from lienthong.models.status import Chain
from lienthong.services.audit_trail import verify
from lienthong.settings import Settings

FIRST = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
EVENTS_PER_DOSSIER = 9
CHUNK_DOSSIERS = 20_000
KINDS = [kind.value for kind in CHAIN_STEPS[Chain.BIRTH]]
AGENCIES = ("justice", "police", "social_insurance")
EVENT_COLUMNS = (
    "id, occurred_at, actor, action, dossier_reference, step_kind, status_before, "
    "status_after, reason, flow_run_id, details, prev_hash, hash"
)


def _records(reference: str, at: datetime) -> Iterator[AuditRecord]:
    """A birth dossier's nine lifecycle events, as the services record them."""
    run = f"run-{reference}"
    yield AuditRecord(
        "operator-1",
        "dossier_received",
        at,
        reference,
        status_after="received",
        details={"late_filing": False, "steps": KINDS},
    )
    for position, kind in enumerate(KINDS):
        at += timedelta(minutes=1)
        yield AuditRecord(
            "system",
            "step_status_changed",
            at,
            reference,
            kind,
            "pending",
            "in_progress",
            flow_run_id=run,
            details={"attempt": 1},
        )
        if position == 0:
            yield AuditRecord(
                "system", "dossier_status_changed", at, reference, None, "received", "in_progress"
            )
        yield AuditRecord(
            "system",
            "step_status_changed",
            at + timedelta(seconds=30),
            reference,
            kind,
            "in_progress",
            "succeeded",
            flow_run_id=run,
            details={"agency_reference": f"{kind[:3].upper()}-{reference}"},
        )
    yield AuditRecord(
        "system",
        "dossier_status_changed",
        at + timedelta(seconds=30),
        reference,
        None,
        "in_progress",
        "completed",
        flow_run_id=run,
    )


def _copy_text(value: str | None) -> str:
    if value is None:
        return r"\N"
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _chunk(first_dossier: int, count: int, event_id: int, head: str) -> tuple[str, ...]:
    dossiers, steps, events = io.StringIO(), io.StringIO(), io.StringIO()
    for dossier_id in range(first_dossier, first_dossier + count):
        reference = f"HT-2025-{dossier_id:07d}"
        at = FIRST + timedelta(seconds=dossier_id * 7)
        for record in _records(reference, at):
            stored, hash_ = chained(head, record)
            details = canonical_json(stored.details) if stored.details else None
            fields = (
                str(event_id),
                ts(stored.occurred_at),
                *(
                    _copy_text(v)
                    for v in (
                        stored.actor,
                        stored.action,
                        stored.dossier_reference,
                        stored.step_kind,
                        stored.status_before,
                        stored.status_after,
                        stored.reason,
                        stored.flow_run_id,
                        details,
                    )
                ),
                head,
                hash_,
            )
            events.write("\t".join(fields) + "\n")
            head, event_id = hash_, event_id + 1
        done = ts(at + timedelta(minutes=4))
        dossiers.write(
            "\t".join(
                (
                    str(dossier_id),
                    reference,
                    "birth",
                    "completed",
                    "079",
                    "26734",
                    ts(at),
                    ts(at),
                    ts(at + timedelta(days=5)),
                    done,
                    flag(True),
                    "f",
                    "{}",
                    r"\N",
                    r"\N",
                    r"\N",
                    ts(at),
                    done,
                    "1",
                )
            )
            + "\n"
        )
        for position, (kind, agency) in enumerate(zip(KINDS, AGENCIES, strict=True)):
            steps.write(
                "\t".join(
                    (
                        str(dossier_id * 4 + position),
                        str(dossier_id),
                        kind,
                        agency,
                        str(position),
                        "succeeded",
                        "1",
                        f"{reference}:{kind}:r0",
                        ts(at),
                        done,
                        ts(at + timedelta(days=2)),
                        flag(True),
                        done,
                        "1",
                    )
                )
                + f"\t{kind[:3].upper()}-{reference}\n"
            )
    return dossiers.getvalue(), steps.getvalue(), events.getvalue(), head


def load(engine: Engine, events: int) -> int:
    """Load dossiers with ``events`` audit events in all; returns the events loaded."""
    total_dossiers = -(-events // EVENTS_PER_DOSSIER)
    connection = engine.raw_connection()
    head, event_id = GENESIS_HASH, 1
    try:
        cursor = connection.cursor()
        for first in range(1, total_dossiers + 1, CHUNK_DOSSIERS):
            count = min(CHUNK_DOSSIERS, total_dossiers + 1 - first)
            dossiers, steps, chunk_events, head = _chunk(first, count, event_id, head)
            event_id += count * EVENTS_PER_DOSSIER
            cursor.copy_expert(
                f"COPY dossiers ({DOSSIER_COLUMNS}) FROM STDIN", io.StringIO(dossiers)
            )
            cursor.copy_expert(
                f"COPY steps ({STEP_COLUMNS}, agency_reference) FROM STDIN", io.StringIO(steps)
            )
            cursor.copy_expert(
                f"COPY audit_events ({EVENT_COLUMNS}) FROM STDIN", io.StringIO(chunk_events)
            )
        for table in ("dossiers", "steps", "audit_events"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        connection.commit()
    finally:
        connection.close()
    return event_id - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args()
    with database(args.keep) as url:
        started = time.perf_counter()
        engine = make_engine(url)
        loaded = load(engine, args.events)
        engine.dispose()
        print(f"loaded {loaded:,} audit events in {time.perf_counter() - started:.1f} s (COPY)")
        container = build_container(Settings(database_url=url))
        try:
            durations, cpu = [], []
            for _ in range(args.repeat):
                started, started_cpu = time.perf_counter(), time.process_time()
                result = verify(container)
                durations.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                assert result.intact, (result.first_break, result.mismatches[:3])
                assert result.checked == loaded
        finally:
            container.close()
        print(
            f"audit verify of {loaded:,} events (chain + replay against every row): "
            f"best {min(durations):.2f} s, median {statistics.median(durations):.2f} s "
            f"({loaded / min(durations):,.0f} events/s); this process's CPU: "
            f"best {min(cpu):.2f} s (the rest is PostgreSQL's and waiting for a core)"
        )


if __name__ == "__main__":
    main()
