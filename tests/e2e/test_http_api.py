"""The real ``lienthong api`` under uvicorn on PostgreSQL: a client created with ``lienthong
clients create`` submits a dossier over HTTP, its chain runs (in the API process, against
the simulator and the test Prefect server), and the portal reads its masked status."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from lienthong.settings import Settings
from tests.e2e.conftest import api_env, create_client_credential, load_example
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
