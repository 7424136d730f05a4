"""Resuming, never redoing: after a killed process, and from the overdue sweep."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import select

from lienthong.adapters.tables import AuditEvent
from lienthong.flows.sweep import overdue_sweep
from lienthong.models.status import DossierStatus, StepKind, StepStatus
from lienthong.services.container import Container
from lienthong.services.views import load_view
from lienthong.settings import Settings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import FaultProfile, SimulatorFaultSettings
from tests.conftest import record_session
from tests.e2e.conftest import (
    ROOT,
    endpoint_env,
    fresh_copy,
    load_example,
    police_outage,
    run,
    set_faults,
    simulator_records,
    steps_of,
    submit,
)

pytestmark = pytest.mark.e2e


def _submit_birth(app: Container) -> str:
    return submit(app, fresh_copy(load_example("birth-valid.json"), "RS"))


def _step_status(app: Container, reference: str, kind: StepKind) -> StepStatus:
    return steps_of(app, reference)[kind].status


def _audit_actions(app: Container, reference: str) -> list[tuple[str, str | None, str | None]]:
    with record_session(app) as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.step_kind, AuditEvent.status_after)
            .where(AuditEvent.dossier_reference == reference)
            .order_by(AuditEvent.id)
        )
        return [(action, step, after) for action, step, after in rows]


def _one_registration_per_step(simulator: SimulatorServer, reference: str) -> None:
    made = Counter(
        (slug, row["kind"])
        for slug, rows in simulator_records(simulator).items()
        for row in rows
        if row["dossier_reference"] == reference
    )
    assert len(made) == 3, made
    assert set(made.values()) == {1}, f"a step was registered twice: {made}"


async def test_killed_mid_chain_then_run_finishes_without_redoing_a_step(
    app: Container,
    simulator: SimulatorServer,
    chain_settings: Settings,
    prefect_api_url: str,
) -> None:
    reference = _submit_birth(app)
    set_faults(simulator, SimulatorFaultSettings(agencies=FaultProfile(latency_ms=1500)))
    env = {
        **os.environ,
        **endpoint_env(chain_settings),
        "PREFECT_API_URL": prefect_api_url,
        "LIENTHONG_LEASE_SECONDS": str(chain_settings.lease_seconds),
        "LIENTHONG_TASK_RETRY": chain_settings.task_retry.model_dump_json(),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lienthong",
        "run",
        reference,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while _step_status(app, reference, StepKind.RESIDENCE_REGISTRATION) != (
            StepStatus.IN_PROGRESS
        ):
            assert process.returncode is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run never reached the second step"
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), timeout=10)
    finally:
        if process.returncode is None:
            process.kill()
    assert _step_status(app, reference, StepKind.BIRTH_REGISTRATION) == StepStatus.SUCCEEDED

    set_faults(simulator, SimulatorFaultSettings())
    await run(app, reference)

    assert load_view(app, reference).status == DossierStatus.COMPLETED
    _one_registration_per_step(simulator, reference)
    actions = _audit_actions(app, reference)
    started = Counter(
        step
        for action, step, after in actions
        if after == "in_progress" and action == "step_status_changed"
    )
    assert started == {
        "birth_registration": 1,
        "residence_registration": 1,
        "child_health_card": 1,
    }, "no step was started twice"
    assert ("step_resumed", "residence_registration", "in_progress") in actions


async def test_sweep_resumes_a_step_whose_retries_ran_out(
    app: Container, simulator: SimulatorServer
) -> None:
    police_outage(simulator)
    reference = _submit_birth(app)
    await run(app, reference)
    assert _step_status(app, reference, StepKind.RESIDENCE_REGISTRATION) == StepStatus.FAILED

    set_faults(simulator, SimulatorFaultSettings())
    report = await overdue_sweep(resume=True)

    assert load_view(app, reference).status == DossierStatus.COMPLETED
    _one_registration_per_step(simulator, reference)
    assert any(action == "stuck_step_resumed" for action, _, _ in _audit_actions(app, reference))
    assert reference in report.resumed
