"""The wheel alone runs Liên thông: built, installed in a fresh virtualenv far from the
repository, then ``lienthong demo`` and ``lienthong serve`` run there.

1. ``python -m build --wheel`` on a copy of the repository's files (tracked and untracked,
   not ignored): a stale ``build/`` directory cannot leak old modules into the wheel. The
   build backend's versions come from constraints.txt (``PIP_CONSTRAINT``).
2. A fresh virtualenv in a temporary directory, ``pip install -c constraints.txt`` the
   wheel: site-packages must hold ``lienthong`` and nothing else of ours (no top-level
   ``models``, ``flows``... that a packaging mistake would install).
3. ``prefect server start`` from that virtualenv (SQLite, PREFECT_HOME in the temporary
   directory), and every command run with the temporary directory as working directory,
   the repository neither on ``sys.path`` nor on ``PATH``.
4. ``lienthong demo``, with the sample dossiers shipped in the package: exit 0, intact audit.
5. ``lienthong serve``: the four deployments of the packaged prefect.yaml registered with
   module-path entrypoints, an ``overdue-sweep`` run served to completion (its subprocess
   imports the installed package; our record migrated by ``lienthong db upgrade``), then
   SIGTERM.

About two minutes on two cores: the build, the virtualenv, ``pip install`` (from pip's
cache) and the server's start 65 s, the demo 30 s, ``lienthong serve`` and its run 17 s.

    .venv/bin/pytest tests/e2e/test_wheel.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.processes import Processes, free_port, stop, wait_for, wait_for_run

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CONSTRAINTS = REPO / "constraints.txt"
# The owner's top-level folders: installed only as lienthong.<folder>, never on their own.
OUR_FOLDERS = (
    "models",
    "adapters",
    "services",
    "tasks",
    "flows",
    "deployments",
    "simulator",
    "migrations",
    "examples",
)
BUILD_TIMEOUT = 180.0
INSTALL_TIMEOUT = 400.0
COMMAND_TIMEOUT = 60.0
DEMO_TIMEOUT = 240.0
SERVE_TIMEOUT = 60.0
RUN_TIMEOUT = 60.0


def _run(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(argv)} -> {done.returncode}\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
    )
    return done


def _source_copy(destination: Path) -> Path:
    """The files git would commit (tracked, or untracked and not ignored), links kept."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    for name in sorted({n for n in listed.decode().split("\0") if n}):
        source, target = REPO / name, destination / name
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the work tree, still in the index
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            target.write_bytes(source.read_bytes())
    return destination


def _clean_environment(home: Path, venv: Path) -> dict[str, str]:
    """Our environment without Prefect's, ours, or anything pointing at the repository."""
    repo_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != repo_bin]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "LIENTHONG_"))
        and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env.update(
        PATH=os.pathsep.join([str(venv / "bin"), *path]),
        VIRTUAL_ENV=str(venv),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_HOME=str(home / "prefect-client"),
        LIENTHONG_DATA_DIR=str(home / "data"),
    )
    return env


