"""Benchmark: N dossiers through both chains, with Prefect and without it.

::

    .venv/bin/python -m benchmarks.chains --dossiers 100 --concurrency 16 --latency-ms 50

What it does, all of it torn down afterwards (``--keep`` keeps the two databases):

1. creates two throwaway PostgreSQL databases, one for a Prefect server and one for our
   record, and migrates ours (``upgrade_database``);
2. starts a real ``prefect server start`` subprocess on a free port, on the first database
   (PREFECT_HOME in a temporary directory, analytics off), and waits for ``/api/health``;
3. starts the agency simulator in this process with ``--latency-ms`` on every agency call;
4. takes N dossiers (half birth, half death) made from the valid examples, each with a
   unique reference, birth certificate, death notice and deceased ID, and stores them
   through intake (not timed);
5. **Prefect**: runs the birth-chain / death-chain flows in this process against that server,
   ``--concurrency`` at a time, timing each flow call from its start to its end;
6. **Adapters only**: N fresh dossiers through the same steps without Prefect: the same
   services (lease, begin step, finish step), the same request builders and agency clients
   (``lienthong.services.agency_calls.call_agency``) and the same outbox delivery, at the
   same concurrency. No Prefect task runs, events, artifacts or API calls;
7. prints dossiers per second, p50 / p95 time per chain and the Prefect / adapters ratio.

One dossier of each chain is run first in each mode as a warm-up and is not counted.
It is not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.infra import (
    DossierFactory,
    add_postgres_argument,
    load_templates,
    run_with_prefect_and_record,
)

if TYPE_CHECKING:
    from lienthong.models.status import Chain
    from lienthong.services.container import Container


# --------------------------------------------------------------------------- measurement


@dataclass
class Measured:
    label: str
    wall_seconds: float = 0.0
    seconds: dict[str, list[float]] = field(default_factory=lambda: {"birth": [], "death": []})
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.seconds.values())

    @property
    def per_second(self) -> float:
        return self.count / self.wall_seconds if self.wall_seconds else 0.0

    def percentile(self, chain: str, q: int) -> float:
        values = sorted(self.seconds[chain])
        if not values:
            return float("nan")
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


RunOne = Callable[[str, "Chain"], Awaitable[str]]


async def run_all(
    container: Container,
    raws: list[dict[str, Any]],
    concurrency: int,
    run_one: RunOne,
    measured: Measured | None,
) -> None:
    """Store ``raws`` through intake (not timed), then run each, ``concurrency`` at a time."""
    from lienthong.services.intake import receive
    from lienthong.services.ledger import Actor

    entries: list[tuple[str, Chain]] = []
    for raw in raws:
        result = await asyncio.to_thread(receive, container, raw, Actor("bench"))
        if not result.accepted or result.chain is None:
            problems = "; ".join(f"{p.path}: {p.message}" for p in result.problems)
            raise RuntimeError(f"benchmark dossier {result.reference} rejected: {problems}")
        entries.append((result.reference, result.chain))

    limit = asyncio.Semaphore(concurrency)

    async def one(reference: str, chain: Chain) -> None:
        async with limit:
            started = time.perf_counter()
            outcome = await run_one(reference, chain)
            elapsed = time.perf_counter() - started
        if measured is not None:
            measured.seconds[chain.value].append(elapsed)
            measured.outcomes[outcome] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(reference, chain) for reference, chain in entries))
    if measured is not None:
        measured.wall_seconds = time.perf_counter() - started


async def through_prefect(reference: str, chain: Chain) -> str:
    """The chain's flow, called in this process, as ``lienthong submit`` does."""
    from prefect import tags

    from lienthong.bootstrap import current_container
    from lienthong.flows.runner import CHAIN_FLOWS
    from lienthong.models.chains import run_tags
    from lienthong.services.views import load_view

    container = current_container()
    view = await asyncio.to_thread(load_view, container, reference)
    with tags(*run_tags(chain, view.commune_code, view.province_code)):
        flow: Any = CHAIN_FLOWS[chain]
        state: Any = await flow(reference, return_state=True)
    view = await asyncio.to_thread(load_view, container, reference)
    return f"{state.type.value.lower()}/{view.status.value}"


async def through_adapters(reference: str, chain: Chain) -> str:
    """The chain's steps without Prefect: record functions, request builders, agency clients.

    Mirrors ``flows.chain_runner``: hold the dossier's lease, run each unfinished step
    (begin, call the agency, finish), stop at the first one that does not succeed, then
    deliver the dossier's notifications from the outbox.
    """
    from lienthong.bootstrap import current_container
    from lienthong.flows.lease import dossier_lease
    from lienthong.models.status import StepStatus
    from lienthong.services.agency_calls import call_agency
    from lienthong.services.begin_step import begin_step
    from lienthong.services.finish_step import finish_step
    from lienthong.services.ledger import Actor
    from lienthong.services.outbox import IN_RUN_PASSES, deliver_with_patience
    from lienthong.services.step_outcomes import granted, outcome_of
    from lienthong.services.views import load_view

    container = current_container()
    actor = Actor("system")
    view = await asyncio.to_thread(load_view, container, reference)
    outcome = "completed"
    async with dossier_lease(container, reference, str(uuid.uuid4())):
        for kind in [s.kind for s in view.steps if s.status == StepStatus.PENDING]:
            call = await asyncio.to_thread(begin_step, container, reference, kind, actor)
            try:
                step = granted(await call_agency(container.agency_clients.get(), call))
            except Exception as exc:
                step = outcome_of(exc)
            if step.status in (StepStatus.FAILED, StepStatus.ERROR):
                outcome = "failed"
            await asyncio.to_thread(finish_step, container, reference, kind, step, actor)
            if step.status != StepStatus.SUCCEEDED:
                break
    await deliver_with_patience(container, reference, IN_RUN_PASSES)
    view = await asyncio.to_thread(load_view, container, reference)
    return f"{outcome}/{view.status.value}"


