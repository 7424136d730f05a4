"""Chaos run: N dossiers through the production setup while it is broken in every usual way.

::

    PREFECT_SERVER_ANALYTICS_ENABLED=false .venv/bin/python -m benchmarks.chaos \\
        [--dossiers 200] [--outage 60] [--serve-limit 10] [--drain-timeout 420] [--keep]

The production path of README.md and docs/production.md, every part a separate process:

1. two throwaway PostgreSQL databases (a Prefect server's and our record);
   ``prefect server start`` on the first; ``lienthong db upgrade`` on the second;
2. ``lienthong simulator`` with ``LIENTHONG_SIMULATOR_FAULTS`` set: 30% of agency calls
   and 15% of webhook deliveries fail transiently (429, 500, 503, hangs, dropped
   connections, answers lost after the agency committed), 50-150 ms latency;
3. ``lienthong serve`` as the worker (it registers the deployments of prefect.yaml and runs
   each flow run as a subprocess);
4. N dossiers (half birth, half death, unique, made from the examples: every one should end
   ``completed``) written to files and handed over with ``lienthong submit --deploy``;
5. while they run, the faults of the timeline below: our record's database backends
   terminated (``pg_terminate_backend``, bursts), ``lienthong serve`` killed with SIGKILL
   (its whole process group: the serving process and its flow runs) and restarted, twice,
   an outage of every agency (``PUT /admin/faults`` with an outage window), and a restart
   of the Prefect server;
6. the drain: ``lienthong sweep --stuck-minutes 1`` every ``--sweep-every`` seconds until
   every dossier is closed, no flow run is Running or Pending and no notice is pending, or
   ``--drain-timeout`` passes;
7. the table: dossiers, lost, duplicated registrations (the simulator's records: one
   dossier-step registered twice at an agency), duplicate notices delivered and dropped by
   the receivers, notices never delivered, runs left Running, steps in ``error`` needing a
   person, ``lienthong audit verify``, and the time from the outage's end to the drain.

Exit 0 when every target holds (0 lost, 0 duplicated, 0 undelivered, 0 left Running,
0 needing a person, audit intact, drained in time), else 1. Not part of the test suite;
figures in docs/benchmarks.md. Logs of every process are kept in the work directory
printed at the start when ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg2

from benchmarks.infra import (
    SERVICE_STOP_TIMEOUT_SECONDS,
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
from lienthong.cli.identity import CREDENTIAL_ENV

CLOSED = ("completed", "refused", "withdrawn", "rejected", "awaiting_supplement")
AGENCY_SLUGS = ("justice", "police", "social-insurance", "social-affairs")
# Transient faults, drawn per request (simulator/settings.py FaultProfile): 30% of agency
# calls, 15% of webhook deliveries.
AGENCY_FAULTS = {
    "latency_ms": 50,
    "latency_jitter_ms": 100,
    "rate_limit_rate": 0.05,
    "error_500_rate": 0.05,
    "error_503_rate": 0.08,
    "timeout_rate": 0.03,
    "drop_rate": 0.04,
    "processed_then_drop_rate": 0.05,
}
WEBHOOK_FAULTS = {
    "error_500_rate": 0.03,
    "error_503_rate": 0.05,
    "drop_rate": 0.03,
    "processed_then_drop_rate": 0.04,
}


# --------------------------------------------------------------------------- processes


@dataclass
class Setup:
    """Everything the run talks to."""

    admin_dsn: str
    record_db: str
    prefect: PrefectServer
    simulator_url: str
    simulator: Service
    serve: Service
    env: dict[str, str]
    logs: Path

    def run(self, name: str, *args: str, timeout: float = 600) -> int:
        """``lienthong ARGS`` to completion, its output appended to ``logs/<name>.log``."""
        with (self.logs / f"{name}.log").open("ab") as log:
            log.write(f"\n$ lienthong {' '.join(args)}\n".encode())
            log.flush()
            return subprocess.run(
                lienthong(*args),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode


# --------------------------------------------------------------------------- faults


@dataclass
class Timeline:
    """When each fault happened (seconds after the submission began) and what it did."""

    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)
    outage_end: float | None = None

    def log(self, what: str) -> None:
        at = time.monotonic() - self.started
        self.events.append((at, what))
        print(f"  t+{at:6.1f}s  {what}", flush=True)


def simulator_faults(seed: int, outage: tuple[datetime, datetime] | None) -> dict[str, Any]:
    faults: dict[str, Any] = {"seed": seed, "agencies": AGENCY_FAULTS, "webhooks": WEBHOOK_FAULTS}
    if outage is not None:
        start, end = outage
        faults["outages"] = [{"start": start.isoformat(), "end": end.isoformat()}]
    return faults


def terminate_backends(setup: Setup, seconds: float) -> tuple[int, int]:
    """``pg_terminate_backend`` on every connection to our record, every quarter of a second
    for ``seconds`` (to catch transactions in flight): (terminated, of which in a
    transaction or running a statement)."""
    terminated = busy = 0
    connection = psycopg2.connect(setup.admin_dsn)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                cursor.execute(
                    "SELECT state, pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (setup.record_db,),
                )
                for state, done in cursor.fetchall():
                    terminated += bool(done)
                    busy += bool(done) and state != "idle"
                time.sleep(0.25)
    finally:
        connection.close()
    return terminated, busy


def restart_serve(setup: Setup, timeline: Timeline, down_seconds: float) -> None:
    setup.serve.kill9()
    timeline.log("kill -9 lienthong serve (and its flow runs)")
    time.sleep(down_seconds)
    setup.serve.start()
    timeline.log("lienthong serve started again")


def start_outage(setup: Setup, timeline: Timeline, seconds: float, seed: int) -> None:
    now = datetime.now(UTC)
    faults = simulator_faults(seed, (now, now + timedelta(seconds=seconds)))
    httpx.put(f"{setup.simulator_url}/admin/faults", json=faults, timeout=10).raise_for_status()
    timeline.outage_end = time.monotonic() + seconds
    timeline.log(f"outage of every agency for {seconds:g} s (503 with Retry-After)")


def restart_prefect(setup: Setup, timeline: Timeline) -> None:
    setup.prefect.stop()
    timeline.log("Prefect server stopped")
    setup.prefect.start()
    timeline.log("Prefect server started again")


def fault_plan(
    setup: Setup, args: argparse.Namespace
) -> list[tuple[float, str, Callable[[Timeline], None]]]:
    """(seconds after the chains got under way, what, action), in order."""

    def terminate(timeline: Timeline) -> None:
        count, busy = terminate_backends(setup, args.terminate_seconds)
        timeline.log(
            f"terminated {count} backends of our record over {args.terminate_seconds:g} s "
            f"({busy} in a transaction or a statement)"
        )

    return [
        (0, "terminate backends", terminate),
        (10, "kill -9 serve", lambda t: restart_serve(setup, t, 5)),
        (25, "outage", lambda t: start_outage(setup, t, args.outage, args.seed)),
        (35, "terminate backends", terminate),
        (45, "restart Prefect", lambda t: restart_prefect(setup, t)),
        (75, "kill -9 serve", lambda t: restart_serve(setup, t, 5)),
        (90, "terminate backends", terminate),
    ]


# --------------------------------------------------------------------------- observation


@dataclass
class Snapshot:
    """What the record and Prefect say now."""

    dossiers: Counter[str]
    steps: Counter[str]
    pending_notices: int
    delivered_notices: int
    runs: Counter[str]

    @property
    def closed(self) -> int:
        return sum(self.dossiers[status] for status in CLOSED)

    def drained(self, expected: int) -> bool:
        return self.closed >= expected and self.pending_notices == 0

    def line(self) -> str:
        dossiers = ", ".join(f"{k} {v}" for k, v in sorted(self.dossiers.items()))
        steps = ", ".join(f"{k} {v}" for k, v in sorted(self.steps.items()))
        runs = ", ".join(f"{k} {v}" for k, v in sorted(self.runs.items()))
        return (
            f"dossiers: {dossiers} | steps: {steps} | notices pending {self.pending_notices}"
            f" | runs: {runs}"
        )


def record_counts(setup: Setup) -> tuple[Counter[str], Counter[str], int, int]:
    connection = psycopg2.connect(setup.admin_dsn, dbname=setup.record_db)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT status, count(*) FROM dossiers GROUP BY status")
            dossiers = Counter({str(s): int(n) for s, n in cursor.fetchall()})
            cursor.execute("SELECT status, count(*) FROM steps GROUP BY status")
            steps = Counter({str(s): int(n) for s, n in cursor.fetchall()})
            cursor.execute("SELECT status, count(*) FROM notifications GROUP BY status")
            notices = {str(s): int(n) for s, n in cursor.fetchall()}
    finally:
        connection.close()
    return dossiers, steps, notices.get("pending", 0), notices.get("delivered", 0)


def flow_run_states(api_url: str, attempts: int = 5) -> Counter[str]:
    """How many flow runs are in each state type (Prefect's REST API)."""
    for attempt in range(attempts):
        try:
            return _count_flow_runs(api_url)
        except httpx.HTTPError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def _count_flow_runs(api_url: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for state in ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
        answer = httpx.post(
            f"{api_url}/flow_runs/count",
            json={"flow_runs": {"state": {"type": {"any_": [state]}}}},
            timeout=30,
        )
        answer.raise_for_status()
        if answer.json():
            counts[state] = int(answer.json())
    return counts


def snapshot(setup: Setup) -> Snapshot:
    dossiers, steps, pending, delivered = record_counts(setup)
    return Snapshot(dossiers, steps, pending, delivered, flow_run_states(setup.prefect.api_url))


def duplicated_registrations(simulator_url: str) -> tuple[int, int]:
    """(registrations, extra registrations of a dossier-step already registered) across the
    simulated agencies: each record is a request an agency carried out."""
    total, seen = 0, Counter[tuple[str, str, str]]()
    for slug in AGENCY_SLUGS:
        answer = httpx.get(f"{simulator_url}/admin/records/{slug}", timeout=30)
        answer.raise_for_status()
        for record in answer.json():
            total += 1
            seen[(slug, str(record["dossier_reference"]), str(record["kind"]))] += 1
    return total, sum(count - 1 for count in seen.values())


def webhook_stats(simulator_url: str) -> tuple[int, int]:
    """(notices kept by the receivers, repeated deliveries they acknowledged and dropped)."""
    answer = httpx.get(f"{simulator_url}/admin/webhook-stats", timeout=30)
    answer.raise_for_status()
    stats: dict[str, dict[str, int]] = answer.json()
    return (
        sum(s["received"] for s in stats.values()),
        sum(s["duplicates"] for s in stats.values()),
    )


def injected_faults(simulator_url: str) -> dict[str, int]:
    answer = httpx.get(f"{simulator_url}/admin/fault-stats", timeout=30)
    answer.raise_for_status()
    injected: dict[str, int] = answer.json()
    return {k: v for k, v in sorted(injected.items()) if not k.endswith(".none")}


# --------------------------------------------------------------------------- the run


def submit(
    setup: Setup, factory: DossierFactory, count: int, workdir: Path
) -> subprocess.Popen[bytes]:
    """Write ``count`` dossiers to files and start ``lienthong submit --deploy`` on them."""
    folder = workdir / "dossiers"
    folder.mkdir()
    files = []
    for raw in factory.batch(count, "CH"):
        path = folder / f"{raw['reference']}.json"
        path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
        files.append(str(path))
    with (setup.logs / "submit.log").open("ab") as log:
        return subprocess.Popen(
            lienthong("submit", "--deploy", *files),
            env=setup.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_until_chains_run(setup: Setup, timeline: Timeline, timeout: float = 180) -> float:
    """When the first chains are under way (3 dossiers started), so that the faults hit
    runs mid-step rather than processes still starting; at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dossiers = record_counts(setup)[0]
        if sum(dossiers.values()) - dossiers["received"] >= 3:
            break
        time.sleep(1)
    timeline.log("chains under way (3 dossiers started): faults from now")
    return time.monotonic()


@dataclass
class Drain:
    seconds_after_outage: float | None
    sweeps: int
    final: Snapshot


def drain(setup: Setup, args: argparse.Namespace, timeline: Timeline) -> Drain:
    """Sweep every ``--sweep-every`` seconds until every dossier is closed and every notice
    delivered (or ``--drain-timeout``), then wait up to ``--settle`` seconds for Prefect to
    have no flow run Running or Pending (crashed-run detection needs three missed
    heartbeats)."""
    deadline = time.monotonic() + args.drain_timeout
    sweeps = 0
    sweeping: subprocess.Popen[bytes] | None = None
    last_sweep = -float("inf")
    last_print = 0.0
    drained_at: float | None = None
    log = (setup.logs / "sweep.log").open("ab")
    try:
        while True:
            now = time.monotonic()
            state = snapshot(setup)
            idle = sweeping is None or sweeping.poll() is not None
            if drained_at is None and idle and state.drained(args.dossiers):
                drained_at = now
                timeline.log("drained: every dossier closed, every notice delivered")
                deadline = now + args.settle
            if drained_at is not None and state.runs["RUNNING"] + state.runs["PENDING"] == 0:
                break
            if now > deadline:
                break
            if now - last_print >= 15:
                print(f"  drain t+{now - timeline.started:6.1f}s  {state.line()}", flush=True)
                last_print = now
            if drained_at is None and idle and now - last_sweep >= args.sweep_every:
                sweeps += 1
                last_sweep = now
                log.write(f"\n$ lienthong sweep (pass {sweeps})\n".encode())
                log.flush()
                sweeping = subprocess.Popen(
                    lienthong(
                        "sweep",
                        "--stuck-minutes",
                        f"{args.stuck_minutes:g}",
                        "--due-soon-days",
                        "0",
                    ),
                    env=setup.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            time.sleep(3)
    finally:
        if sweeping is not None and sweeping.poll() is None:
            try:
                sweeping.wait(SERVICE_STOP_TIMEOUT_SECONDS * 3)
            except subprocess.TimeoutExpired:
                sweeping.kill()
                sweeping.wait()
        log.close()
    end = timeline.outage_end
    after_outage = None if drained_at is None or end is None else drained_at - end
    return Drain(after_outage, sweeps, state)


@dataclass
class Result:
    dossiers: int
    lost: int
    other_end: Counter[str]
    registrations: int
    duplicated: int
    notices_queued: int
    notices_kept: int
    duplicates_dropped: int
    undelivered: int
    left_running: int
    left_pending: int
    crashed: int
    errors: int
    audit_exit: int
    drained: Drain
    injected: dict[str, int]
    submit_exit: int | None

    def missed(self) -> list[str]:
        targets = {
            "lost": self.lost,
            "ended other than completed": sum(self.other_end.values()),
            "duplicated registrations": self.duplicated,
            "notices never delivered": self.undelivered,
            "runs left Running": self.left_running,
            "runs left Pending": self.left_pending,
            "steps in error needing a person": self.errors,
            "audit broken (lienthong audit verify exit code)": self.audit_exit,
        }
        missed = [f"{name}: {value}" for name, value in targets.items() if value]
        if self.drained.seconds_after_outage is None:
            missed.append("not drained before --drain-timeout")
        return missed


def observe(setup: Setup, expected: int, outcome: Drain, submit_exit: int | None) -> Result:
    final = outcome.final
    registrations, duplicated = duplicated_registrations(setup.simulator_url)
    kept, dropped = webhook_stats(setup.simulator_url)
    dossiers = sum(final.dossiers.values())
    other_end = Counter(
        {
            status: n
            for status, n in final.dossiers.items()
            if status in CLOSED and status != "completed"
        }
    )
    return Result(
        dossiers=dossiers,
        lost=expected - final.closed,
        other_end=other_end,
        registrations=registrations,
        duplicated=duplicated,
        notices_queued=final.pending_notices + final.delivered_notices,
        notices_kept=kept,
        duplicates_dropped=dropped,
        undelivered=final.pending_notices,
        left_running=final.runs["RUNNING"],
        left_pending=final.runs["PENDING"],
        crashed=final.runs["CRASHED"],
        errors=final.steps["error"],
        audit_exit=setup.run("audit", "audit", "verify"),
        drained=outcome,
        injected=injected_faults(setup.simulator_url),
        submit_exit=submit_exit,
    )


# --------------------------------------------------------------------------- report


def table(result: Result, timeline: Timeline, args: argparse.Namespace) -> str:
    drain_seconds = result.drained.seconds_after_outage
    rows = [
        ("dossiers submitted / on record", f"{args.dossiers} / {result.dossiers}", ""),
        ("lost (not closed at the end)", str(result.lost), "0"),
        (
            "closed other than completed",
            ", ".join(f"{k} {v}" for k, v in sorted(result.other_end.items())) or "0",
            "0",
        ),
        (
            "agency registrations / duplicated",
            f"{result.registrations} / {result.duplicated}",
            "0 duplicated",
        ),
        (
            "notices queued / kept by receivers",
            f"{result.notices_queued} / {result.notices_kept}",
            "",
        ),
        (
            "duplicate notices delivered / deduplicated",
            f"{result.duplicates_dropped} / {result.duplicates_dropped}",
            "all deduplicated",
        ),
        ("notices never delivered", str(result.undelivered), "0"),
        ("runs left Running", str(result.left_running), "0"),
        ("runs left Pending", str(result.left_pending), "0"),
        ("runs marked Crashed", str(result.crashed), ""),
        ("steps in error (need a person)", str(result.errors), "0"),
        (
            "audit trail (lienthong audit verify)",
            "intact" if result.audit_exit == 0 else f"BROKEN (exit {result.audit_exit})",
            "intact",
        ),
        (
            "drained after the outage ended",
            "not drained" if drain_seconds is None else f"{drain_seconds:.0f} s",
            f"< {args.drain_timeout:g} s",
        ),
        ("sweep passes in the drain", str(result.drained.sweeps), ""),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = [
        "",
        f"Liên thông chaos run: {args.dossiers} dossiers (half birth, half death) through "
        f"`lienthong serve --limit {args.serve_limit}`, Prefect 3.8.8 server and our record "
        "on PostgreSQL,",
        "simulator faults: agencies 30% transient + 50-150 ms, webhooks 15%; "
        f"seed {args.seed}; outage {args.outage:g} s.",
        "",
        "faults:",
        *(f"  t+{at:6.1f}s  {what}" for at, what in timeline.events),
        "  injected by the simulator: " + ", ".join(f"{k} {v}" for k, v in result.injected.items()),
        f"  lienthong submit --deploy exit code: {result.submit_exit}",
        "",
        f"{'':<{width}}  {'result':>{value_width}}  target",
        *(f"{name:<{width}}  {value:>{value_width}}  {target}" for name, value, target in rows),
        "",
        f"final state: {result.drained.final.line()}",
    ]
    missed = result.missed()
    lines.append("targets: all met" if not missed else "targets MISSED: " + "; ".join(missed))
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.chaos",
        description="N dossiers through the production setup (PostgreSQL, Prefect server, "
        "lienthong serve, the simulator with faults) while it is broken, then drained.",
    )
    parser.add_argument("--dossiers", type=int, default=200, help="default 200")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument(
        "--serve-limit", type=int, default=10, help="lienthong serve --limit (default 10)"
    )
    parser.add_argument(
        "--terminate-seconds",
        type=float,
        default=5.0,
        help="each termination of our record's backends repeats every 0.25 s this long (default 5)",
    )
    parser.add_argument(
        "--stuck-minutes",
        type=float,
        default=2.0,
        help="lienthong sweep --stuck-minutes in the drain (default 2)",
    )
    parser.add_argument(
        "--sweep-every", type=float, default=30.0, help="seconds between sweeps in the drain"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=420.0,
        help="give up draining after this many seconds (default 420)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=150.0,
        help="after the drain, seconds to wait for no flow run Running or Pending "
        "(crashed-run detection: 3 missed 30 s heartbeats; default 150)",
    )
    parser.add_argument("--seed", type=int, default=10, help="the simulator's fault seed")
    add_postgres_argument(parser)
    parser.add_argument("--keep", action="store_true", help="keep the two databases and the logs")
    args = parser.parse_args(argv)
    if args.dossiers < 2 or args.serve_limit < 1 or args.outage < 0:
        parser.error("--dossiers must be at least 2, --serve-limit at least 1, --outage >= 0")
    return args


@contextlib.contextmanager
def services(args: argparse.Namespace, workdir: Path) -> Iterator[Setup]:
    """Databases, Prefect server, simulator and ``lienthong serve``, all stopped after."""
    suffix = uuid.uuid4().hex[:8]
    prefect_db, record_db = f"lienthong_chaos_prefect_{suffix}", f"lienthong_chaos_record_{suffix}"
    logs = workdir / "logs"
    logs.mkdir(parents=True)
    with throwaway_databases(args.postgres, [prefect_db, record_db], args.keep):
        prefect = PrefectServer(
            database_url(args.postgres, "asyncpg", prefect_db), workdir / "server", free_port()
        )
        simulator_port = free_port()
        env = clean_environment()
        env.update(
            PREFECT_API_URL=prefect.api_url,
            PREFECT_HOME=str(workdir / "client"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            # docs/production.md §3: heartbeats every 30 s for crashed-run detection.
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY="30",
            LIENTHONG_DATABASE_URL=database_url(args.postgres, "psycopg2", record_db),
            LIENTHONG_DATA_DIR=str(workdir / "lienthong"),
            LIENTHONG_SIMULATOR_PORT=str(simulator_port),
        )
        simulator_env = dict(
            env, LIENTHONG_SIMULATOR_FAULTS=json.dumps(simulator_faults(args.seed, None))
        )
        setup = Setup(
            admin_dsn=args.postgres,
            record_db=record_db,
            prefect=prefect,
            simulator_url=f"http://127.0.0.1:{simulator_port}",
            simulator=Service(
                "simulator",
                lienthong("simulator", "--data-dir", str(workdir / "simulator")),
                simulator_env,
                logs,
            ),
            serve=Service("serve", lienthong("serve", "--limit", str(args.serve_limit)), env, logs),
            env=env,
            logs=logs,
        )
        try:
            prefect.start()
            print(f"prefect server at {prefect.api_url} on database {prefect_db}", flush=True)
            if setup.run("db", "db", "upgrade") != 0:
                raise RuntimeError(f"lienthong db upgrade failed: see {logs / 'db.log'}")
            # `lienthong submit` acts under a client identity (lienthong/cli/identity.py).
            created = subprocess.run(
                lienthong("clients", "create", "--name", "chaos benchmark", "--role", "admin"),
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            env[CREDENTIAL_ENV] = created.stdout.split("credential (shown once): ")[1].split()[0]
            process = setup.simulator.start()
            wait_for_health(
                f"{setup.simulator_url}/admin/faults", process, setup.simulator.log_path
            )
            print(f"simulator at {setup.simulator_url}; our record on {record_db}", flush=True)
            setup.serve.start()
            wait_for_deployments(prefect.api_url)
            print("lienthong serve has registered the deployments", flush=True)
            yield setup
        finally:
            setup.serve.stop()
            setup.simulator.stop()
            prefect.stop()


def chaos(setup: Setup, args: argparse.Namespace, workdir: Path) -> tuple[Result, Timeline]:
    factory = DossierFactory(load_templates())
    timeline = Timeline()
    print(f"submitting {args.dossiers} dossiers (lienthong submit --deploy); faults:", flush=True)
    submitting = submit(setup, factory, args.dossiers, workdir)
    flowing = wait_until_chains_run(setup, timeline)
    for at, _, action in fault_plan(setup, args):
        time.sleep(max(0.0, flowing + at - time.monotonic()))
        action(timeline)
    if timeline.outage_end is not None:
        time.sleep(max(0.0, timeline.outage_end - time.monotonic()))
        timeline.events.append((timeline.outage_end - timeline.started, "outage over"))
        timeline.events.sort()
    try:
        submit_exit: int | None = submitting.wait(timeout=args.drain_timeout)
    except subprocess.TimeoutExpired:
        submitting.kill()
        submit_exit = None
    timeline.log(f"draining: lienthong sweep every {args.sweep_every:g} s")
    outcome = drain(setup, args, timeline)
    # What a run left Running or Pending is: no process holds it any more.
    setup.serve.stop()
    timeline.log("lienthong serve stopped (SIGTERM); counting")
    outcome.final = snapshot(setup)
    return observe(setup, args.dossiers, outcome, submit_exit), timeline


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="lienthong-chaos-"))
    if args.keep:
        print(f"work directory (logs): {workdir}")
    try:
        with services(args, workdir) as setup:
            result, timeline = chaos(setup, args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(table(result, timeline, args), flush=True)
    return 1 if result.missed() else 0


if __name__ == "__main__":
    sys.exit(main())