@dataclass(frozen=True)
class Installed:
    home: Path  # the temporary directory: working directory of every command
    venv: Path
    env: dict[str, str]  # with PREFECT_API_URL of the server started from the virtualenv
    processes: Processes

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    home = tmp_path_factory.mktemp("wheel")
    assert not home.resolve().is_relative_to(REPO.resolve()), home
    dist = home / "dist"
    build_env = {**os.environ, "PIP_CONSTRAINT": str(CONSTRAINTS)}
    _run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--outdir",
            str(dist),
            str(_source_copy(home / "src")),
        ],
        build_env,
        home,
        BUILD_TIMEOUT,
    )
    (wheel,) = dist.glob("lienthong-*.whl")

    venv = home / "venv"
    env = _clean_environment(home, venv)
    _run([sys.executable, "-m", "venv", str(venv)], env, home, COMMAND_TIMEOUT)
    _run(
        [
            *(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile"),
            *("-c", str(CONSTRAINTS), str(wheel)),
        ],
        env,
        home,
        INSTALL_TIMEOUT,
    )

    processes = Processes(home, cwd=home)
    api_url = f"http://127.0.0.1:{free_port()}/api"
    port = api_url.rsplit(":", 1)[1].split("/")[0]
    server = processes.start(
        "server",
        [str(venv / "bin" / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", port],
        {**env, "PREFECT_HOME": str(home / "prefect-server")},
    )
    try:
        # Our record for the served runs, migrated while the server starts.
        _run([str(venv / "bin" / "lienthong"), "db", "upgrade"], env, home, COMMAND_TIMEOUT)
        wait_for(f"{api_url}/health", server, "prefect server", 90)
        yield Installed(home, venv, {**env, "PREFECT_API_URL": api_url}, processes)
    finally:
        processes.stop_all()


def _site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python*/site-packages")
    return site


def test_the_wheel_installs_lienthong_only(installed: Installed) -> None:
    site = _site_packages(installed.venv)
    assert (site / "lienthong" / "flows" / "birth_chain.py").is_file()
    stray = [name for name in OUR_FOLDERS if (site / name).exists()]
    assert not stray, f"top-level packages of ours outside lienthong/: {stray}"

    (record,) = site.glob("lienthong-*.dist-info/RECORD")
    files = [line.split(",", 1)[0] for line in record.read_text().splitlines() if line]
    outside = [
        f for f in files if not f.startswith(("lienthong/", "lienthong-")) and "/bin/" not in f
    ]
    assert not outside, f"the wheel installs files outside lienthong/: {outside}"
    for data in (
        "lienthong/deployments/prefect.yaml",
        "lienthong/migrations/script.py.mako",
        "lienthong/models/data/legal_tables.toml",
        "lienthong/examples/demo/supplements/HT-2026-001002.json",
        "lienthong/examples/invalid/id-unknown-province.json",
        "lienthong/examples/hospital/birth-certificate.json",
        "lienthong/examples/hospital/family-completion.json",
    ):
        assert data in files, f"{data} missing from the wheel"

    where = _run(
        [installed.bin("python"), "-c", "import lienthong.flows; print(lienthong.flows.__file__)"],
        installed.env,
        installed.home,
        COMMAND_TIMEOUT,
    ).stdout.strip()
    assert Path(where).is_relative_to(site), where


def test_wheel_matches_the_repository_prefect_yaml(installed: Installed) -> None:
    packaged = _site_packages(installed.venv) / "lienthong" / "deployments" / "prefect.yaml"
    assert packaged.read_text(encoding="utf-8") == (REPO / "prefect.yaml").read_text(
        encoding="utf-8"
    )


def test_demo_runs_from_the_wheel(installed: Installed) -> None:
    done = _run([installed.bin("lienthong"), "demo"], installed.env, installed.home, DEMO_TIMEOUT)
    assert "audit chain: intact" in done.stdout, done.stdout[-3000:]
    assert "(duplicates: 0)" in done.stdout


def _deployments(api_url: str) -> dict[str, dict[str, Any]]:
    answer: list[dict[str, Any]] = httpx.post(f"{api_url}/deployments/filter", json={}).json()
    return {d["name"]: d for d in answer}


def test_serve_runs_the_packaged_deployments(installed: Installed) -> None:
    env = {**installed.env, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    api_url = env["PREFECT_API_URL"]
    specs = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    expected = {spec["name"]: spec["entrypoint"] for spec in specs}
    assert len(expected) == 5, expected

    serve = installed.processes.start("serve", [installed.bin("lienthong"), "serve"], env)
    deadline = time.monotonic() + SERVE_TIMEOUT
    deployments = _deployments(api_url)
    while set(deployments) < set(expected) and time.monotonic() < deadline:
        assert serve.poll() is None, installed.processes.log("serve")[-4000:]
        time.sleep(0.5)
        deployments = _deployments(api_url)
    assert set(deployments) >= set(expected), installed.processes.log("serve")[-4000:]
    for name, entrypoint in expected.items():
        assert deployments[name]["entrypoint"] == entrypoint
        assert not deployments[name]["pull_steps"]

    sweep = deployments["overdue-sweep"]["id"]
    flow_run = httpx.post(f"{api_url}/deployments/{sweep}/create_flow_run", json={}).json()
    serve_log = installed.processes.log("serve")[-4000:]
    assert "id" in flow_run, f"{flow_run}\n--- serve log ---\n{serve_log}"
    finished = wait_for_run(api_url, flow_run["id"], RUN_TIMEOUT)
    assert finished["state_type"] == "COMPLETED", (
        f"{finished['state']}\n--- serve log ---\n{installed.processes.log('serve')[-4000:]}"
    )

    stop(serve)
    assert serve.returncode is not None
