"""A chain run claimed by a worker that died before starting it is scheduled again by the
sweep (flows/abandoned_runs.py), on a real Prefect server; a young Pending run is left be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Pending

from lienthong.deployments.serve import deployment_specs, runner_deployment
from lienthong.flows.abandoned_runs import MIN_PENDING, reschedule_abandoned_runs

pytestmark = pytest.mark.e2e


async def _pending_chain_run() -> UUID:
    spec = next(s for s in deployment_specs() if s["name"] == "birth-chain")
    deployment_id = await (await runner_deployment(spec)).aapply()
    async with get_client() as client:
        run = await client.create_flow_run_from_deployment(
            deployment_id, parameters={"reference": "HT-2026-000001"}
        )
        # What a runner does before it starts the run's process (and here never does).
        await client.set_flow_run_state(run.id, Pending(), force=True)
    return run.id


async def _state(run_id: UUID) -> tuple[StateType | None, str | None]:
    async with get_client() as client:
        state = (await client.read_flow_run(run_id)).state
    return (state.type, state.message) if state else (None, None)


async def test_a_run_left_pending_is_scheduled_again_once_it_is_old_enough() -> None:
    run_id = await _pending_chain_run()
    now = datetime.now(UTC)

    young = await reschedule_abandoned_runs(now + MIN_PENDING / 2, timedelta(0))
    assert run_id not in [r.id for r in young]
    assert (await _state(run_id))[0] == StateType.PENDING

    asked_for_later = await reschedule_abandoned_runs(now + MIN_PENDING, timedelta(minutes=15))
    assert run_id not in [r.id for r in asked_for_later]

    rescheduled = await reschedule_abandoned_runs(
        now + timedelta(minutes=16), timedelta(minutes=15)
    )
    assert run_id in [r.id for r in rescheduled]
    state_type, message = await _state(run_id)
    assert state_type == StateType.SCHEDULED
    assert message is not None
    assert "scheduled again" in message

    again = await reschedule_abandoned_runs(now + timedelta(minutes=16), timedelta(minutes=15))
    assert run_id not in [r.id for r in again], "a scheduled run is not touched"
