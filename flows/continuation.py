"""Continue a dossier's chain once what it waited for is recorded (a decision, a supplement).

Like a durable-workflow engine's signal (Temporal) or message correlation (Camunda): the
decision is first recorded in our database (services/decisions.py), then the dossier's run
is found by its tag and resumed. A suspended run is handed back to Prefect
(``resume_flow_run``: a worker runs it again); a run paused in a process without a
deployment is run again here; a run still going needs nothing (it reads the record again
before it suspends: flows/waiting.py); and when no run waits (it was lost, or Prefect was
down) a new one starts. Nothing here decides anything: a repeated call is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from enum import StrEnum
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow_async

from lienthong.flows.runner import CHAIN_FLOWS, hand_to_deployment, run_here, runnable
from lienthong.flows.waiting import dossier_tag
from lienthong.models.status import TERMINAL_DOSSIER_STATUSES, Chain
from lienthong.services.container import Container
from lienthong.services.views import load_view

logger = logging.getLogger(__name__)

GOING = frozenset({StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})


class Continued(StrEnum):
    RESUMED = "resumed"  # a suspended run handed back to Prefect's workers
    RAN_HERE = "ran_here"  # a paused in-process run, run again in this process
    STARTED = "started"  # a new run (none was waiting)
    RUNNING = "running"  # a run is going: it reads the record itself
    CLOSED = "closed"  # the dossier is closed: nothing to continue


async def dossier_runs(reference: str) -> list[FlowRun]:
    """Every run of the dossier, newest first (one filter: the ``dossier:<REF>`` tag)."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[dossier_tag(reference)]))
        )
    return sorted(runs, key=lambda r: r.created.timestamp() if r.created else 0.0, reverse=True)


def newest_paused(runs: list[FlowRun]) -> FlowRun | None:
    """The newest run paused (or suspended) while its dossier waited, if any."""
    return next((r for r in runs if r.state is not None and r.state.is_paused()), None)


async def paused_run(reference: str) -> FlowRun | None:
    """The dossier's run paused or suspended while it waited, if any: the one to resume."""
    return newest_paused(await dossier_runs(reference))


async def continue_dossier(container: Container, reference: str, *, deploy: bool) -> Continued:
    """Resume (or start) the dossier's chain. ``deploy``: a new run goes to the deployments."""
    view = await asyncio.to_thread(load_view, container, reference)
    if view.status in TERMINAL_DOSSIER_STATUSES or view.chain is None:
        return Continued.CLOSED
    runs = await dossier_runs(reference)
    if any(r.state is not None and r.state.type in GOING for r in runs):
        return Continued.RUNNING
    paused = newest_paused(runs)
    if paused is not None and paused.state is not None:
        if paused.state.state_details.pause_reschedule:
            async with get_client() as client:
                await client.resume_flow_run(paused.id)
            logger.info("dossier %s: resumed run %s", reference, paused.id)
            return Continued.RESUMED
        await _run_again_here(paused, reference, view.chain)
        return Continued.RAN_HERE
    entries = await asyncio.to_thread(runnable, container, [reference])
    if deploy:
        await hand_to_deployment(*entries[0])
    else:
        await run_here(entries)
    return Continued.STARTED


async def _run_again_here(flow_run: FlowRun, reference: str, chain: Chain) -> None:
    """Run a paused in-process run again, in this process, from the top."""
    flow: Any = CHAIN_FLOWS[chain]
    # Pause: waiting again (the next step's agency, say), paused until the next decision.
    with contextlib.suppress(Pause):
        await run_flow_async(
            flow, flow_run=flow_run, parameters={"reference": reference}, return_type="state"
        )
