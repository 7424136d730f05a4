"""Agencies that decide later: receipts, callbacks to our API, polling, verification.

A real Prefect server, the simulator with Police in the async form (202 and a receipt,
the decision after a short delay, posted signed to our API), our API served by uvicorn
in this process, and our database. Runs here are in-process (no deployment): a waiting
run ends Paused under the name of what it waits for, and the API runs it again when the
decision is recorded (flows/continuation.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prefect.client.schemas.objects import FlowRun, StateType
from sqlalchemy import func, select

from lienthong.adapters.tables import AuditEvent
from lienthong.api.decisions import poll_once
from lienthong.api.server import ApiServer
from lienthong.bootstrap import build_container, use_container
from lienthong.cli import main
from lienthong.flows.continuation import dossier_runs
from lienthong.models.contract.decisions import CALLBACK_PATH
from lienthong.models.contract.signing import signed_headers, webhook_secret
from lienthong.models.status import DossierStatus, StepKind, StepStatus
from lienthong.services.container import Container
from lienthong.services.decisions import Recorded
from lienthong.services.poll_decisions import poll_overdue_decisions
from lienthong.services.views import load_view
from lienthong.settings import ApiSettings, Settings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import DecisionForm, SimulatorDecisionSettings
from tests.conftest import record_session
from tests.e2e.conftest import fresh_copy, load_example, run, simulator_records, submit

pytestmark = pytest.mark.e2e

RESIDENCE = StepKind.RESIDENCE_REGISTRATION
WAIT_SECONDS = 60.0


@pytest.fixture
def api_settings(chain_settings: Settings) -> Settings:
    # Callbacks overdue at once (the test decides when to poll); no background poller.
    api = ApiSettings(
        callback_grace_seconds=0, poll_interval_seconds=0, run_chains_with_deployments=False
    )
    return chain_settings.model_copy(update={"api": api})


@pytest.fixture
def api_app(api_settings: Settings) -> Iterator[Container]:
    container = build_container(api_settings)
    with use_container(container):
        yield container
    container.close()


@pytest.fixture
def api(api_app: Container) -> Iterator[ApiServer]:
    with ApiServer(api_app) as server:
        yield server


def police_async(
    simulator: SimulatorServer, api: ApiServer, *, loss: float = 0.0, verify: float = 0.0
) -> None:
    simulator._deferred.replace(  # type: ignore[union-attr]
        SimulatorDecisionSettings(
            forms={"police": DecisionForm.ASYNC},
            # Long enough for the run to suspend first on two loaded cores (0.5 s was not:
            # a decision before the suspension lets the run go on, by design).
            delay_seconds=2.0,
            verification_rate=verify,
            callback_loss_rate=loss,
            callback_url=api.url,
            seed=9,
        )
    )


async def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def final_runs(reference: str) -> list[FlowRun]:
    """The dossier's runs once none is going any more (the record is written first)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        runs = await dossier_runs(reference)
        if all(r.state is None or r.state.is_final() for r in runs):
            return runs
        assert time.monotonic() < deadline, "a run did not finish"
        await asyncio.sleep(0.1)


def dossier_status(app: Container, reference: str) -> DossierStatus:
    return load_view(app, reference).status


def police_notice(simulator: SimulatorServer, receipt: str) -> dict[str, Any]:
    with httpx.Client(base_url=simulator.base_url, timeout=10) as client:
        answer = client.get(f"/police/receipts/{receipt}", headers={"X-API-Key": "dev-key-police"})
        answer.raise_for_status()
        notice: dict[str, Any] = answer.json()
        return notice


def receipt_of(app: Container, reference: str) -> str:
    with app.unit_of_work() as uow:
        receipt = uow.dossiers.get(reference).step(RESIDENCE).receipt_number
    assert receipt is not None
    return receipt


def audit_count(app: Container) -> int:
    with record_session(app) as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def post_callback(api: ApiServer, body: bytes, secret: str, event_id: str) -> httpx.Response:
    headers = signed_headers([secret], event_id, int(time.time()), body)
    return httpx.post(
        f"{api.url}{CALLBACK_PATH}/police",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )


async def test_a_callback_resumes_the_waiting_run_which_completes_once(
    api_app: Container, simulator: SimulatorServer, api: ApiServer
) -> None:
    police_async(simulator, api)
    reference = submit(api_app, fresh_copy(load_example("birth-valid.json"), prefix="AC"))

    states = await run(api_app, reference)

    state = states[reference]
    assert state.type == StateType.PAUSED
    assert state.name == "AwaitingDecision"
    assert state.message is not None
    assert state.message.startswith("chờ quyết định của Công an về Đăng ký thường trú từ")
    assert ", hạn " in state.message
    residence = load_view(api_app, reference).step(RESIDENCE)
    assert residence.status == StepStatus.AWAITING_DECISION
    assert load_view(api_app, reference).status == DossierStatus.IN_PROGRESS

    await until(lambda: dossier_status(api_app, reference) == DossierStatus.COMPLETED, "callback")

    runs = await final_runs(reference)
    assert [r.state.type for r in runs if r.state] == [StateType.COMPLETED], (
        "one run per dossier: paused, then run again to completion"
    )
    police = [
        r for r in simulator_records(simulator)["police"] if r["dossier_reference"] == reference
    ]
    assert len(police) == 1
    with api_app.unit_of_work() as uow:
        step = uow.dossiers.get(reference).step(RESIDENCE)
    assert step.agency_reference == police[0]["reference"]
    assert step.on_time is True