async def measure(
    container: Container, factory: DossierFactory, args: argparse.Namespace
) -> tuple[Measured, Measured]:
    prefect_run = Measured("Prefect flows")
    adapters_run = Measured("Adapters only")
    warm_up = factory.batch(2, "BMW")
    await run_all(container, warm_up, args.concurrency, through_prefect, None)
    print(f"running {args.dossiers} dossiers through the Prefect flows ...", flush=True)
    prefect_dossiers = factory.batch(args.dossiers, "BMP")
    await run_all(container, prefect_dossiers, args.concurrency, through_prefect, prefect_run)

    warm_up = factory.batch(2, "BMV")
    await run_all(container, warm_up, args.concurrency, through_adapters, None)
    print(f"running {args.dossiers} dossiers through the adapters alone ...", flush=True)
    adapter_dossiers = factory.batch(args.dossiers, "BMA")
    await run_all(container, adapter_dossiers, args.concurrency, through_adapters, adapters_run)
    return prefect_run, adapters_run


async def drain_prefect_services() -> None:
    """Send the last logs and events before the server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        waiting = service.drain_all(timeout=10, at_exit=False)
        if waiting is not None and not isinstance(waiting, tuple):
            await waiting


# --------------------------------------------------------------------------- report


def report(prefect_run: Measured, adapters_run: Measured, args: argparse.Namespace) -> str:
    def row(label: str, cells: list[str]) -> str:
        return f"{label:<28}" + "".join(f"{c:>12}" for c in cells)

    def figures(m: Measured) -> list[str]:
        return [
            str(m.count),
            f"{m.wall_seconds:.2f}",
            f"{m.per_second:.2f}",
            f"{m.percentile('birth', 50):.3f}",
            f"{m.percentile('birth', 95):.3f}",
            f"{m.percentile('death', 50):.3f}",
            f"{m.percentile('death', 95):.3f}",
        ]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "-"

    p, a = prefect_run, adapters_run
    lines = [
        "",
        f"Liên thông chain benchmark: {args.dossiers} dossiers per mode (half birth, half death),"
        f" concurrency {args.concurrency}, agency latency {args.latency_ms:g} ms",
        "Prefect 3.8.8 server on PostgreSQL; our record on PostgreSQL; simulator in-process.",
        "Adapters only = same record writes (lienthong.services), request builders, agency clients",
        "and outbox delivery, without Prefect (no task runs, events, artifacts, API calls).",
        "",
        row("", ["dossiers", "wall s", "dossiers/s", "birth p50 s", "birth p95 s"])
        + "".join(f"{c:>12}" for c in ["death p50 s", "death p95 s"]),
        row(p.label, figures(p)),
        row(a.label, figures(a)),
        row(
            "Ratio Prefect / adapters",
            [
                "",
                ratio(p.wall_seconds, a.wall_seconds),
                ratio(p.per_second, a.per_second),
                ratio(p.percentile("birth", 50), a.percentile("birth", 50)),
                ratio(p.percentile("birth", 95), a.percentile("birth", 95)),
                ratio(p.percentile("death", 50), a.percentile("death", 50)),
                ratio(p.percentile("death", 95), a.percentile("death", 95)),
            ],
        ),
        "",
        "outcomes (run/dossier status):",
        f"  {p.label}: " + ", ".join(f"{k} {v}" for k, v in sorted(p.outcomes.items())),
        f"  {a.label}: " + ", ".join(f"{k} {v}" for k, v in sorted(a.outcomes.items())),
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.chains",
        description="N dossiers through both chains with Prefect (server on PostgreSQL) "
        "and through the adapters alone, against the simulator.",
    )
    parser.add_argument("--dossiers", type=int, default=100, help="per mode (default 100)")
    parser.add_argument("--concurrency", type=int, default=16, help="chains at a time")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="per agency call")
    add_postgres_argument(parser)
    parser.add_argument("--keep", action="store_true", help="keep the two databases")
    args = parser.parse_args(argv)
    if args.dossiers < 2 or args.concurrency < 1:
        parser.error("--dossiers must be at least 2 and --concurrency at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_with_prefect_and_record(args, "bench", _benchmark, keep=args.keep)


def _benchmark(args: argparse.Namespace, record_url: str, workdir: Path) -> int:
    from lienthong.bootstrap import build_container, run_async, use_container
    from lienthong.migrations import upgrade_database
    from lienthong.settings import Settings
    from lienthong.simulator.server import SimulatorServer
    from lienthong.simulator.settings import FaultProfile, SimulatorFaultSettings
    from lienthong.simulator_config import client_settings, simulator_credentials

    upgrade_database(record_url)
    settings = Settings(
        database_url=record_url, data_dir=workdir / "lienthong", agency_concurrency_limits=False
    )
    faults = SimulatorFaultSettings(agencies=FaultProfile(latency_ms=args.latency_ms))
    factory = DossierFactory(load_templates())
    credentials = simulator_credentials(settings)
    with SimulatorServer(credentials, workdir / "simulator", faults, port=0) as simulator:
        container = build_container(client_settings(settings, simulator))

        async def go() -> tuple[Measured, Measured]:
            try:
                return await measure(container, factory, args)
            finally:
                await drain_prefect_services()

        try:
            with use_container(container):
                prefect_run, adapters_run = run_async(go(), container)
        finally:
            container.close()
    print(report(prefect_run, adapters_run, args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
