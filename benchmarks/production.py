"""Benchmark: the production path, whole, against the adapters-only floor in the same run.

::

    PREFECT_SERVER_ANALYTICS_ENABLED=false .venv/bin/python -m benchmarks.production \\
        [--dossiers 200] [--workers 1] [--latency-ms 50] [--concurrency 8] [--keep]

Every part a separate process, set up as README.md and docs/production.md tell operators:

1. two throwaway PostgreSQL databases: a Prefect server's (``prefect server start`` on it)
   and our record (``lienthong db upgrade``);
2. ``lienthong simulator`` with ``--latency-ms`` on every agency call, ``lienthong api``
   (uvicorn) with a portal client made by ``lienthong clients create``, and ``lienthong
   serve`` (plus ``lienthong serve --chains-only`` for each further ``--workers``);
3. two warm-up dossiers, then N dossiers (half birth, half death) POSTed to ``/v1/dossiers``
   as the national portal would, ``--concurrency`` at a time; each is timed from its POST to
   its last step's ``finished_at`` in our record;
4. CPU-seconds of every process between the first POST and the last dossier completed:
   each of our processes with its children (a flow run's subprocess counts to its worker),
   the Prefect server, the simulator, and PostgreSQL's backends per database plus its own
   processes;
5. the floor: N fresh dossiers in this one process through intake and the same steps
   without Prefect or HTTP in front (``benchmarks.chains.through_adapters``: the same
   services, request builders, agency clients and outbox delivery), against the same
   simulator and database, at the same concurrency, with the same CPU accounting;
6. the table: dossiers/s, p50/p95 seconds, CPU-s per dossier per process, ours (everything
   but the simulator, which stands for the agencies) against the floor, and the ratio.

Not part of the test suite; figures in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg2

from benchmarks.cpu import PostgresSampler, all_processes, tree_seconds
from benchmarks.infra import (
    DossierFactory,
    PrefectServer,
    Service,
    add_postgres_argument,
    clean_environment,
    database_url,
    free_port,
    lienthong,
    load_templates,
    throwaway_databases,
    wait_for_deployments,
    wait_for_health,
)

SIMULATOR = "simulator"
RECORD = "PostgreSQL: our record"
PREFECT_DB = "PostgreSQL: Prefect's database"
PREFECT_SERVER = "Prefect server"
FLOOR_PROCESS = "the benchmark process (floor)"


@dataclass
class Setup:
    env: dict[str, str]
    api_url: str
    token: str
    record_dsn: str
    services: dict[str, Service]
    prefect: PrefectServer
    postgres: PostgresSampler


@dataclass
class Phase:
    """One measured phase: how long, how many, how fast each, and whose CPU."""

    label: str
    dossiers: int = 0
    wall_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    def per_second(self) -> float:
        return self.dossiers / self.wall_seconds if self.wall_seconds else 0.0

    def percentile(self, q: int) -> float:
        values = sorted(self.latencies)
        if len(values) < 2:
            return values[0] if values else float("nan")
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    def ours(self) -> float:
        """CPU-s per dossier of everything but the agencies' stand-in."""
        return sum(v for k, v in self.cpu.items() if k != SIMULATOR) / max(self.dossiers, 1)


# --------------------------------------------------------------------------- CPU


def cpu_now(setup: Setup, extra: dict[str, int]) -> dict[str, float]:
    """CPU-seconds so far of each service's process tree, the Prefect server's, and
    PostgreSQL's backends (sampled since the sampler started)."""
    processes = all_processes()
    pids = {name: s.process.pid for name, s in setup.services.items() if s.process}
    pids.update(extra)
    figures = {name: tree_seconds(pid, processes) for name, pid in pids.items()}
    prefect_pid = setup.prefect.pid
    if prefect_pid is not None:
        figures[PREFECT_SERVER] = tree_seconds(prefect_pid, processes)
    figures.update(setup.postgres.totals())
    return figures


