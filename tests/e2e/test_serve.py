"""``lienthong serve`` against a real ``prefect server start`` (all its services running).

- Prefect's own scheduler creates the scheduled runs of prefect.yaml's ``overdue-sweep``
  and ``monthly-report`` deployments, and serve runs one (with SQLAlchemy 2.1 the
  scheduler failed every minute and no run was ever created).
- serve stops on SIGTERM and on SIGINT within a bound, with one line saying so, whether
  its Prefect server is up or gone.
- A serve process killed (SIGKILL, with its flow run's subprocess) mid-chain leaves a run
  Running; the crashed-run automation serve applied marks it Crashed once its heartbeats
  stop, and the overdue sweep completes the dossier without redoing a step.

The Prefect server of the first and last tests runs on a throwaway PostgreSQL database, as
in production; the signals test has its own on SQLite. Free ports, temporary PREFECT_HOMEs;
every process is stopped at the end, pass or fail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL, make_url

from lienthong.deployments.crash_detection import (
    AUTOMATION_NAME,
    CRASHED_MESSAGE,
    MISSED_HEARTBEATS,
)
from lienthong.deployments.serve import deployment_specs, is_chain
from lienthong.flows.sweep import overdue_sweep
from lienthong.models.status import DossierStatus, StepKind, StepStatus
from lienthong.services.container import Container
from lienthong.services.views import load_view
from lienthong.settings import Settings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import FaultProfile, SimulatorFaultSettings
from tests.conftest import _create_postgres_database
from tests.e2e.conftest import (
    ROOT,
    endpoint_env,
    fresh_copy,
    load_example,
    set_faults,
    simulator_records,
    steps_of,
    submit,
)
from tests.e2e.processes import Processes, free_port, stop, wait_for, wait_for_run

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
SERVER_START_TIMEOUT = 120.0
SERVE_START_TIMEOUT = 90.0
# serve waits at most 10 s for its server when stopping; the rest is Python's exit.
STOP_BOUND = 30.0
# The least Prefect allows (PREFECT_FLOWS_HEARTBEAT_FREQUENCY >= 30): the automation then
# waits 3 x 30 s.
HEARTBEAT_SECONDS = 30
# The chain deployments of the packaged prefect.yaml, run in the serving process.
SERVING = (
    f"lienthong serve: running the {sum(map(is_chain, deployment_specs()))} chain "
    "deployments in this process"
)


@dataclass
class PrefectServer:
    api_url: str
    process: subprocess.Popen[bytes]
    log: Path


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LIENTHONG_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_HOME=str(home),
    )
    return env


def _start_server(
    processes: Processes, home: Path, name: str = "server", database_url: str | None = None
) -> PrefectServer:
    """``prefect server start`` with its services (on SQLite in its home unless
    ``database_url``); the scheduler looks every 2 s."""
    port = free_port()
    env = _base_env(home / name)
    env["PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS"] = "2"
    if database_url is not None:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    process = processes.start(
        name,
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
    )
    api_url = f"http://127.0.0.1:{port}/api"
    wait_for(f"{api_url}/health", process, "prefect server", SERVER_START_TIMEOUT)
    return PrefectServer(api_url, process, processes.logs / f"{name}.log")


def _serve_env(server: PrefectServer, home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = _base_env(home / "client")
    env.update(
        PREFECT_API_URL=server.api_url,
        PREFECT_RUNNER_POLL_FREQUENCY="1",
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY=str(HEARTBEAT_SECONDS),
        LIENTHONG_DATA_DIR=str(home / "lienthong"),
    )
    env.update(extra)
    return env


def _start_serve(processes: Processes, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return processes.start(name, [str(BIN / "lienthong"), "serve"], env)


def _wait_serving(processes: Processes, name: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVE_START_TIMEOUT
    while SERVING not in processes.log(name):
        assert process.poll() is None, f"{name} exited:\n{processes.log(name)[-3000:]}"
        assert time.monotonic() < deadline, f"{name} not serving:\n{processes.log(name)[-3000:]}"
        time.sleep(0.3)


def _stops_on(
    processes: Processes, name: str, process: subprocess.Popen[bytes], signum: signal.Signals
) -> str:
    """Sends ``signum`` to serve alone; it must exit 0 within STOP_BOUND. Its last line of
    its own (after it, Prefect may still log about its connections at exit)."""
    sent = time.monotonic()
    os.kill(process.pid, signum)
    try:
        returncode = process.wait(STOP_BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name} still running {STOP_BOUND:.0f} s after {signum.name}")
    log = processes.log(name)
    assert returncode == 0, log[-3000:]
    assert "Runner.astop' was never awaited" not in log
    print(f"{name}: {signum.name} -> exit in {time.monotonic() - sent:.1f} s")
    ours = [line for line in log.splitlines() if line.startswith("lienthong serve: ")]
    return ours[-1]


def _post(api_url: str, path: str, body: dict[str, Any]) -> Any:
    answer = httpx.post(f"{api_url}{path}", json=body, timeout=10)
    answer.raise_for_status()
    return answer.json()


def _deployment(api_url: str, name: str) -> dict[str, Any]:
    deployment: dict[str, Any] = httpx.get(
        f"{api_url}/deployments/name/{name}/{name}", timeout=10
    ).json()
    return deployment


def _scheduled_runs(api_url: str, deployment: str) -> list[dict[str, Any]]:
    """The deployment's runs that Prefect's scheduler created, earliest first."""
    deployment_id = _deployment(api_url, deployment)["id"]
    runs: list[dict[str, Any]] = _post(
        api_url,
        "/flow_runs/filter",
        {"deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC"},
    )
    return [r for r in runs if r["auto_scheduled"]]


@pytest.fixture(scope="module")
def prefect_server(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server_url: URL,
    _throwaway_postgres_databases: list[str],
) -> Iterator[PrefectServer]:
    """On PostgreSQL, as in production (the scheduler's failure was seen there)."""
    home = tmp_path_factory.mktemp("prefect-server")
    database = _create_postgres_database(postgres_server_url, _throwaway_postgres_databases)
    asyncpg = make_url(database).set(drivername="postgresql+asyncpg")
    processes = Processes(home, cwd=ROOT)
    try:
        yield _start_server(
            processes, home, database_url=asyncpg.render_as_string(hide_password=False)
        )
    finally:
        processes.stop_all()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path, cwd=ROOT)
    yield started
    started.stop_all()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_prefects_scheduler_creates_the_scheduled_runs_and_serve_runs_one(
    prefect_server: PrefectServer, processes: Processes, database_url: str, tmp_path: Path
) -> None:
    api_url = prefect_server.api_url
    serve = _start_serve(
        processes,
        "serve",
        _serve_env(prefect_server, tmp_path, {"LIENTHONG_DATABASE_URL": database_url}),
    )
    _wait_serving(processes, "serve", serve)

    deadline = time.monotonic() + 60
    sweeps: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    while not (sweeps and reports):
        assert time.monotonic() < deadline, (
            "Prefect's scheduler created no run of overdue-sweep or monthly-report:\n"
            + prefect_server.log.read_text(errors="replace")[-3000:]
        )
        time.sleep(1)
        sweeps = _scheduled_runs(api_url, "overdue-sweep")
        reports = _scheduled_runs(api_url, "monthly-report")

    # The scheduler's first sweep run may be hours away: bring it forward to now, as an
    # operator would from the UI. It is still the run the scheduler made.
    first = next(r for r in sweeps if r["state_type"] == "SCHEDULED")
    _post(
        api_url,
        f"/flow_runs/{first['id']}/set_state",
        {
            "state": {
                "type": "SCHEDULED",
                "name": "Scheduled",
                "state_details": {"scheduled_time": datetime.now(UTC).isoformat()},
            },
            "force": True,
        },
    )
    flow_run = wait_for_run(api_url, first["id"], 120)
    assert flow_run["state_type"] == "COMPLETED", (
        f"{flow_run['state']}\n--- serve ---\n{processes.log('serve')[-4000:]}"
    )


