"""The chain worker runs the chain deployments' runs inside its own process, on a real
Prefect server: a dossier submitted to a deployment completes in one run, and a run
cancelled from the UI (Cancelling) is cancelled in the worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import pytest
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelling

from lienthong.deployments.chain_worker import ChainWorker
from lienthong.deployments.serve import deployment_specs, is_chain, runner_deployment, spec_flow
from lienthong.flows.continuation import dossier_runs
from lienthong.flows.runner import hand_to_deployment, runnable
from lienthong.models.status import DossierStatus, StepKind, StepStatus
from lienthong.services.container import Container
from lienthong.services.views import load_view
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import FaultProfile, SimulatorFaultSettings
from tests.e2e.conftest import fresh_copy, load_example, set_faults, steps_of, submit
from tests.e2e.test_async_decisions import final_runs, until

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


@pytest.fixture
async def worker() -> AsyncIterator[ChainWorker]:
    flows: dict[UUID, Flow[..., object]] = {}
    for spec in filter(is_chain, deployment_specs()):
        flows[await (await runner_deployment(spec)).aapply()] = spec_flow(spec)
    chain_worker = ChainWorker(flows, limit=5, poll_seconds=0.2)
    stop = asyncio.Event()
    working = asyncio.create_task(chain_worker.run(stop))
    yield chain_worker
    stop.set()
    await working


async def _hand_over(app: Container, reference: str) -> None:
    for entry in runnable(app, [reference]):
        await hand_to_deployment(*entry)


async def test_a_deployment_s_run_completes_inside_the_worker(
    app: Container, worker: ChainWorker
) -> None:
    reference = submit(app, fresh_copy(load_example("birth-valid.json"), "CW"))
    await _hand_over(app, reference)

    await until(lambda: load_view(app, reference).status == DossierStatus.COMPLETED, "completed")
    runs = await final_runs(reference)
    assert [(r.state.type, r.deployment_id is not None) for r in runs if r.state] == [
        (StateType.COMPLETED, True)
    ]
    assert not worker.active


async def test_a_run_cancelled_in_the_ui_is_cancelled_in_the_worker(
    app: Container, simulator: SimulatorServer, worker: ChainWorker
) -> None:
    # Justice answers after 5 s: the run is caught mid-step.
    set_faults(simulator, SimulatorFaultSettings(agencies=FaultProfile(latency_ms=5000)))
    reference = submit(app, fresh_copy(load_example("birth-valid.json"), "CX"))
    await _hand_over(app, reference)

    async def running_run() -> UUID | None:
        runs = await dossier_runs(reference)
        if runs and runs[0].state is not None and runs[0].state.type == StateType.RUNNING:
            return runs[0].id
        return None

    for _ in range(300):
        run_id = await running_run()
        if run_id is not None and worker.active:
            break
        await asyncio.sleep(0.1)
    assert run_id is not None, "the run never ran"
    async with get_client() as client:
        await client.set_flow_run_state(run_id, Cancelling(), force=True)

    runs = await final_runs(reference)
    assert [r.state.type for r in runs if r.state] == [StateType.CANCELLED]
    for _ in range(100):  # the run's task ends just after its state is set
        if not worker.active:
            break
        await asyncio.sleep(0.1)
    assert not worker.active
    step = steps_of(app, reference)[StepKind.BIRTH_REGISTRATION]
    assert step.status == StepStatus.IN_PROGRESS, "interrupted: resumed by the next run"
