"""The real ``lienthong api`` under uvicorn on PostgreSQL: a client created with ``lienthong
clients create`` submits a dossier over HTTP, its chain runs (in the API process, against
the simulator and the test Prefect server), and the portal reads its masked status."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from standardwebhooks import Webhook

from lienthong.models.contract.signing import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from lienthong.settings import Settings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import DecisionForm, SimulatorDecisionSettings
from tests.e2e.conftest import api_env, create_client_credential, load_example, webhooks_received
from tests.e2e.processes import Processes, free_port, wait_for

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0
CHAIN_TIMEOUT = 120.0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_dossier_submitted_over_http_runs_its_chain(
    chain_settings: Settings, prefect_api_url: str, tmp_path: Path
) -> None:
    env = api_env(chain_settings, prefect_api_url, tmp_path)
    token = create_client_credential(env, "Cổng DVC", "portal")
    headers = {"Authorization": f"Bearer {token}"}
    port = free_port()
    processes = Processes(tmp_path, tmp_path)
    api = processes.start(
        "api", [str(BIN / "lienthong"), "api", "--here", "--port", str(port)], env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/health", api, "lienthong api", START_TIMEOUT)
        dossier = load_example("birth-valid.json")
        reference = dossier["reference"]

        answer = httpx.post(f"{url}/v1/dossiers", json=dossier, headers=headers, timeout=30)
        assert answer.status_code == 201, answer.text
        assert httpx.post(f"{url}/v1/dossiers", json=dossier, timeout=30).status_code == 401

        deadline = time.monotonic() + CHAIN_TIMEOUT
        while True:
            status = httpx.get(f"{url}/v1/dossiers/{reference}", headers=headers, timeout=30)
            assert status.status_code == 200, status.text
            if status.json()["status"] == "completed" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        body = status.json()
        assert body["status"] == "completed", (body, processes.log("api")[-3000:])
        assert body["masked"]
        assert dossier["mother"]["personal_id"] not in status.text
        assert {s["status"] for s in body["steps"]} == {"succeeded"}
        assert {t["agency"] for t in body["told"]} >= {s["agency"] for s in body["steps"]}
    finally:
        processes.stop_all()


def _when_completed(
    url: str, reference: str, headers: dict[str, str], processes: Processes
) -> httpx.Response:
    """The dossier's status once completed (fails with the API's log after the timeout)."""
    deadline = time.monotonic() + CHAIN_TIMEOUT
    while True:
        status = httpx.get(f"{url}/v1/dossiers/{reference}", headers=headers, timeout=30)
        assert status.status_code == 200, status.text
        if status.json()["status"] == "completed" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status.json()["status"] == "completed", (status.text, processes.log("api")[-3000:])
    return status


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_hospital_certificate_runs_its_chain_and_police_decides_by_standard_webhook(
    chain_settings: Settings, simulator: SimulatorServer, prefect_api_url: str, tmp_path: Path
) -> None:
    """A hospital's certificate with the family's consent starts the chain in the real API;
    the commune is told; Police decides later and its signed callback reaches the API over
    HTTP; the same webhook-id, signed by the reference package, is then refused."""
    env = api_env(chain_settings, prefect_api_url, tmp_path)
    hospital = {"Authorization": f"Bearer {create_client_credential(env, 'BV tỉnh', 'hospital')}"}
    portal = {"Authorization": f"Bearer {create_client_credential(env, 'Cổng DVC', 'portal')}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    simulator.set_decisions(
        SimulatorDecisionSettings(
            forms={"police": DecisionForm.ASYNC}, delay_seconds=2.0, callback_url=url
        )
    )
    processes = Processes(tmp_path, tmp_path)
    api = processes.start(
        "api", [str(BIN / "lienthong"), "api", "--here", "--port", str(port)], env
    )
    certificate = {
        k: v for k, v in load_example("birth-valid.json").items() if k not in ("reference",)
    }
    try:
        wait_for(f"{url}/health", api, "lienthong api", START_TIMEOUT)
        posted = httpx.post(
            f"{url}/v1/hospital-notifications", json=certificate, headers=hospital, timeout=30
        )
        assert posted.status_code == 201, posted.text
        assert posted.json()["status"] == "started"
        reference = posted.json()["reference"]
        again = httpx.post(
            f"{url}/v1/hospital-notifications", json=certificate, headers=hospital, timeout=30
        )
        assert (again.status_code, again.json()["reference"]) == (200, reference)

        body = _when_completed(url, reference, portal, processes).json()
        police = [e for e in body["timeline"] if e["actor"] == "agency:police:callback"]
        assert police, "the police's decision came by its signed callback"
        told = [r["payload"] for r in webhooks_received(simulator, "commune")]
        assert any(
            t.get("event") == "hospital.birth_certificate" and t["dossier_reference"] == reference
            for t in told
        ), "the commune was told of the certificate"

        receipt = _receipt(chain_settings, reference)
        notice = httpx.get(
            f"{simulator.base_url}/police/receipts/{receipt}",
            headers={"X-API-Key": chain_settings.police.api_key.get_secret_value()},
            timeout=10,
        ).content
        secret = chain_settings.police.webhook_secret.get_secret_value()
        replay = _signed_post(url, secret, f"{receipt}-granted", notice)
        fresh = _signed_post(url, secret, f"{receipt}-resent", notice)
        assert replay.status_code == 409, replay.text
        assert (fresh.status_code, fresh.json()["recorded"]) == (200, "ignored")
    finally:
        processes.stop_all()


def _receipt(settings: Settings, reference: str) -> str:
    engine = create_engine(settings.resolved_database_url())
    try:
        with engine.connect() as connection:
            receipt = connection.execute(
                text(
                    "SELECT s.receipt_number FROM steps s JOIN dossiers d ON d.id = s.dossier_id"
                    " WHERE d.reference = :r AND s.receipt_number IS NOT NULL"
                ),
                {"r": reference},
            ).scalar_one()
    finally:
        engine.dispose()
    return str(receipt)


def _signed_post(url: str, secret: str, msg_id: str, body: bytes) -> httpx.Response:
    """A callback as an agency using the reference package signs it."""
    now = datetime.now(UTC)
    headers = {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        SIGNATURE_HEADER: Webhook(secret).sign(msg_id, now, body.decode()),
        "Content-Type": "application/json",
    }
    return httpx.post(f"{url}/agency-decisions/police", content=body, headers=headers, timeout=30)
