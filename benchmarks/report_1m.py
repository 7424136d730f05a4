"""Load 1,000,000 dossiers with their steps into PostgreSQL, then time the monthly report
and the overdue sweep's finding query over them.

    .venv/bin/python -m benchmarks.report_1m [--dossiers N] [--keep]
    LIENTHONG_DATABASE_URL=... .venv/bin/python -m benchmarks.report_1m --loaded

Uses ``LIENTHONG_DATABASE_URL`` when set (it must be migrated and empty, or with
``--loaded`` hold a kept run's data: it is migrated to head and not loaded again); otherwise
creates a throwaway database on ``LIENTHONG_TEST_POSTGRES_URL`` (default: the local server)
and drops it at the end. Prints the timings, then the plans they rely on (EXPLAIN ANALYZE).
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from lienthong.adapters.database import make_engine, make_session_factory
from lienthong.adapters.report_queries import (
    day_query,
    dossier_query,
    figures,
    returned_query,
    step_query,
)
from lienthong.adapters.sweep_queries import SqlSweepQueries, candidates_query, dossiers_query
from lienthong.migrations import upgrade_database
from lienthong.models.chains import CHAIN_STEPS
from lienthong.models.deadlines import Deadlines
from lienthong.models.overdue import SweepOptions, classify, due_soon_limit
from lienthong.models.report import MonthlyReport, Period, Scope
from lienthong.models.statutory import CalendarSettings

SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 181  # January to June 2025
NOW = datetime(2025, 7, 1, 3, 0, tzinfo=UTC)  # the report runs early in July
AGENCY = {
    "birth_registration": "justice",
    "residence_registration": "police",
    "child_health_card": "social_insurance",
    "death_registration": "justice",
    "residence_removal": "police",
    "funeral_allowance": "social_insurance",
    "survivor_benefits": "social_insurance",
}
# Dossier outcomes: most complete; supplementation is common (DOMAIN.md).
OUTCOMES = (
    ("completed", 0.84),
    ("awaiting_supplement", 0.05),
    ("in_progress", 0.04),
    ("refused", 0.04),
    ("withdrawn", 0.02),
    ("rejected", 0.01),
)
CHUNK = 50_000


def ts(at: datetime | None) -> str:
    return r"\N" if at is None else at.isoformat()


def flag(value: bool | None) -> str:
    return r"\N" if value is None else ("t" if value else "f")


def _steps(
    rng: random.Random, dossier_id: int, reference: str, chain: str, status: str, received: datetime
) -> Iterator[str]:
    kinds = list(CHAIN_STEPS[chain])  # type: ignore[index]
    if chain == "death":
        kinds = kinds[: rng.choice((2, 3, 4))]
    # The step where an unfinished or refused dossier stopped.
    stop = rng.randrange(len(kinds)) if status != "completed" else len(kinds)
    at = received
    for position, kind in enumerate(kinds):
        started = finished = on_time = None
        step_status = "succeeded"
        if position < stop:
            started, finished = at, at + timedelta(hours=rng.uniform(0.1, 40))
            on_time = rng.random() < 0.96
            at = finished
        elif position == stop:
            started = at
            step_status = {
                "awaiting_supplement": "awaiting_supplement",
                "refused": "refused",
                "withdrawn": "withdrawn",
                "rejected": "pending",
            }.get(status, "")
            if status == "in_progress":
                step_status = "failed" if rng.random() < 0.2 else "in_progress"
            if step_status in ("awaiting_supplement", "refused"):
                finished = at + timedelta(hours=rng.uniform(0.1, 30))
                on_time = rng.random() < 0.9
            if step_status == "pending":
                started = None
        else:
            step_status = "skipped" if status in ("refused", "withdrawn") else "pending"
        due = started + timedelta(days=2) if started else None
        updated = finished or started or received
        yield "\t".join(
            (
                str(dossier_id * 4 + position),
                str(dossier_id),
                kind,
                AGENCY[kind],
                str(position),
                step_status,
                "1",
                f"{reference}:{kind}:r0",
                ts(started),
                ts(started),
                ts(finished),
                ts(due),
                flag(on_time),
                ts(updated),
                "1",
            )
        )


def _chunk(rng: random.Random, first: int, count: int, provinces: list[str]) -> tuple[str, str]:
    dossiers, steps = io.StringIO(), io.StringIO()
    statuses = [s for s, _ in OUTCOMES]
    weights = [w for _, w in OUTCOMES]
    for dossier_id in range(first, first + count):
        chain = "birth" if rng.random() < 0.7 else "death"
        province = rng.choice(provinces)
        commune = f"{province}{rng.randrange(40):03d}"
        received = FIRST_DAY + timedelta(seconds=rng.randrange(DAYS * 86400))
        status = rng.choices(statuses, weights)[0]
        if received > NOW - timedelta(days=4) and status == "completed":
            status = "in_progress"
        completed = on_time = None
        if status == "completed":
            completed = received + timedelta(hours=rng.uniform(1, 120))
            on_time = rng.random() < 0.95
        updated = completed or received + timedelta(hours=rng.uniform(1, 200))
        reference = f"B{dossier_id:09d}"
        dossiers.write(
            "\t".join(
                (
                    str(dossier_id),
                    reference,
                    chain,
                    status,
                    province,
                    commune,
                    ts(received),
                    ts(received),
                    ts(received + timedelta(days=5)),
                    ts(completed),
                    flag(on_time),
                    "f",
                    "{}",
                    r"\N",
                    r"\N",
                    r"\N",
                    ts(received),
                    ts(updated),
                    "1",
                )
            )
            + "\n"
        )
        if status != "rejected":
            for line in _steps(rng, dossier_id, reference, chain, status, received):
                steps.write(line + "\n")
    return dossiers.getvalue(), steps.getvalue()


DOSSIER_COLUMNS = (
    "id, reference, chain, status, province_code, commune_code, received_at, clock_started_at, "
    "due_at, completed_at, on_time, late_filing, payload, rejection_reasons, lease_owner, "
    "lease_expires_at, created_at, updated_at, version_id"
)
STEP_COLUMNS = (
    "id, dossier_id, kind, agency, position, status, attempts, idempotency_key, started_at, "
    "first_started_at, finished_at, due_at, on_time, updated_at, version_id"
)

# The clock history the generated rows imply (models/history.py): each start, each return.
CLOCK_HISTORY = """
INSERT INTO clock_events (dossier_id, step_kind, event, occurred_at, due_at, first)
SELECT id, NULL, 'clock_started', clock_started_at, due_at, false FROM dossiers
 WHERE status <> 'rejected' AND clock_started_at IS NOT NULL
