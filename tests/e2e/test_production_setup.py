"""The production setup of docs/production.md, for real, with the documented commands.

A Prefect server (``prefect server start``) on a throwaway PostgreSQL database, our record on
another, the agency simulator as its own process, the ``lienthong`` process work pool, the
per-agency global concurrency limits, ``prefect deploy --all`` from the repository root,
``lienthong automations`` (the crashed-run detection), one
``prefect worker start --pool lienthong`` process, then ``lienthong submit --deploy``: the
birth chain must complete through the worker, holding the agency limits.

About a minute. Every process and both databases are removed at the end, pass or fail.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from lienthong.cli.identity import CREDENTIAL_ENV
from lienthong.models.contract.http import (
    development_api_key,
    development_webhook_secret,
    simulator_urls,
)
from lienthong.models.status import Agency
from tests.e2e.processes import Processes, free_port, wait_for, wait_for_run

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LIMITED_AGENCIES = ("justice", "police", "social_insurance", "social_affairs")
BIRTH_LIMITS = {"agency-justice", "agency-police", "agency-social_insurance"}
COMMAND_TIMEOUT = 60.0
RUN_TIMEOUT = 60.0
REFERENCE = "HT-2026-000123"  # examples/birth-valid.json
UUID = r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"


@contextlib.contextmanager
def _databases(server: URL, names: Sequence[str]) -> Iterator[None]:
    engine = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    created: list[str] = []
    try:
        with engine.connect() as connection:
            for name in names:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
                created.append(name)
        yield
    finally:
        with engine.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )


def _ok(argv: list[str], env: dict[str, str]) -> str:
    done = _run(argv, env)
    assert done.returncode == 0, (
        f"{' '.join(argv)} -> {done.returncode}\n{done.stdout}{done.stderr}"
    )
    return done.stdout


def _environment(home: Path, api_url: str, record_url: str, simulator: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LIENTHONG_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(home / "client"),
        PREFECT_WORKER_QUERY_SECONDS="1",
        LIENTHONG_DATA_DIR=str(home / "lienthong"),
        LIENTHONG_DATABASE_URL=record_url,
        LIENTHONG_AGENCY_CONCURRENCY_LIMITS="true",
    )
    for agency in Agency:
        urls, prefix = simulator_urls(simulator, agency), f"LIENTHONG_{agency.value.upper()}__"
        env[prefix + "BASE_URL"] = urls.base_url
        env[prefix + "API_KEY"] = development_api_key(agency)
        env[prefix + "WEBHOOK_URL"] = urls.webhook_url
        env[prefix + "WEBHOOK_SECRET"] = development_webhook_secret(agency)
    return env


def _limits_acquired(api_url: str) -> set[str]:
    """Names of the global concurrency limits a slot was taken from (events, a moment late)."""
    names: set[str] = set()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not names >= BIRTH_LIMITS:
        answer = httpx.post(
            f"{api_url}/events/filter",
            json={"filter": {"event": {"name": ["prefect.concurrency-limit.acquired"]}}},
        ).json()
        names = {e["resource"].get("prefect.resource.name") for e in answer["events"]}
        time.sleep(0.5)
    return names


def test_birth_dossier_through_a_worker(postgres_server_url: URL, tmp_path: Path) -> None:
    suffix = secrets.token_hex(4)
    prefect_db, record_db = f"lienthong_e2e_prefect_{suffix}", f"lienthong_e2e_record_{suffix}"
    server = postgres_server_url
    prefect_db_url = server.set(drivername="postgresql+asyncpg", database=prefect_db)
    record_url = server.set(drivername="postgresql+psycopg2", database=record_db)
    api_url = f"http://127.0.0.1:{free_port()}/api"
    simulator_port = free_port()
    simulator = f"http://127.0.0.1:{simulator_port}"
    env = _environment(
        tmp_path, api_url, record_url.render_as_string(hide_password=False), simulator
    )
    processes = Processes(tmp_path, cwd=REPO)

    with _databases(server, [prefect_db, record_db]):
        try:
            server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
            server_env.update(
                PREFECT_HOME=str(tmp_path / "server"),
                PREFECT_SERVER_DATABASE_CONNECTION_URL=prefect_db_url.render_as_string(
                    hide_password=False
                ),
            )
            port = api_url.rsplit(":", 1)[1].split("/")[0]
            prefect_server = processes.start(
                "server",
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", port],
                server_env,
            )
            simulator_process = processes.start(
                "simulator",
                [
                    *(str(BIN / "lienthong"), "simulator", "--port", str(simulator_port)),
                    *("--data-dir", str(tmp_path / "simulator"), "--log-level", "warning"),
                ],
                env,
            )
            wait_for(f"{api_url}/health", prefect_server, "prefect server", 60)
            wait_for(f"{simulator}/openapi.json", simulator_process, "simulator", 30)

            _ok([str(BIN / "lienthong"), "db", "upgrade"], env)
            # Operators act under a client identity (lienthong/cli/identity.py).
            created = _ok(
                [str(BIN / "lienthong"), "clients", "create", "--name", "e2e", "--role", "admin"],
                env,
            )
            env[CREDENTIAL_ENV] = created.split("credential (shown once): ")[1].split()[0]
            _ok(
                [str(BIN / "prefect"), "work-pool", "create", "lienthong", "--type", "process"], env
            )
            for agency in LIMITED_AGENCIES:
                _ok(
                    [str(BIN / "prefect"), "gcl", "create", f"agency-{agency}", "--limit", "5"], env
                )
            deployed = _run([str(BIN / "prefect"), "deploy", "--all", "--no-prompt"], env)
            assert deployed.returncode == 0, deployed.stdout + deployed.stderr
            # Module-path entrypoints, nothing to pull: flow runs import the installed package.
            stored = httpx.get(f"{api_url}/deployments/name/birth-chain/birth-chain").json()
            assert stored["entrypoint"] == "lienthong.flows.birth_chain.birth_chain", stored
            assert not stored["pull_steps"], stored["pull_steps"]

            applied = _ok([str(BIN / "lienthong"), "automations"], env)
            assert "are marked Crashed" in applied, applied

            processes.start(
                "worker", [str(BIN / "prefect"), "worker", "start", "--pool", "lienthong"], env
            )
            submitted = _ok(
                [str(BIN / "lienthong"), "submit", "--deploy", "examples/birth-valid.json"], env
            )
            match = re.search(rf"{REFERENCE}: lượt chạy .*?({UUID})", submitted)
            assert match, submitted

            flow_run = wait_for_run(api_url, match.group(1), RUN_TIMEOUT)
            assert flow_run["state_type"] == "COMPLETED", (
                f"{flow_run['state']}\n--- worker log ---\n{processes.log('worker')[-4000:]}"
            )
            assert flow_run["name"] == f"birth-{REFERENCE}"
            assert {"chain:birth", "commune:22738", "province:056"} <= set(flow_run["tags"])

            status = _ok([str(BIN / "lienthong"), "status", REFERENCE], env)
            assert status.splitlines()[0].startswith(f"Hồ sơ {REFERENCE} — Khai sinh"), status
            assert "Trạng thái: Đã giải quyết xong" in status.splitlines()[1], status

            artifact = httpx.get(f"{api_url}/artifacts/dossier-ht-2026-000123/latest").json()
            assert artifact["type"] == "markdown"
            assert _limits_acquired(api_url) >= BIRTH_LIMITS
        finally:
            processes.stop_all()
