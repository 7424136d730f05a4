"""The real ``lienthong api`` under uvicorn on PostgreSQL: a client created with ``lienthong
clients create`` submits a dossier over HTTP, its chain runs (in the API process, against
the simulator and the test Prefect server), and the portal reads its masked status."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lienthong.settings import Settings
from tests.e2e.conftest import endpoint_env, load_example
from tests.e2e.processes import Processes, free_port, wait_for

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
START_TIMEOUT = 60.0
CHAIN_TIMEOUT = 120.0


def _env(settings: Settings, prefect_api_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LIENTHONG_"))}
    env.update(endpoint_env(settings))
    env.update(
        PREFECT_API_URL=prefect_api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        LIENTHONG_DATA_DIR=str(tmp_path / "data"),
        LIENTHONG_API__POLL_INTERVAL_SECONDS="0",
    )
    return env


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_dossier_submitted_over_http_runs_its_chain(
    chain_settings: Settings, prefect_api_url: str, tmp_path: Path
) -> None:
    env = _env(chain_settings, prefect_api_url, tmp_path)
    created = subprocess.run(
        [str(BIN / "lienthong"), "clients", "create", "--name", "Cổng DVC", "--role", "portal"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = re.search(r"credential \(shown once\): (\S+)", created.stdout)
    assert token is not None, created.stdout
    headers = {"Authorization": f"Bearer {token.group(1)}"}
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