UNION ALL
SELECT dossier_id, kind, 'clock_started', started_at, due_at, true FROM steps
 WHERE started_at IS NOT NULL
UNION ALL
SELECT dossier_id, kind, 'returned', finished_at, NULL, false FROM steps
 WHERE status = 'awaiting_supplement'
UNION ALL
SELECT dossier_id, NULL, 'returned', finished_at, NULL, false FROM steps
 WHERE status = 'awaiting_supplement'
"""


def load(engine: Engine, total: int) -> None:
    rng = random.Random(606)
    provinces = [f"{n:03d}" for n in range(1, 97, 3)][:34]
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for first in range(1, total + 1, CHUNK):
            dossiers, steps = _chunk(rng, first, min(CHUNK, total + 1 - first), provinces)
            cursor.copy_expert(
                f"COPY dossiers ({DOSSIER_COLUMNS}) FROM STDIN", io.StringIO(dossiers)
            )
            cursor.copy_expert(f"COPY steps ({STEP_COLUMNS}) FROM STDIN", io.StringIO(steps))
        cursor.execute(CLOCK_HISTORY)
        for table in ("dossiers", "steps", "clock_events"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        connection.commit()
        raw = connection.dbapi_connection
        assert raw is not None
        raw.autocommit = True
        maintenance = raw.cursor()
        maintenance.execute("VACUUM ANALYZE dossiers")
        maintenance.execute("VACUUM ANALYZE steps")
        maintenance.execute("VACUUM ANALYZE clock_events")
    finally:
        connection.close()


def timed(label: str, run: Callable[[], Any], repeat: int = 3) -> Any:
    durations, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        durations.append(time.perf_counter() - started)
    print(
        f"{label:<48} best {min(durations):6.3f} s   median {statistics.median(durations):6.3f} s"
    )
    return result


@contextmanager
def database(keep: bool) -> Iterator[str]:
    if url := os.environ.get("LIENTHONG_DATABASE_URL"):
        yield url
        return
    server = make_url(os.environ.get("LIENTHONG_TEST_POSTGRES_URL", SERVER_URL))
    name = f"lienthong_bench_{secrets.token_hex(4)}"
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        upgrade_database(url)
        yield url
    finally:
        if keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def explain(engine: Engine, label: str, query: Any) -> None:
    """Print the plan PostgreSQL runs for ``query``, with its actual times and buffers, under
    the settings the report runs with (adapters/report_queries.py: JIT off, 64 MB work_mem)."""
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as c:
        c.execute(text("SET jit = off"))
        c.execute(text("SET work_mem = '64MB'"))
        plan = c.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars()
        print(f"\n{label}:\n  " + "\n  ".join(plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--loaded",
        action="store_true",
        help="LIENTHONG_DATABASE_URL holds a kept run's data: migrate it, do not load again",
    )
    args = parser.parse_args()
    if args.loaded and not os.environ.get("LIENTHONG_DATABASE_URL"):
        parser.error("--loaded needs LIENTHONG_DATABASE_URL (a database kept with --keep)")
    with database(args.keep) as url:
        engine = make_engine(url)
        if args.loaded:
            upgrade_database(url)  # new indexes of later revisions (VACUUMed at the load)
        else:
            started = time.perf_counter()
            load(engine, args.dossiers)
            with engine.connect() as c:
                steps = c.execute(text("SELECT count(*) FROM steps")).scalar_one()
            print(
                f"loaded {args.dossiers:,} dossiers and {steps:,} steps "
                f"in {time.perf_counter() - started:.1f} s (COPY + VACUUM ANALYZE)"
            )
        sessions = make_session_factory(engine)
        calendar = CalendarSettings()
        deadlines = Deadlines.from_settings(calendar)
        period = Period.of_month("2025-04", deadlines.calendar.timezone)

        def report(scope: Scope) -> Callable[[], Any]:
            def run() -> Any:
                with sessions() as session:
                    return MonthlyReport(period, scope, NOW, *figures(session, period, scope))

            return run

        whole = timed("report 2025-04, whole country", report(Scope()))
        timed("report 2025-04, province 031", report(Scope(province="031")))
        timed("report 2025-04, commune 031007", report(Scope(province="031", commune="031007")))

        def sweep_find() -> Any:
            # Its own calendar each time, as a `lienthong sweep` process starts cold (the
            # calendar keeps each date's answer: models/calendar.py).
            deadlines = Deadlines.from_settings(calendar)
            options = SweepOptions()
            soon = due_soon_limit(deadlines, NOW, options.due_soon_working_days)
            window = deadlines.supplement_window(NOW)
            with sessions() as session:
                queries = SqlSweepQueries(session)
                steps = queries.step_candidates(NOW, soon, options.stuck_after, window)
                dossiers = queries.dossier_candidates(NOW, options.stuck_after)
            return classify(steps, dossiers, deadlines, NOW, options)

        findings = timed("sweep: finding query + classification", sweep_find)

        def sweep_dossiers() -> Any:
            with sessions() as session:
                return session.execute(dossiers_query(NOW, SweepOptions().stuck_after)).all()

        timed("sweep: dossier query (not started, chain overdue)", sweep_dossiers)
        birth = whole.chain_rows()[0].figures
        print(
            f"birth chain, 2025-04: {birth.received:,} received, {birth.resolved:,} resolved, "
            f"on-time rate {birth.on_time_rate:.1%}"
        )
        print(
            f"sweep found: {len(findings.overdue):,} overdue, {len(findings.stuck):,} stuck, "
            f"{len(findings.errors):,} in error, {len(findings.lapsed):,} supplementation "
            f"lapsed, {len(findings.not_started):,} not started, "
            f"{len(findings.overdue_chains):,} chains overdue"
        )
        options = SweepOptions()
        soon = due_soon_limit(deadlines, NOW, options.due_soon_working_days)
        window = deadlines.supplement_window(NOW)
        country, province = Scope(), Scope(province="031")
        for label, query in (
            ("report, whole country: dossiers", dossier_query(period, country, "postgresql")),
            ("report, whole country: steps", step_query(period, country, "postgresql")),
            ("report, whole country: returned", returned_query(period, country)),
            ("report, whole country: per day", day_query(period, country, "postgresql")),
            ("report, province 031: dossiers", dossier_query(period, province, "postgresql")),
            ("report, province 031: steps", step_query(period, province, "postgresql")),
            ("sweep: step candidates", candidates_query(NOW, soon, options.stuck_after, window)),
            ("sweep: dossier candidates", dossiers_query(NOW, options.stuck_after)),
        ):
            explain(engine, label, query)
        engine.dispose()


if __name__ == "__main__":
    main()
