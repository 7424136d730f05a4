"""A failing command is one clear line and a documented exit code (README, "Exit codes"):
the Prefect API unreachable, the database unreachable, the output closed early."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lienthong.cli import main
from lienthong.cli.failures import EXIT_BROKEN_PIPE, EXIT_DATABASE, EXIT_PREFECT
from lienthong.cli.identity import CREDENTIAL_ENV

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _lienthong(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lienthong", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def stored(database_url: str, tmp_path: Path) -> dict[str, str]:
    """A database holding the demo's dossiers (not run), and an unreachable Prefect."""
    env = {
        "LIENTHONG_DATABASE_URL": database_url,
        "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_API_URL": f"http://127.0.0.1:{_closed_port()}/api",
        "PREFECT_HOME": str(tmp_path / "prefect"),
    }
    demo = sorted(str(p) for p in (ROOT / "examples" / "demo").glob("*.json"))
    created = _lienthong("clients", "create", "--name", "operator", "--role", "admin", env=env)
    env[CREDENTIAL_ENV] = created.stdout.split("credential (shown once): ")[1].split()[0]
    submitted = _lienthong("submit", "--no-run", *demo, env=env)
    assert submitted.returncode == 0, submitted.stderr
    return env


def test_an_unreachable_prefect_api_is_one_line(stored: dict[str, str]) -> None:
    ran = _lienthong("run", "HT-2026-001001", env=stored)
    assert ran.returncode == EXIT_PREFECT
    (line,) = ran.stderr.strip().splitlines()
    assert line.startswith(f"error: the Prefect API {stored['PREFECT_API_URL']} cannot be reached")
    assert "prefect server start" in line
    traced = _lienthong("--debug", "run", "HT-2026-001001", env=stored)
    assert "Traceback" in traced.stderr


def test_an_action_outside_a_run_is_recorded_even_if_prefect_cannot_be_told(
    stored: dict[str, str],
) -> None:
    withdrawn = _lienthong("withdraw", "HT-2026-001003", "--reason", "test", env=stored)
    assert withdrawn.returncode == 0
    assert "HT-2026-001003" in withdrawn.stdout
    (warning,) = withdrawn.stderr.strip().splitlines()
    assert "Prefect" in warning


def test_an_output_closed_early_ends_quietly(stored: dict[str, str]) -> None:
    listing = subprocess.Popen(
        [sys.executable, "-m", "lienthong", "list", "--all"],
        cwd=ROOT,
        env={**os.environ, **stored},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert listing.stdout is not None
    assert listing.stderr is not None
    listing.stdout.close()  # as `| head -0` would
    assert listing.wait(timeout=120) == EXIT_BROKEN_PIPE
    assert listing.stderr.read() == b""


def test_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{_closed_port()}/none"
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", url)
    assert main(["list"]) == EXIT_DATABASE
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "cannot read" in line
    assert "LIENTHONG_DATABASE_URL" in line
