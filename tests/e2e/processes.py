"""Background processes for the end-to-end tests that run our commands as an operator would.

Each process gets its own session (process group), its output goes to a log file, and
``stop_all`` stops them in reverse order: SIGTERM to the group, SIGKILL after 15 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Processes:
    """Background processes, each in its own session, stopped in reverse order."""

    def __init__(self, logs: Path, cwd: Path) -> None:
        self.logs = logs
        self.cwd = cwd
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((name, process))
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        # The worker first: stopped after its server it hangs, retrying to deregister.
        for _, process in reversed(self.started):
            stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM to the process's group, SIGKILL if it is still there after ``timeout``."""
    if process.poll() is not None:
        return process.returncode
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


def wait_for(url: str, process: subprocess.Popen[bytes], what: str, timeout: float) -> None:
    """Until ``url`` answers 200; fails the test if ``process`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited with {process.returncode}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    pytest.fail(f"{what} not answering at {url} after {timeout:.0f} s")


FINAL_STATE_TYPES = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def wait_for_run(api_url: str, flow_run_id: str, timeout: float) -> dict[str, Any]:
    """The flow run, once it reached a final state (read from the Prefect API)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flow_run: dict[str, Any] = httpx.get(f"{api_url}/flow_runs/{flow_run_id}").json()
        if flow_run["state_type"] in FINAL_STATE_TYPES:
            return flow_run
        time.sleep(0.5)
    pytest.fail(f"flow run {flow_run_id} not finished after {timeout:.0f} s")
