"""Chain runs a worker claimed and never started: scheduled again for a live worker.

A Prefect runner marks a scheduled run Pending, then starts the run's process. A runner
killed in between (kill -9, a lost host) leaves the run Pending for ever: crashed-run
detection (deployments/crash_detection.py) watches heartbeats, which only a started run
sends, and a Pending run counts as going, so the dossier's continuation waits on it
(flows/continuation.py). The sweep finds such runs and sets them Scheduled again; whichever
worker takes one reads the dossier's record and does only what is left (the lease keeps
two runs from calling agencies for one dossier).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prefect import State
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.states import Scheduled

from lienthong.flows.runner import CHAIN_FLOWS

# A runner starts a claimed run's process within seconds; on a loaded machine, within a
# minute or so. Never take back a run younger than this, whatever the caller asks.
MIN_PENDING = timedelta(minutes=2)
# Enough for one sweep: the next takes the rest.
_BATCH = 200


def abandoned(run: FlowRun, now: datetime, pending_for: timedelta) -> bool:
    """A deployment's run Pending for longer than ``pending_for`` (at least MIN_PENDING)."""
    state = run.state
    return (
        state is not None
        and state.type == StateType.PENDING
        and run.deployment_id is not None
        and now - state.timestamp >= max(pending_for, MIN_PENDING)
    )


async def reschedule_abandoned_runs(now: datetime, pending_for: timedelta) -> list[FlowRun]:
    """Set the chains' abandoned Pending runs Scheduled again; the runs so rescheduled."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(
                name=FlowFilterName(any_=[f.name for f in CHAIN_FLOWS.values()])
            ),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PENDING])),
                deployment_id=FlowRunFilterDeploymentId(is_null_=False),
            ),
            limit=_BATCH,
        )
        rescheduled = []
        for run in runs:
            if not abandoned(run, now, pending_for):
                continue
            state: State[Any] = Scheduled(
                message="claimed by a worker that stopped before starting it; scheduled again"
            )
            await client.set_flow_run_state(run.id, state, force=True)
            rescheduled.append(run)
    return rescheduled