async def test_a_lost_callback_is_found_by_polling(
    api_app: Container, simulator: SimulatorServer, api: ApiServer
) -> None:
    police_async(simulator, api, loss=1.0)
    reference = submit(api_app, fresh_copy(load_example("birth-valid.json"), prefix="AP"))
    await run(api_app, reference)
    receipt = receipt_of(api_app, reference)
    await until(lambda: police_notice(simulator, receipt)["outcome"] == "granted", "decision")

    assert dossier_status(api_app, reference) == DossierStatus.IN_PROGRESS, "callback was lost"
    receipts = await poll_once(api_app)

    assert [r.reference for r in receipts] == [reference]
    assert dossier_status(api_app, reference) == DossierStatus.COMPLETED
    assert await poll_once(api_app) == [], "nothing waits any more"


async def test_duplicate_forged_and_unknown_callbacks_change_nothing(
    api_app: Container, simulator: SimulatorServer, api: ApiServer
) -> None:
    police_async(simulator, api)
    reference = submit(api_app, fresh_copy(load_example("birth-valid.json"), prefix="AD"))
    await run(api_app, reference)
    receipt = receipt_of(api_app, reference)
    await until(lambda: dossier_status(api_app, reference) == DossierStatus.COMPLETED, "callback")
    notice = police_notice(simulator, receipt)
    body = json.dumps(notice).encode()
    secret = api_app.settings.police.webhook_secret.get_secret_value()
    before = audit_count(api_app)

    duplicate = post_callback(api, body, secret, f"{receipt}-granted-again")
    forged = post_callback(api, body, webhook_secret(b"not-the-police-secret"), f"{receipt}-f")
    # The simulator's own callback, replayed: its webhook-id was accepted already.
    replayed = post_callback(api, body, secret, f"{receipt}-granted")
    refused_late = json.dumps({**notice, "outcome": "refused", "result": None}).encode()
    late = post_callback(api, refused_late, secret, f"{receipt}-late")
    unknown = json.dumps({**notice, "receipt_number": "BN-POLICE-99999999"}).encode()
    stranger = post_callback(api, unknown, secret, "unknown-receipt")

    assert (duplicate.status_code, duplicate.json()["recorded"]) == (200, "ignored")
    assert forged.status_code == 401
    assert replayed.status_code == 409
    assert (late.status_code, late.json()["recorded"]) == (200, "ignored")
    assert stranger.status_code == 404
    assert audit_count(api_app) == before, "nothing was recorded"
    assert dossier_status(api_app, reference) == DossierStatus.COMPLETED


async def test_verification_moves_the_step_to_its_longer_limit(
    api_app: Container, simulator: SimulatorServer, api: ApiServer
) -> None:
    police_async(simulator, api, verify=1.0)
    reference = submit(api_app, fresh_copy(load_example("birth-valid.json"), prefix="AV"))
    await run(api_app, reference)
    with api_app.unit_of_work() as uow:
        first = uow.dossiers.get(reference)
        # The police's clock runs from when the residence step became available to it.
        started = first.available_at(first.step(RESIDENCE))
        due_before = first.step(RESIDENCE).due_at
    assert started is not None

    def verified() -> bool:
        with api_app.unit_of_work() as uow:
            return uow.dossiers.get(reference).step(RESIDENCE).verification

    await until(verified, "the interim verification notice")
    with api_app.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        step = dossier.step(RESIDENCE)
    deadlines = api_app.deadlines
    assert step.due_at == deadlines.step_due_at(RESIDENCE, started, verification=True)
    assert due_before == deadlines.step_due_at(RESIDENCE, started)
    assert step.due_at is not None
    assert due_before is not None
    assert step.due_at > due_before
    assert dossier.due_at == deadlines.chain_due_at(
        dossier.chain or pytest.fail("no chain"),
        dossier.clock_started_at or started,
        verification=True,
        steps=[s.kind for s in dossier.steps if s.status != StepStatus.SKIPPED],
    )

    await until(lambda: dossier_status(api_app, reference) == DossierStatus.COMPLETED, "decision")


async def test_lienthong_run_resumes_the_paused_run_and_never_starts_a_second(
    api_app: Container,
    simulator: SimulatorServer,
    api: ApiServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    police_async(simulator, api, loss=1.0)
    reference = submit(api_app, fresh_copy(load_example("birth-valid.json"), prefix="AR"))
    await run(api_app, reference)
    receipt = receipt_of(api_app, reference)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", api_app.settings.resolved_database_url())

    still_waiting = await asyncio.to_thread(main, ["run", reference])

    assert still_waiting == 1
    refusal = capsys.readouterr().err.strip().splitlines()
    assert len(refusal) == 1
    assert refusal[0].startswith(f"error: {reference} đang chờ: chờ quyết định của Công an")
    assert refusal[0].endswith("không chạy thêm")
    assert len(await dossier_runs(reference)) == 1

    # The decision is recorded (by a poll), but nothing continued the run.
    await until(lambda: police_notice(simulator, receipt)["outcome"] == "granted", "decision")
    polled = await poll_overdue_decisions(api_app)
    assert [r.recorded for r in polled] == [Recorded.DECIDED]

    assert await asyncio.to_thread(main, ["run", reference]) == 0

    assert capsys.readouterr().out.startswith("ran_here")
    assert dossier_status(api_app, reference) == DossierStatus.COMPLETED
    runs = await final_runs(reference)
    assert [r.state.type for r in runs if r.state] == [StateType.COMPLETED]
