"""Runs of the deployments wait suspended, holding no worker, and resume on the decision.

``lienthong serve`` (the Prefect runner) executes the chain deployments in a subprocess;
Police decides later (202, then a signed callback to our API, here in-thread, which
resumes the suspended run: a worker runs it again). The serving process is killed while
the dossiers wait and a new one started: nothing is lost and nothing is done twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import StateType

from lienthong.api.server import ApiServer
from lienthong.bootstrap import build_container, use_container
from lienthong.flows.continuation import dossier_runs
from lienthong.flows.runner import hand_to_deployment, runnable
from lienthong.models.status import DossierStatus, StepKind
from lienthong.services.container import Container
from lienthong.services.views import load_view
from lienthong.settings import ApiSettings, Settings
from lienthong.simulator.server import SimulatorServer
from tests.e2e.conftest import ROOT, endpoint_env, fresh_copy, load_example, simulator_records
from tests.e2e.conftest import submit as submit_dossier
from tests.e2e.processes import Processes
from tests.e2e.test_async_decisions import final_runs, police_async, until
from tests.e2e.test_late_decisions import decide_now

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

BIN = Path(sys.executable).parent
DOSSIERS = 3


@pytest.fixture
def deploy_app(chain_settings: Settings) -> Iterator[Container]:
    api = ApiSettings(callback_grace_seconds=0, poll_interval_seconds=0)
    container = build_container(chain_settings.model_copy(update={"api": api}))
    with use_container(container):
        yield container
    container.close()


async def _deployments_served() -> None:
    deadline = time.monotonic() + 60
    async with get_client() as client:
        while True:
            try:
                await client.read_deployment_by_name("birth-chain/birth-chain")
                return
            except Exception:
                assert time.monotonic() < deadline, "lienthong serve did not register"
                await asyncio.sleep(0.5)


async def _states(references: list[str]) -> list[tuple[StateType | None, str | None]]:
    found = []
    for reference in references:
        runs = await dossier_runs(reference)
        assert len(runs) == 1, f"{reference}: {len(runs)} runs"
        state = runs[0].state
        found.append((state.type if state else None, state.name if state else None))
    return found


async def _running(references: list[str]) -> int:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                tags=FlowRunFilterTags(all_=["chain:birth"]),
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
                ),
            )
        )
    return sum(1 for r in runs if any(f"dossier:{ref}" in r.tags for ref in references))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_waiting_runs_hold_no_worker_and_survive_a_killed_worker(
    deploy_app: Container,
    simulator: SimulatorServer,
    chain_settings: Settings,
    prefect_api_url: str,
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        **endpoint_env(chain_settings),
        "PREFECT_API_URL": prefect_api_url,
        "LIENTHONG_LEASE_SECONDS": str(chain_settings.lease_seconds),
        "LIENTHONG_TASK_RETRY": chain_settings.task_retry.model_dump_json(),
        # How soon the runner picks up new and resumed runs (default 10 s).
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
    }
    processes = Processes(tmp_path, ROOT)
    with ApiServer(deploy_app) as api:
        police_async(simulator, api)
        simulator._deferred.replace(  # type: ignore[union-attr]
            # The officer decides only when told (below): every run must be seen Suspended
            # first, however slowly a loaded machine starts them.
            simulator._deferred.settings.model_copy(update={"delay_seconds": 3600.0})  # type: ignore[union-attr]
        )
        try:
            serve = processes.start("serve", [str(BIN / "lienthong"), "serve"], env)
            await _deployments_served()
            references = [
                submit_dossier(deploy_app, fresh_copy(load_example("birth-valid.json"), "SU"))
                for _ in range(DOSSIERS)
            ]
            for entry in runnable(deploy_app, references):
                await hand_to_deployment(*entry)

            async def all_suspended() -> bool:
                return all(s == (StateType.PAUSED, "Suspended") for s in await _states(references))

            # The shared test server is SQLite: with the crash-detection automation that
            # `lienthong serve` installs, its writes queue behind a lock ("database is
            # locked") on a loaded machine, and a run's state change can wait a minute.
            deadline = time.monotonic() + 180
            while not await all_suspended():
                assert time.monotonic() < deadline, await _states(references)
                await asyncio.sleep(0.2)
            runs = await dossier_runs(references[0])
            message = runs[0].state.message if runs[0].state else None
            assert message is not None
            assert message.startswith("chờ quyết định của Công an")
            assert await _running(references) == 0, "no run holds a worker while it waits"

            os.killpg(serve.pid, signal.SIGKILL)  # the worker dies while the dossiers wait
            serve.wait(10)
            processes.start("serve-again", [str(BIN / "lienthong"), "serve"], env)
            for reference in references:
                with deploy_app.unit_of_work() as uow:
                    waiting = uow.dossiers.get(reference).step(StepKind.RESIDENCE_REGISTRATION)
                assert waiting.receipt_number is not None
                decide_now(simulator, waiting.receipt_number)

            for reference in references:
                await until(
                    lambda r=reference: load_view(deploy_app, r).status == DossierStatus.COMPLETED,
                    f"{reference} completed",
                )
            for reference in references:
                runs = await final_runs(reference)
                assert [(r.state.type, r.state.name) for r in runs if r.state] == [
                    (StateType.COMPLETED, "Completed")
                ], "one run per dossier: suspended, resumed, completed"
        finally:
            processes.stop_all()
    made = Counter(
        (slug, row["dossier_reference"])
        for slug, rows in simulator_records(simulator).items()
        for row in rows
        if row["dossier_reference"] in references
    )
    assert len(made) == 3 * DOSSIERS
    assert set(made.values()) == {1}, f"a step was registered twice: {made}"
