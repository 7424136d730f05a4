"""Chain runs executed inside a long-lived process, not a new Python process per dossier.

Prefect's runner (``lienthong serve`` before) starts a process for every flow run: about
2 CPU-seconds of importing Prefect for a chain whose own work is a tenth of that
(issue 15, docs/benchmarks.md). A chain run is asynchronous and spends its time waiting on
agencies and databases, so many share one event loop well. This worker polls the Prefect
server for the chain deployments' scheduled runs, claims each one as Prefect's runner does
(proposing Pending, which the server refuses past the deployment's concurrency limit), and
runs it here with Prefect's own flow engine (``run_flow_async``): the same states, task
runs, retries, logs, events and heartbeats as in a subprocess. A run cancelled from the UI
is cancelled here. A worker killed mid-run stops its runs' heartbeats: crashed-run detection
marks them Crashed and the sweep resumes their dossiers, as before; a run claimed but not
started is scheduled again by the sweep (flows/abandoned_runs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from prefect import Flow
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import Abort, Pause
from prefect.flow_engine import run_flow_async
from prefect.states import Cancelled, Pending
from prefect.utilities.engine import propose_state

logger = logging.getLogger(__name__)


@dataclass
class ChainWorker:
    """Claims and runs the scheduled runs of ``flows`` (deployment id -> flow) in this
    process, at most ``limit`` at once; polls every ``poll_seconds``."""

    flows: Mapping[UUID, Flow[..., Any]]
    limit: int = 50
    poll_seconds: float = 1.0
    active: dict[UUID, asyncio.Task[None]] = field(default_factory=dict)
    server_away: bool = False

    async def run(self, stop: asyncio.Event) -> None:
        """Poll, claim and run until ``stop`` is set; then cancel the runs still going
        (their dossiers resume at the first unfinished step, like any interrupted run)."""
        async with get_client() as client:
            try:
                while not stop.is_set():
                    await self._poll(client)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.poll_seconds)
            finally:
                await self._cancel_all()

    async def _poll(self, client: PrefectClient) -> None:
        """One poll; the Prefect server away (restarting, say) is told once and waited out."""
        try:
            await self._claim_and_start(client)
            await self._cancel_the_cancelling(client)
        except Exception as error:
            if not self.server_away:
                logger.warning("chain worker: the Prefect server did not answer (%s)", error)
            self.server_away = True
            return
        if self.server_away:
            logger.warning("chain worker: the Prefect server answers again")
        self.server_away = False

    async def _claim_and_start(self, client: PrefectClient) -> None:
        free = self.limit - len(self.active)
        if free <= 0:
            return
        runs = await client.get_scheduled_flow_runs_for_deployments(
            deployment_ids=list(self.flows), scheduled_before=datetime.now(UTC), limit=free
        )
        for flow_run in runs:
            if flow_run.id in self.active or not await _claim(client, flow_run):
                continue
            task = asyncio.create_task(self._execute(flow_run), name=f"flow-run-{flow_run.id}")
            self.active[flow_run.id] = task
            task.add_done_callback(self._forget(flow_run.id))

    def _forget(self, run_id: UUID) -> Callable[[asyncio.Task[None]], None]:
        def forget(_: asyncio.Task[None]) -> None:
            self.active.pop(run_id, None)

        return forget

    async def _execute(self, flow_run: FlowRun) -> None:
        flow = self.flows[flow_run.deployment_id] if flow_run.deployment_id else None
        if flow is None:
            return
        try:
            # The engine reads no parameters from the run in this call (the subprocess entry
            # point does): hand them over.
            await run_flow_async(
                flow, flow_run=flow_run, parameters=dict(flow_run.parameters), return_type="state"
            )
        except Pause:
            pass  # suspended while its dossier waits: resumed later as a new scheduled run
        except asyncio.CancelledError:
            raise
        except Exception:
            # The engine has set the run's final state already; nothing else to do here.
            logger.exception("flow run %s ended with an error", flow_run.name)

    async def _cancel_the_cancelling(self, client: PrefectClient) -> None:
        """Runs cancelled in the UI or the API are Cancelling: stop them here."""
        if not self.active:
            return
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(self.active)))
        )
        for flow_run in runs:
            if flow_run.state is None or flow_run.state.type != StateType.CANCELLING:
                continue
            # Cancelled first: the engine, interrupted, proposes Crashed, which the server
            # refuses for a run already in a final state; the person asked for Cancelled.
            await client.set_flow_run_state(
                flow_run.id, Cancelled(message="cancelled in the chain worker"), force=True
            )
            task = self.active.get(flow_run.id)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _cancel_all(self) -> None:
        tasks = list(self.active.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _claim(client: PrefectClient, flow_run: FlowRun) -> bool:
    """Propose Pending, as Prefect's runner does: the server refuses it if another worker
    claimed the run first, or if the deployment's concurrency limit is reached."""
    try:
        state = await propose_state(client, Pending(), flow_run_id=flow_run.id)
    except Abort:
        return False
    return state.is_pending()
