"""The cost of finding potential duplicates at intake with 1,000,000 dossiers on record.

    .venv/bin/python -m benchmarks.duplicates_1m [--dossiers N] [--samples N] [--keep]

Loads the dossiers of benchmarks/report_1m.py (with their steps), gives each two match keys
as intake would have written them (a birth: certificate, mother + date of birth + name; a
death: deceased's ID, death notice), then times, on that record:

- the per-intake lookup (the lock per key and the indexed lookup, as services/intake.py
  runs them in its transaction), for new dossiers and for copies of dossiers on record;
- intake end to end (``services.intake.receive``: validation, the lookup, the dossier, its
  steps, keys, audit events and notices in one transaction), one dossier in twenty a copy;

and prints the lookup's plan (EXPLAIN ANALYZE). Database as in report_1m: a throwaway one
on ``LIENTHONG_TEST_POSTGRES_URL`` unless ``LIENTHONG_DATABASE_URL`` is set. docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, text

from benchmarks.infra import DossierFactory, load_templates
from benchmarks.report_1m import database, load
from lienthong.adapters.database import make_engine, make_session_factory
from lienthong.adapters.duplicate_index import SqlDuplicateIndex, matching_query
from lienthong.bootstrap import build_container
from lienthong.models.duplicates import MatchKey, MatchRule, match_key
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.settings import Settings

FIRST_BIRTH_DAY = date(2025, 1, 1)
MOTHERS = 700_001  # fewer mothers than births: some have several children

# Two keys per generated dossier, as intake writes them (models/duplicates.match_key): the
# values are synthetic, folded as intake folds them; sha256 over rule, 0x1F, values.
KEYS = """
INSERT INTO match_keys (dossier_id, rule, digest)
SELECT id, 'birth_certificate', encode(sha256(convert_to(
       'birth_certificate' || chr(31) || 'gcsbench' || lpad(id::text, 9, '0'), 'UTF8')), 'hex')
  FROM dossiers WHERE chain = 'birth'
UNION ALL
SELECT id, 'mother_birth_name', encode(sha256(convert_to(
       'mother_birth_name' || chr(31) || lpad((id % 700001)::text, 12, '0') || chr(31)
       || (date '2025-01-01' + (id % 181)::int)::text || chr(31) || 'con ' || id, 'UTF8')), 'hex')
  FROM dossiers WHERE chain = 'birth'
UNION ALL
SELECT id, 'deceased_id', encode(sha256(convert_to(
       'deceased_id' || chr(31) || lpad(id::text, 12, '0'), 'UTF8')), 'hex')
  FROM dossiers WHERE chain = 'death'
UNION ALL
SELECT id, 'death_notice', encode(sha256(convert_to(
       'death_notice' || chr(31) || 'gbtbench' || lpad(id::text, 9, '0'), 'UTF8')), 'hex')
  FROM dossiers WHERE chain = 'death'
