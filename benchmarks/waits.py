"""Benchmark: thousands of dossiers waiting for an agency's decision, and how soon they go on.

::

    .venv/bin/python -m benchmarks.waits --waiting 2000 --decided 200

What it does, all of it torn down afterwards:

1. creates two throwaway PostgreSQL databases (a Prefect server's and our record), starts a
   real ``prefect server start`` on the first, migrates the second (as benchmarks/chains.py);
2. starts the agency simulator with Police in the asynchronous form (202 and a receipt)
   and our API (``lienthong.api``) in this process, continuing chains here;
3. **Waiting**: ``--waiting`` birth dossiers run until Police acknowledges them; Police
   decides only in an hour, so each run ends Paused (``AwaitingDecision``) and the dossier
   waits in our database. Prints this process's memory (RSS) and thread count before and
   after, and how many flow runs Prefect counts Running, Paused and in total;
4. **Resuming**: ``--decided`` more dossiers wait for Police deciding after
   ``--delay-seconds``; its signed callbacks reach our API, which records each decision and
   runs the dossier's paused run again in this process. For each dossier: seconds from the
   decision recorded (the audit event of the callback) to the next step's request (the
   health-card step started), p50 / p95 / max.

Not part of the test suite. Runs continued by workers (deployments) add the worker's
polling interval (``PREFECT_WORKER_QUERY_SECONDS``, default 10 s; ``lienthong serve``:
``PREFECT_RUNNER_POLL_FREQUENCY``) to the resume latency.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.chains import drain_prefect_services
from benchmarks.infra import (
    DossierFactory,
    add_postgres_argument,
    load_templates,
    run_with_prefect_and_record,
)

if TYPE_CHECKING:
    from lienthong.services.container import Container


def rss_mib() -> float:
    """This process's resident memory, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def count_runs() -> dict[str, int]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    counts = {}
    async with get_client() as client:
        for state in (StateType.RUNNING, StateType.PAUSED, StateType.COMPLETED):
            flow_filter = FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[state]))
            )
            counts[state.value] = await client.count_flow_runs(flow_run_filter=flow_filter)
        counts["all"] = await client.count_flow_runs()
    return counts


async def submit_and_run(
    container: Container, raws: list[dict[str, Any]], concurrency: int
) -> list[str]:
    from lienthong.flows.runner import run_here, runnable
    from lienthong.services.intake import receive
    from lienthong.services.ledger import Actor

    references = []
    for raw in raws:
        result = await asyncio.to_thread(receive, container, raw, Actor("bench"))
        assert result.accepted, result.problems
        references.append(result.reference)
    await run_here(runnable(container, references), concurrency=concurrency)
    return references


def resume_latencies(container: Container, references: list[str]) -> list[float]:
    """Per dossier: from the Police decision recorded by callback to the card step's start."""
    latencies = []
    with container.unit_of_work() as uow:
        for reference in references:
            decided = started = None
            for entry in uow.audit.entries(reference):
                record = entry.record
                if record.actor == "agency:police:callback" and record.status_after == "succeeded":
                    decided = record.occurred_at
                if (
                    record.step_kind == "child_health_card"
                    and record.status_after == "in_progress"
                    and started is None
                ):
                    started = record.occurred_at
            if decided is not None and started is not None:
                latencies.append((started - decided).total_seconds())
    return latencies


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=2000, help="dossiers left waiting")
    parser.add_argument("--decided", type=int, default=200, help="dossiers decided and resumed")
    parser.add_argument("--delay-seconds", type=float, default=5.0, help="Police's delay")
    parser.add_argument("--concurrency", type=int, default=32, help="runs at a time")
    add_postgres_argument(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_with_prefect_and_record(parse_args(argv), "wait", _benchmark)


def _benchmark(args: argparse.Namespace, record_url: str, workdir: Path) -> int:
    from lienthong.api.server import ApiServer
    from lienthong.bootstrap import build_container, run_async, use_container
    from lienthong.migrations import upgrade_database
    from lienthong.services.views import load_view
    from lienthong.settings import ApiSettings, Settings
    from lienthong.simulator.server import SimulatorServer
    from lienthong.simulator.settings import DecisionForm, SimulatorDecisionSettings
    from lienthong.simulator_config import client_settings, simulator_credentials

    upgrade_database(record_url)
    api = ApiSettings(poll_interval_seconds=0, run_chains_with_deployments=False)
    settings = Settings(database_url=record_url, data_dir=workdir / "lienthong", api=api)
    later = SimulatorDecisionSettings(forms={"police": DecisionForm.ASYNC}, delay_seconds=3600)
    factory = DossierFactory(load_templates())
    with SimulatorServer(
        simulator_credentials(settings), workdir / "simulator", port=0, decisions=later
    ) as simulator:
        container = build_container(client_settings(settings, simulator))
        with use_container(container), ApiServer(container) as server:
            simulator.set_callback_url(server.url)

            async def waiting() -> None:
                before = (rss_mib(), threading.active_count())
                raws = [factory.make("birth", "WT") for _ in range(args.waiting)]
                started = time.perf_counter()
                references = await submit_and_run(container, raws, args.concurrency)
                took = time.perf_counter() - started
                waits = sum(
                    1
                    for ref in references
                    if any(
                        s.status.value == "awaiting_decision"
                        for s in load_view(container, ref).steps
                    )
                )
                runs = await count_runs()
                print(
                    f"{args.waiting} dossiers started in {took:.0f} s; {waits} now wait for Police"
                )
                print(f"  flow runs: {runs}")
                print(
                    f"  this process: {before[0]:.0f} MiB / {before[1]} threads before, "
                    f"{rss_mib():.0f} MiB / {threading.active_count()} threads with them waiting"
                )

            async def resuming() -> None:
                simulator.set_decisions(
                    later.model_copy(update={"delay_seconds": args.delay_seconds})
                )
                raws = [factory.make("birth", "RS") for _ in range(args.decided)]
                references = await submit_and_run(container, raws, args.concurrency)
                deadline = time.monotonic() + 600
                while not all(
                    load_view(container, r).status.value != "in_progress" for r in references
                ):
                    if time.monotonic() > deadline:
                        raise TimeoutError("decided dossiers did not all finish")
                    await asyncio.sleep(0.5)
                latencies = resume_latencies(container, references)
                print(
                    f"{len(latencies)} dossiers resumed by callback: decision recorded -> next "
                    f"step's request p50 {percentile(latencies, 50):.2f} s, "
                    f"p95 {percentile(latencies, 95):.2f} s, max {max(latencies):.2f} s"
                )

            async def go() -> None:
                try:
                    await waiting()
                    if args.decided:
                        await resuming()
                finally:
                    await drain_prefect_services()

            try:
                run_async(go(), container)
            finally:
                container.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