def test_serve_stops_on_sigterm_and_sigint_with_its_server_up_and_gone(
    processes: Processes, tmp_path: Path
) -> None:
    server = _start_server(processes, tmp_path, "own-server")
    env = _serve_env(server, tmp_path, {"LIENTHONG_DATABASE_URL": f"sqlite:///{tmp_path}/r.db"})

    up = {name: _start_serve(processes, name, env) for name in ("up-term", "up-int")}
    for name, process in up.items():
        _wait_serving(processes, name, process)
    assert _stops_on(processes, "up-term", up["up-term"], signal.SIGTERM) == (
        "lienthong serve: SIGTERM: stopped; deployments paused"
    )
    assert _stops_on(processes, "up-int", up["up-int"], signal.SIGINT) == (
        "lienthong serve: SIGINT: stopped; deployments paused"
    )
    assert _deployment(server.api_url, "overdue-sweep")["paused"] is True

    gone = {name: _start_serve(processes, name, env) for name in ("gone-term", "gone-int")}
    for name, process in gone.items():
        _wait_serving(processes, name, process)
    # Registering the deployments again resumed the schedules that stopping paused.
    assert _deployment(server.api_url, "overdue-sweep")["paused"] is False
    assert stop(server.process) is not None
    for (name, process), signum in zip(gone.items(), (signal.SIGTERM, signal.SIGINT), strict=True):
        last = _stops_on(processes, name, process, signum)
        assert last.startswith(f"lienthong serve: {signum.name}: stopped"), last