def difference(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


# --------------------------------------------------------------------------- production


def portal_token(env: dict[str, str], logs: Path) -> str:
    made = subprocess.run(
        lienthong("clients", "create", "--name", "benchmark portal", "--role", "portal"),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    (logs / "clients.log").write_text(made.stdout + made.stderr)
    found = re.search(r"Bearer (\S+)", made.stdout)
    if found is None:
        raise RuntimeError(f"no credential in `lienthong clients create` output: {made.stdout}")
    return found.group(1)


async def post_all(
    setup: Setup, raws: list[dict[str, Any]], concurrency: int
) -> dict[str, datetime]:
    """POST each dossier to the API; when each was accepted (the clock starts then)."""
    accepted: dict[str, datetime] = {}
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {setup.token}"}
    async with httpx.AsyncClient(base_url=setup.api_url, headers=headers, timeout=60) as client:

        async def one(raw: dict[str, Any]) -> None:
            async with limit:
                sent = datetime.now(UTC)
                answer = await client.post("/v1/dossiers", json=raw)
                if answer.status_code not in (200, 201, 202):
                    raise RuntimeError(
                        f"{raw['reference']}: HTTP {answer.status_code} {answer.text}"
                    )
                accepted[raw["reference"]] = sent

        await asyncio.gather(*(one(raw) for raw in raws))
    return accepted


def finished(record_dsn: str, references: list[str]) -> dict[str, tuple[str, datetime | None]]:
    """Each dossier's status and its last step's end, from our record."""
    with (
        psycopg2.connect(record_dsn.replace("+psycopg2", "")) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT d.reference, d.status, max(s.finished_at) FROM dossiers d"
            " JOIN steps s ON s.dossier_id = d.id WHERE d.reference = ANY(%s)"
            " GROUP BY d.reference, d.status",
            (references,),
        )
        return {reference: (status, end) for reference, status, end in cursor.fetchall()}


def wait_until_closed(setup: Setup, references: list[str], timeout: float) -> dict[str, datetime]:
    deadline = time.monotonic() + timeout
    last_print = 0.0
    while True:
        rows = finished(setup.record_dsn, references)
        done = {r: end for r, (status, end) in rows.items() if status == "completed" and end}
        if len(done) == len(references):
            return done
        if time.monotonic() > deadline:
            statuses = sorted({status for status, _ in rows.values()})
            raise RuntimeError(
                f"{len(done)}/{len(references)} completed after {timeout:.0f} s; "
                f"statuses {statuses}"
            )
        if time.monotonic() - last_print > 10:
            print(f"  {len(done)}/{len(references)} completed", flush=True)
            last_print = time.monotonic()
        time.sleep(0.5)


def through_production(setup: Setup, raws: list[dict[str, Any]], args: argparse.Namespace) -> Phase:
    phase = Phase(f"Production path ({args.workers} worker{'s' if args.workers > 1 else ''})")
    before = cpu_now(setup, {})
    started = time.monotonic()
    accepted = asyncio.run(post_all(setup, raws, args.concurrency))
    ends = wait_until_closed(setup, list(accepted), args.timeout)
    phase.wall_seconds = time.monotonic() - started
    phase.cpu = difference(cpu_now(setup, {}), before)
    phase.dossiers = len(ends)
    phase.latencies = [(ends[r] - accepted[r]).total_seconds() for r in accepted]
    return phase


# --------------------------------------------------------------------------- the floor


def through_adapters_here(
    setup: Setup, warm_up: list[dict[str, Any]], raws: list[dict[str, Any]], concurrency: int
) -> Phase:
    """Intake and the steps in this process, without Prefect or the API: the floor."""
    os.environ.update({k: v for k, v in setup.env.items() if k.startswith("LIENTHONG_")})
    from benchmarks.chains import through_adapters
    from lienthong.bootstrap import build_container, run_async, use_container
    from lienthong.services.intake import receive
    from lienthong.services.ledger import Actor
    from lienthong.settings import Settings

    container = build_container(Settings())
    phase = Phase("Adapters only (the floor)")

    async def one(raw: dict[str, Any], limit: asyncio.Semaphore, times: list[float]) -> None:
        async with limit:
            started = time.perf_counter()
            result = await asyncio.to_thread(receive, container, raw, Actor("bench"))
            if not result.accepted or result.chain is None:
                raise RuntimeError(f"{result.reference} rejected: {result.problems}")
            outcome = await through_adapters(result.reference, result.chain)
            if outcome != "completed/completed":
                raise RuntimeError(f"{result.reference}: {outcome}")
            times.append(time.perf_counter() - started)

    async def all_of(batch: list[dict[str, Any]], times: list[float]) -> None:
        limit = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(one(raw, limit, times) for raw in batch))

    here = {FLOOR_PROCESS: os.getpid()}
    try:
        with use_container(container):
            run_async(all_of(warm_up, []), container)  # imports, pools, clients
            before = cpu_now(setup, here)
            started = time.monotonic()
            run_async(all_of(raws, phase.latencies), container)
            phase.wall_seconds = time.monotonic() - started
            phase.cpu = difference(cpu_now(setup, here), before)
    finally:
        container.close()
    phase.dossiers = len(phase.latencies)
    # Only what the floor's work used: our services stood idle meanwhile.
    phase.cpu = {k: v for k, v in phase.cpu.items() if k in (FLOOR_PROCESS, SIMULATOR, RECORD)}
    return phase


# --------------------------------------------------------------------------- report


def table(production: Phase, floor: Phase, args: argparse.Namespace) -> str:
    names = sorted({*production.cpu, *floor.cpu}, key=lambda n: (n == SIMULATOR, n))
    width = max(len(n) for n in [*names, production.label, floor.label]) + 2

    def row(label: str, *cells: str) -> str:
        return f"{label:<{width}}" + "".join(f"{c:>30}" for c in cells)

    def per(phase: Phase, name: str) -> str:
        return f"{phase.cpu[name] / phase.dossiers:.4f}" if name in phase.cpu else "-"

    ratio = production.ours() / floor.ours() if floor.ours() else float("nan")
    lines = [
        "",
        f"Liên thông production path: {args.dossiers} dossiers (half birth, half death) through "
        f"the API, {args.workers} chain worker process(es), agency latency "
        f"{args.latency_ms:g} ms, {args.concurrency} submissions at a time",
        "",
        row("", production.label, floor.label),
        row("dossiers", str(production.dossiers), str(floor.dossiers)),
        row("wall seconds", f"{production.wall_seconds:.1f}", f"{floor.wall_seconds:.1f}"),
        row("dossiers/s", f"{production.per_second():.2f}", f"{floor.per_second():.2f}"),
        row(
            "p50 s to the last step",
            f"{production.percentile(50):.2f}",
            f"{floor.percentile(50):.2f}",
        ),
        row(
            "p95 s to the last step",
            f"{production.percentile(95):.2f}",
            f"{floor.percentile(95):.2f}",
        ),
        "",
        "CPU-seconds per dossier:",
        *(row(f"  {name}", per(production, name), per(floor, name)) for name in names),
        row("  ours (all but the simulator)", f"{production.ours():.4f}", f"{floor.ours():.4f}"),
        "",
        f"production / floor, ours: {ratio:.2f}x (target at most 2x; floor target 0.05 CPU-s)",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- setup


def start_services(
    args: argparse.Namespace, workdir: Path, record_db: str, prefect: PrefectServer
) -> Setup:
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    simulator_port, api_port = free_port(), free_port()
    record_dsn = database_url(args.postgres, "psycopg2", record_db)
    env = clean_environment()
    env.update(
        PREFECT_API_URL=prefect.api_url,
        PREFECT_HOME=str(workdir / "client"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        # docs/production.md: heartbeats for crashed-run detection.
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY="30",
        LIENTHONG_DATABASE_URL=record_dsn,
        LIENTHONG_DATA_DIR=str(workdir / "lienthong"),
        LIENTHONG_SIMULATOR_PORT=str(simulator_port),
        LIENTHONG_API__PORT=str(api_port),
    )
    faults = {"agencies": {"latency_ms": args.latency_ms}}
    services = {
        SIMULATOR: Service(
            SIMULATOR,
            lienthong("simulator", "--data-dir", str(workdir / "simulator")),
            dict(env, LIENTHONG_SIMULATOR_FAULTS=json.dumps(faults)),
            logs,
        ),
        "lienthong api": Service("api", lienthong("api", "--log-level", "warning"), env, logs),
        "lienthong serve": Service("serve", lienthong("serve"), env, logs),
    }
    for n in range(2, args.workers + 1):
        services[f"lienthong serve --chains-only #{n}"] = Service(
            f"serve-{n}", lienthong("serve", "--chains-only"), env, logs
        )
    if subprocess.run(lienthong("db", "upgrade"), env=env, capture_output=True).returncode:
        raise RuntimeError("lienthong db upgrade failed")
    setup = Setup(
        env=env,
        api_url=f"http://127.0.0.1:{api_port}",
        token=portal_token(env, logs),
        record_dsn=record_dsn,
        services=services,
        prefect=prefect,
        postgres=PostgresSampler({RECORD: record_db, PREFECT_DB: prefect.database}),
    )
    started = services[SIMULATOR].start()
    wait_for_health(
        f"http://127.0.0.1:{simulator_port}/admin/faults", started, services[SIMULATOR].log_path
    )
    started = services["lienthong api"].start()
    wait_for_health(f"{setup.api_url}/health", started, services["lienthong api"].log_path)
    for name, service in services.items():
        if name.startswith("lienthong serve"):
            service.start()
    wait_for_deployments(prefect.api_url)
    return setup


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.production",
        description="N dossiers through the production path (API, lienthong serve, Prefect "
        "server, PostgreSQL, simulator) against the adapters-only floor, CPU per process.",
    )
    parser.add_argument("--dossiers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1, help="chain worker processes")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="per agency call")
    parser.add_argument("--concurrency", type=int, default=8, help="submissions at a time")
    parser.add_argument("--timeout", type=float, default=1800.0, help="to drain, seconds")
    add_postgres_argument(parser)
    parser.add_argument("--keep", action="store_true", help="keep databases and logs")
    args = parser.parse_args(argv)
    if args.dossiers < 2 or args.workers < 1 or args.concurrency < 1:
        parser.error("--dossiers >= 2, --workers >= 1, --concurrency >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    suffix = uuid.uuid4().hex[:8]
    prefect_db, record_db = f"lienthong_prod_prefect_{suffix}", f"lienthong_prod_record_{suffix}"
    workdir = Path(tempfile.mkdtemp(prefix="lienthong-production-"))
    factory = DossierFactory(load_templates())
    setup: Setup | None = None
    try:
        with throwaway_databases(args.postgres, [prefect_db, record_db], args.keep):
            prefect = PrefectServer(
                database_url(args.postgres, "asyncpg", prefect_db), workdir / "server", free_port()
            )
            prefect.start()
            try:
                setup = start_services(args, workdir, record_db, prefect)
                setup.postgres.start()
                print("warming up (2 dossiers through the API) ...", flush=True)
                warm = asyncio.run(post_all(setup, factory.batch(2, "PW"), 2))
                wait_until_closed(setup, list(warm), args.timeout)
                print(f"{args.dossiers} dossiers through the production path ...", flush=True)
                production = through_production(setup, factory.batch(args.dossiers, "PP"), args)
                print(f"{args.dossiers} dossiers through the adapters alone ...", flush=True)
                floor = through_adapters_here(
                    setup,
                    factory.batch(2, "PV"),
                    factory.batch(args.dossiers, "PA"),
                    args.concurrency,
                )
            finally:
                if setup is not None:
                    setup.postgres.stop()
                    for service in reversed(setup.services.values()):
                        service.stop()
                prefect.stop()
    finally:
        if args.keep:
            print(f"logs kept in {workdir / 'logs'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(production, floor, args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
