"""``lienthong serve``: one process serving every deployment of prefect.yaml.

The deployments (names, tags, concurrency limits, schedules) are read from prefect.yaml,
so the work-pool setup and the one-process setup cannot drift apart; no work pool is needed.

prefect.yaml is read from the installed package (``lienthong/deployments/prefect.yaml``,
the repository's top-level file in a source checkout), and its entrypoints are module
paths (``lienthong.flows.birth_chain.birth_chain``): each flow run imports the installed
package, whatever directory ``lienthong serve`` was started in.

The chain deployments' runs are executed inside this process by the chain worker
(deployments/chain_worker.py): no process per dossier. The scheduled ones (sweep, report,
audit anchor) go through Prefect's runner, a subprocess per run, a few times a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from importlib import resources
from typing import Any, Self
from uuid import UUID

import yaml
from prefect import Flow
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint
from prefect.runner import Runner
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from lienthong.deployments.chain_worker import ChainWorker
from lienthong.deployments.crash_detection import apply_crash_detection
from lienthong.flows.runner import CHAIN_FLOWS

# How long a stop may wait for the Prefect server (pausing schedules, cancelling runs).
STOP_SECONDS = 10.0
# Chain runs at once in one process, unless --limit says otherwise: as many as one chain
# deployment's concurrency limit in prefect.yaml.
DEFAULT_CHAIN_RUNS = 50
PREFECT_YAML = resources.files("lienthong.deployments").joinpath("prefect.yaml")


def deployment_specs(text: str | None = None) -> list[dict[str, Any]]:
    """The ``deployments:`` entries of prefect.yaml (the packaged one unless ``text``)."""
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8") if text is None else text)
    specs: list[dict[str, Any]] = document["deployments"]
    return specs


def spec_flow(spec: dict[str, Any]) -> Flow[..., Any]:
    """The flow a prefect.yaml deployment names, imported from the installed package."""
    entrypoint: str = spec["entrypoint"]
    if ":" in entrypoint:
        raise ValueError(
            f"prefect.yaml entrypoint {entrypoint!r}: use a module path "
            "(package.module.flow_function), so runs import the installed package"
        )
    loaded: Flow[..., Any] = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
    return loaded


async def runner_deployment(spec: dict[str, Any]) -> RunnerDeployment:
    chain_flow = spec_flow(spec)
    schedules = [
        Cron(schedule["cron"], timezone=schedule.get("timezone"))
        for schedule in spec.get("schedules", [])
    ]
    return await chain_flow.ato_deployment(
        name=spec["name"],
        description=spec.get("description"),
        tags=spec.get("tags"),
        concurrency_limit=spec.get("concurrency_limit"),
        schedules=schedules or None,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


class _Runner(Runner):
    """Prefect's runner, minus its own SIGTERM handler.

    Runner.start installs one that calls the async ``stop()`` without awaiting it ("Runner.astop
    was never awaited") and then exits through the runner's shutdown, which retries the
    Prefect API without end when the server is gone. ``serve_all`` handles both signals.
    """

    # What to print once the runner is up (and a signal then stops it cleanly).
    ready_line = ""

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """SIGTERM reaches ``serve_all``'s handler through the event loop instead."""

    async def __aenter__(self) -> Self:
        entered = await super().__aenter__()
        print(self.ready_line, flush=True)
        return entered


def is_chain(spec: dict[str, Any]) -> bool:
    """A chain deployment (prefect.yaml names each deployment after its flow)."""
    return spec["name"] in {f.name for f in CHAIN_FLOWS.values()}


async def _register(
    runner: Runner, specs: list[dict[str, Any]], chains_only: bool
) -> dict[UUID, Flow[..., Any]]:
    """Create or update every deployment; the chains' ids with their flows, for the worker.

    The scheduled deployments (sweep, report, audit anchor: a few runs a day) are the
    runner's, a process per run; the chains run in this process (deployments/chain_worker.py).
    """
    chains: dict[UUID, Flow[..., Any]] = {}
    for spec in specs:
        if chains_only and not is_chain(spec):
            continue
        deployment = await runner_deployment(spec)
        if is_chain(spec):
            chain_flow: Flow[..., Any] = load_flow_from_entrypoint(
                spec["entrypoint"], use_placeholder_flow=False
            )
            chains[await deployment.aapply()] = chain_flow
        else:
            await runner.aadd_deployment(deployment)
    await apply_crash_detection()
    return chains


async def _register_and_start(
    runner: _Runner, worker_stop: asyncio.Event, limit: int | None, chains_only: bool
) -> None:
    chains = await _register(runner, deployment_specs(), chains_only)
    worker = ChainWorker(chains, limit=limit or DEFAULT_CHAIN_RUNS)
    ready = (
        f"lienthong serve: running the {len(chains)} chain deployments in this process"
        f"{'' if chains_only else ', the others through the runner'}; SIGTERM or SIGINT stops"
    )
    if chains_only:
        print(ready, flush=True)
        await worker.run(worker_stop)
        return
    runner.ready_line = ready
    await asyncio.gather(runner.start(), worker.run(worker_stop))


async def serve_all(
    limit: int | None = None, stop_seconds: float = STOP_SECONDS, chains_only: bool = False
) -> str:
    """Serve the deployments of prefect.yaml until SIGTERM or SIGINT; returns how it ended.

    ``chains_only``: one more worker for the chains (scale out), serving nothing else.
    On a signal the worker and the runner stop polling, cancel the runs they hold (their
    dossiers resume at the first unfinished step) and the runner pauses the scheduled
    deployments, all within ``stop_seconds``: a server that has gone away cannot keep the
    process alive.
    """
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def on_signal(signum: signal.Signals) -> None:
        if not received.done():
            received.set_result(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    runner = _Runner(limit=limit, pause_on_shutdown=True)
    worker_stop = asyncio.Event()
    serving = asyncio.create_task(_register_and_start(runner, worker_stop, limit, chains_only))
    try:
        either: set[asyncio.Future[Any]] = {serving, received}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()  # an error while registering or serving: the caller reports it
            return "stopped"
        name = received.result().name
        worker_stop.set()
        if not runner.started and not chains_only:  # still registering the deployments
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            return f"{name}: stopped before the runner started"
        try:
            async with asyncio.timeout(stop_seconds):
                if not chains_only:
                    await runner.astop()
                await serving
        except TimeoutError:
            return f"{name}: stopped; no answer from the Prefect server in {stop_seconds:.0f} s"
        except Exception as error:  # the server went away while the schedules were paused
            return f"{name}: stopped; the Prefect server failed: {type(error).__name__}"
        return f"{name}: stopped; deployments paused"
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        serving.cancel()
