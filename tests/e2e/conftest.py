"""End-to-end fixtures: a real Prefect server, the agency simulator over HTTP, our database.

The Prefect test harness (a real Prefect API server on a temporary SQLite database) starts
once per test session: it takes about 15 s.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect import State
from prefect.settings import get_current_settings
from prefect.testing.utilities import prefect_test_harness

from lienthong.bootstrap import build_container, use_container
from lienthong.flows.runner import run_here, runnable
from lienthong.models.contract.http import CALLED_AGENCIES, agency_slug
from lienthong.models.status import Agency, StepKind
from lienthong.services.container import Container
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.views import StepView, load_view
from lienthong.settings import OutboxSettings, RetrySettings, Settings, TaskRetrySettings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import OutageWindow, SimulatorFaultSettings
from lienthong.simulator_config import client_settings, simulator_credentials
from tests.helpers import another_child

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AGENCY_SLUGS = tuple(map(agency_slug, CALLED_AGENCIES))


@pytest.fixture(scope="session", autouse=True)
def prefect_api_url() -> Iterator[str]:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_test_harness(server_startup_timeout=60):
        yield str(get_current_settings().api.url)


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorServer]:
    credentials = simulator_credentials(Settings())
    with SimulatorServer(credentials, tmp_path / "simulator", port=0) as server:
        yield server


def quick_retries(settings: Settings) -> Settings:
    """Retries short enough for tests, still exercising both layers (tenacity and Prefect)."""
    return settings.model_copy(
        update={
            "retry": RetrySettings(
                max_attempts=4,
                max_seconds=5,
                initial_backoff_seconds=0.05,
                max_backoff_seconds=0.5,
                request_timeout_seconds=2,
            ),
            "task_retry": TaskRetrySettings(
                retries=3, retry_delay_seconds=[0.2, 0.5, 1.0], timeout_seconds=60
            ),
            "outbox": OutboxSettings(initial_backoff_seconds=0.1, max_backoff_seconds=1.0),
            "lease_seconds": 2.0,
            "lease_wait_seconds": 20.0,
        }
    )


@pytest.fixture
def chain_settings(database_url: str, simulator: SimulatorServer, tmp_path: Path) -> Settings:
    settings = client_settings(Settings(), simulator).model_copy(
        update={"database_url": database_url, "data_dir": tmp_path / "data"}
    )
    return quick_retries(settings)


@pytest.fixture
def app(chain_settings: Settings) -> Iterator[Container]:
    """The container the chain tasks use, installed for this process."""
    container = build_container(chain_settings)
    with use_container(container):
        yield container
    container.close()


def set_faults(simulator: SimulatorServer, faults: SimulatorFaultSettings) -> None:
    simulator.faults.replace(faults)


def simulator_records(simulator: SimulatorServer) -> dict[str, list[dict[str, Any]]]:
    with httpx.Client(base_url=simulator.base_url, timeout=10) as client:
        return {slug: client.get(f"/admin/records/{slug}").json() for slug in AGENCY_SLUGS}


def webhooks_received(simulator: SimulatorServer, slug: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=simulator.base_url, timeout=10) as client:
        received: list[dict[str, Any]] = client.get(f"/webhooks/{slug}/received").json()
        return received


def load_example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return loaded


_serials = count(1)


def fresh_copy(example: dict[str, Any], prefix: str = "ET") -> dict[str, Any]:
    """The example as another citizen's dossier.

    The simulator refuses what real registries refuse: a birth certificate, a death notice
    or a deceased person registered twice; intake holds potential duplicates (the same
    mother, birthday and child's name, too). So each copy gets its own.
    """
    serial = next(_serials)
    dossier = copy.deepcopy(example)
    dossier["reference"] = f"{prefix}-2026-{serial:06d}"
    if dossier["chain"] == "birth":
        # Intake holds the same child twice (same mother, birthday and name): another name.
        dossier = another_child(dossier, dossier["reference"])
    else:
        dossier["death_notice"]["number"] = f"GBT-E2E-{serial:06d}"
        deceased = dossier["deceased"]
        deceased["personal_id"] = deceased["personal_id"][:6] + f"{serial:06d}"
    return dossier


def endpoint_env(settings: Settings) -> dict[str, str]:
    """LIENTHONG_* variables that point a subprocess at the same agencies and database."""
    env = {"LIENTHONG_DATABASE_URL": settings.resolved_database_url()}
    for agency in Agency:
        endpoint = settings.endpoint(agency)
        env[f"LIENTHONG_{agency.value.upper()}"] = json.dumps(
            {
                "base_url": endpoint.base_url,
                "api_key": endpoint.api_key.get_secret_value(),
                "webhook_url": endpoint.webhook_url,
                "webhook_secret": endpoint.webhook_secret.get_secret_value(),
            }
        )
    return env


def api_env(settings: Settings, prefect_api_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a `lienthong api` (or `lienthong clients`) subprocess on the same
    database, agencies and Prefect server, its poller off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LIENTHONG_"))}
    env.update(endpoint_env(settings))
    env.update(
        PREFECT_API_URL=prefect_api_url,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        LIENTHONG_DATA_DIR=str(tmp_path / "data"),
        LIENTHONG_API__POLL_INTERVAL_SECONDS="0",
    )
    return env


def create_client_credential(env: dict[str, str], name: str, role: str) -> str:
    """`lienthong clients create`, as an administrator runs it: the credential it shows once."""
    lienthong = str(Path(sys.executable).parent / "lienthong")
    created = subprocess.run(
        [lienthong, "clients", "create", "--name", name, "--role", role],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = re.search(r"credential \(shown once\): (\S+)", created.stdout)
    assert token is not None, created.stdout
    return token.group(1)


OPERATOR = Actor("e2e-operator")


def submit(app: Container, raw: dict[str, Any]) -> str:
    result = receive(app, raw, OPERATOR)
    assert result.accepted, result.problems
    return result.reference


async def run(app: Container, *references: str) -> dict[str, State[Any]]:
    """Run (or resume) the dossiers' chains in this process, like `lienthong run`."""
    return dict(await run_here(runnable(app, references)))


def steps_of(app: Container, reference: str) -> dict[StepKind, StepView]:
    return {s.kind: s for s in load_view(app, reference).steps}


def police_outage(simulator: SimulatorServer) -> None:
    """The police system answers 503 for the next hour."""
    now = datetime.now(UTC)
    window = OutageWindow(start=now, end=now + timedelta(hours=1), agencies=["police"])
    set_faults(simulator, SimulatorFaultSettings(outages=[window]))
