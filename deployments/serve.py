"""``lienthong serve``: one process serving every deployment of prefect.yaml.

The deployments (names, tags, concurrency limits, schedules) are read from prefect.yaml,
so the work-pool setup and the one-process setup cannot drift apart. Runs are executed
in this process as subprocesses of the Prefect runner; no work pool or worker is needed.

prefect.yaml is read from the installed package (``lienthong/deployments/prefect.yaml``,
the repository's top-level file in a source checkout), and its entrypoints are module
paths (``lienthong.flows.birth_chain.birth_chain``): each flow run imports the installed
package, whatever directory ``lienthong serve`` was started in.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from importlib import resources
from typing import Any, Self

import yaml
from prefect import Flow
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint
from prefect.runner import Runner
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from lienthong.deployments.crash_detection import apply_crash_detection

# How long a stop may wait for the Prefect server (pausing schedules, cancelling runs).
STOP_SECONDS = 10.0
PREFECT_YAML = resources.files("lienthong.deployments").joinpath("prefect.yaml")


def deployment_specs(text: str | None = None) -> list[dict[str, Any]]:
    """The ``deployments:`` entries of prefect.yaml (the packaged one unless ``text``)."""
    document = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8") if text is None else text)
    specs: list[dict[str, Any]] = document["deployments"]
    return specs


async def runner_deployment(spec: dict[str, Any]) -> RunnerDeployment:
    entrypoint: str = spec["entrypoint"]
    if ":" in entrypoint:
        raise ValueError(
            f"prefect.yaml entrypoint {entrypoint!r}: use a module path "
            "(package.module.flow_function), so runs import the installed package"
        )
    chain_flow: Flow[..., Any] = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
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

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """SIGTERM reaches ``serve_all``'s handler through the event loop instead."""

    async def __aenter__(self) -> Self:
        entered = await super().__aenter__()
        count = len(self._deployment_registry.get_deployment_ids())
        print(f"lienthong serve: serving {count} deployments; SIGTERM or SIGINT stops", flush=True)
        return entered


async def _register_and_start(runner: Runner, deployments: list[dict[str, Any]]) -> None:
    for spec in deployments:
        await runner.aadd_deployment(await runner_deployment(spec))
    await apply_crash_detection()
    await runner.start()


async def serve_all(limit: int | None = None, stop_seconds: float = STOP_SECONDS) -> str:
    """Serve every deployment of prefect.yaml until SIGTERM or SIGINT; returns how it ended.

    On a signal the runner stops polling, cancels the runs it holds (their dossiers resume
    at the first unfinished step) and pauses the deployments' schedules, all within
    ``stop_seconds``: a server that has gone away cannot keep the process alive.
    """
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def on_signal(signum: signal.Signals) -> None:
        if not received.done():
            received.set_result(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    runner = _Runner(limit=limit, pause_on_shutdown=True)
    serving = asyncio.create_task(_register_and_start(runner, deployment_specs()))
    try:
        either: set[asyncio.Future[Any]] = {serving, received}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()  # an error while registering or serving: the caller reports it
            return "stopped"
        name = received.result().name
        if not runner.started:  # still registering the deployments
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            return f"{name}: stopped before the runner started"
        try:
            async with asyncio.timeout(stop_seconds):
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