def _queue_then_kill_serve_mid_chain(
    processes: Processes,
    serve: subprocess.Popen[bytes],
    env: dict[str, str],
    app: Container,
    reference: str,
) -> str:
    """``lienthong run --deploy``, then SIGKILL to serve's process group (serve and the flow
    run's subprocess) once the second step is in progress; the flow run's id."""
    queued = subprocess.run(
        [str(BIN / "lienthong"), "run", "--deploy", reference],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert queued.returncode == 0, queued.stdout + queued.stderr
    flow_run_id = queued.stdout.split("flow run")[-1].split()[-1].strip("()")
    deadline = time.monotonic() + 120
    while steps_of(app, reference)[StepKind.RESIDENCE_REGISTRATION].status != (
        StepStatus.IN_PROGRESS
    ):
        assert serve.poll() is None, processes.log("serve")[-3000:]
        assert time.monotonic() < deadline, "the chain never reached its second step"
        time.sleep(0.2)
    os.killpg(serve.pid, signal.SIGKILL)
    serve.wait(10)
    api_url = env["PREFECT_API_URL"]
    run_now = httpx.get(f"{api_url}/flow_runs/{flow_run_id}", timeout=10).json()
    assert run_now["state_type"] == "RUNNING", "nothing but the automation may end it"
    return flow_run_id


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_killed_serve_leaves_a_run_prefect_marks_crashed_and_the_sweep_completes(
    prefect_server: PrefectServer,
    processes: Processes,
    app: Container,
    simulator: SimulatorServer,
    chain_settings: Settings,
    tmp_path: Path,
) -> None:
    api_url = prefect_server.api_url
    reference = submit(app, fresh_copy(load_example("birth-valid.json"), "ZB"))
    set_faults(simulator, SimulatorFaultSettings(agencies=FaultProfile(latency_ms=1500)))
    env = _serve_env(prefect_server, tmp_path, endpoint_env(chain_settings))
    env["LIENTHONG_TASK_RETRY"] = chain_settings.task_retry.model_dump_json()
    serve = _start_serve(processes, "serve", env)
    _wait_serving(processes, "serve", serve)
    # The production guide's command after serve's own start: still one automation.
    applied = await asyncio.to_thread(
        subprocess.run,
        [str(BIN / "lienthong"), "automations"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "flow runs without a heartbeat for 90 s are marked Crashed" in applied.stdout
    (automation,) = _post(api_url, "/automations/filter", {})
    assert automation["name"] == AUTOMATION_NAME
    assert automation["trigger"]["within"] == MISSED_HEARTBEATS * HEARTBEAT_SECONDS

    flow_run_id = await asyncio.to_thread(
        _queue_then_kill_serve_mid_chain, processes, serve, env, app, reference
    )
    killed_at = time.monotonic()
    flow_run = await asyncio.to_thread(
        wait_for_run, api_url, flow_run_id, MISSED_HEARTBEATS * HEARTBEAT_SECONDS + 90
    )
    assert flow_run["state_type"] == "CRASHED", flow_run["state"]
    assert flow_run["state"]["message"] == CRASHED_MESSAGE
    print(f"marked Crashed {time.monotonic() - killed_at:.0f} s after the kill")

    set_faults(simulator, SimulatorFaultSettings())
    report = await overdue_sweep(stuck_after_minutes=0.0)

    assert reference in report.resumed
    assert load_view(app, reference).status == DossierStatus.COMPLETED
    made = [
        (slug, row["kind"])
        for slug, rows in simulator_records(simulator).items()
        for row in rows
        if row["dossier_reference"] == reference
    ]
    assert len(made) == len(set(made)) == 3, f"a step was registered twice: {made}"