"""


def keys_of(dossier_id: int, chain: str) -> list[MatchKey]:
    """The keys :data:`KEYS` gave dossier ``dossier_id`` (or would give a new one)."""
    if chain == "birth":
        born = FIRST_BIRTH_DAY + timedelta(days=dossier_id % 181)
        return [
            match_key(MatchRule.BIRTH_CERTIFICATE, f"gcsbench{dossier_id:09d}"),
            match_key(
                MatchRule.MOTHER_BIRTH_NAME,
                f"{dossier_id % MOTHERS:012d}",
                born.isoformat(),
                f"con {dossier_id}",
            ),
        ]
    return [
        match_key(MatchRule.DECEASED_ID, f"{dossier_id:012d}"),
        match_key(MatchRule.DEATH_NOTICE, f"gbtbench{dossier_id:09d}"),
    ]


def add_keys(engine: Engine) -> int:
    with engine.begin() as connection:
        connection.execute(text(KEYS))
    raw = engine.raw_connection()
    try:
        assert raw.dbapi_connection is not None
        raw.dbapi_connection.autocommit = True
        cursor = raw.cursor()
        cursor.execute("VACUUM ANALYZE match_keys")
        cursor.execute("SELECT count(*) FROM match_keys")
        row = cursor.fetchone()
        assert row is not None
        return int(row[0])
    finally:
        raw.close()


def percentiles(label: str, seconds: Sequence[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    cut = statistics.quantiles(ms, n=100, method="inclusive")
    print(
        f"{label:<44} n={len(ms):<5} p50 {cut[49]:7.2f} ms   p95 {cut[94]:7.2f} ms   "
        f"p99 {cut[98]:7.2f} ms   max {ms[-1]:7.2f} ms"
    )


def lookups(engine: Engine, total: int, samples: int) -> None:
    """Lock + lookup per intake, each in its own transaction (rolled back: nothing kept)."""
    rng = random.Random(14)
    sessions = make_session_factory(engine)
    with engine.connect() as c:
        open_ids = list(
            c.execute(
                text(
                    "SELECT id, chain FROM dossiers WHERE status NOT IN "
                    "('rejected', 'withdrawn', 'refused') ORDER BY random() LIMIT :n"
                ),
                {"n": samples},
            ).tuples()
        )
    new = [(total + 1 + i, rng.choice(("birth", "death"))) for i in range(samples)]
    for label, intakes, expected in (
        ("lookup, a new dossier (no match)", new, 0),
        ("lookup, a copy of one on record", open_ids, 2),
    ):
        durations = []
        for dossier_id, chain in intakes:
            keys = keys_of(dossier_id, chain)
            with sessions() as session:
                index = SqlDuplicateIndex(session)
                # Intake's transaction is open already when it looks up: so is this one.
                session.execute(text("SELECT 1"))
                started = time.perf_counter()
                index.lock(keys)
                found = index.matching(keys)
                durations.append(time.perf_counter() - started)
                session.rollback()
            assert len(found) == expected, (dossier_id, chain, found)
        percentiles(label, durations)


def intakes(url: str, count: int) -> None:
    """``receive`` end to end: one dossier in twenty repeats an earlier one (held)."""
    container = build_container(Settings(database_url=url))
    factory = DossierFactory(load_templates())
    rng = random.Random(15)
    operator = Actor("benchmark")
    durations: list[float] = []
    held = 0
    made: list[dict[str, Any]] = []
    try:
        for i in range(count):
            if made and i % 20 == 19:
                raw = dict(rng.choice(made), reference=f"DP-2026-{i:06d}")
            else:
                raw = factory.make("birth" if i % 2 == 0 else "death", "BM")
                made.append(raw)
            started = time.perf_counter()
            result = receive(container, raw, operator)
            durations.append(time.perf_counter() - started)
            assert result.accepted, result.problems
            held += bool(result.held_for)
    finally:
        container.close()
    percentiles("intake end to end (receive)", durations)
    print(f"  {held} of {count} held as potential duplicates (every twentieth is a copy)")


def explain(engine: Engine) -> None:
    """The lookup's plan for a copy of a birth on record (two keys), with actual times."""
    with engine.connect() as c:
        dossier_id = c.execute(
            text("SELECT id FROM dossiers WHERE chain = 'birth' AND status = 'completed' LIMIT 1")
        ).scalar_one()
        query = matching_query(keys_of(dossier_id, "birth"))
        compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
        plan = c.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars()
        print("lookup plan (a copy of a birth on record, two keys):\n  " + "\n  ".join(plan))


def timed_once(label: str, run: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = run()
    print(f"{label:<44} {time.perf_counter() - started:7.1f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000, help="lookups of each kind")
    parser.add_argument("--intakes", type=int, default=400, help="end-to-end intakes")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args()
    with database(args.keep) as url:
        engine = make_engine(url)
        timed_once(
            f"load {args.dossiers:,} dossiers and steps", lambda: load(engine, args.dossiers)
        )
        keys = timed_once("write their match keys + VACUUM ANALYZE", lambda: add_keys(engine))
        print(f"  {keys:,} match keys")
        lookups(engine, args.dossiers, args.samples)
        intakes(url, args.intakes)
        explain(engine)
        engine.dispose()


if __name__ == "__main__":
    main()
