"""What the benchmarks share: unique dossiers from the examples, throwaway PostgreSQL
databases, free ports and a real ``prefect server start`` subprocess on PostgreSQL.

Used by ``benchmarks.chains``, ``benchmarks.chaos`` and ``benchmarks.production``; not part
of the package.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg2
from psycopg2 import sql

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SERVER_START_TIMEOUT_SECONDS = 120.0
SERVER_STOP_TIMEOUT_SECONDS = 15.0
SERVICE_STOP_TIMEOUT_SECONDS = 20.0
CHAIN_DEPLOYMENTS = ("birth-chain", "death-chain")


# --------------------------------------------------------------------------- dossiers


def _usable(raw: dict[str, Any]) -> bool:
    """Examples that go through their chain without a refusal or a supplementation request."""
    if raw.get("chain") == "birth":
        residence = raw.get("residence") or {}
        certificate = (raw.get("medical_birth_certificate") or {}).get("number", "")
        return residence.get("household_head_consent") is not False and "DUPLICATE" not in str(
            certificate
        )
    if raw.get("chain") == "death":
        basis = raw.get("funeral_payer_basis")
        return not (basis in ("insured", "pensioner") and not raw.get("contribution_months"))
    return False


def load_templates() -> dict[str, list[dict[str, Any]]]:
    files = sorted(EXAMPLES.glob("*.json")) + sorted((EXAMPLES / "demo").glob("*.json"))
    templates: dict[str, list[dict[str, Any]]] = {"birth": [], "death": []}
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(raw, dict) and _usable(raw):
            templates[str(raw["chain"])].append(raw)
    if not templates["birth"] or not templates["death"]:
        raise SystemExit(f"no usable birth and death examples under {EXAMPLES}")
    return templates


def letters_of(n: int) -> str:
    """``n`` written in letters (a name's word: names hold no digits), e.g. 27 -> "Bb"."""
    letters = ""
    while True:
        n, digit = divmod(n, 26)
        letters += string.ascii_lowercase[digit]
        if n == 0:
            return letters.capitalize()


@dataclass
class DossierFactory:
    """Unique dossiers from the examples: references, certificates and IDs never repeat."""

    templates: dict[str, list[dict[str, Any]]]
    serial: int = 0

    def make(self, chain: str, prefix: str) -> dict[str, Any]:
        self.serial += 1
        n = self.serial
        choices = self.templates[chain]
        raw = copy.deepcopy(choices[n % len(choices)])
        raw["reference"] = f"{prefix}-2026-{n:06d}"
        if chain == "birth":
            raw["medical_birth_certificate"]["number"] = f"GCS-BENCH-{n:06d}"
            # Another child of the same mother and birthday needs another name, or intake
            # holds it as a potential duplicate (models/duplicates.py).
            raw["child"]["full_name"] = f"{raw['child']['full_name']} {letters_of(n)}"
        else:
            raw["death_notice"]["number"] = f"GBT-BENCH-{n:06d}"
            # PPP C YY + six serial digits: province, century/sex and birth year stay valid.
            personal_id = str(raw["deceased"]["personal_id"])
            raw["deceased"]["personal_id"] = personal_id[:6] + f"{n % 1_000_000:06d}"
        return raw

    def batch(self, count: int, prefix: str) -> list[dict[str, Any]]:
        """``count`` dossiers, birth and death alternating (half each)."""
        return [self.make("birth" if i % 2 == 0 else "death", prefix) for i in range(count)]


# --------------------------------------------------------------------------- infrastructure


def add_postgres_argument(parser: argparse.ArgumentParser) -> None:
    """``--postgres``: where the throwaway databases are created."""
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="an administrative connection to the PostgreSQL server (libpq URL)",
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(admin_dsn: str, driver: str, name: str) -> str:
    """SQLAlchemy URL of database ``name`` on the server of the libpq URL ``admin_dsn``."""
    base = httpx.URL(admin_dsn)
    user = f"{base.username}:{base.password}@" if base.password else f"{base.username}@"
    return f"postgresql+{driver}://{user}{base.host}:{base.port or 5432}/{name}"


def execute_admin(admin_dsn: str, statement: sql.Composable) -> None:
    """One statement outside a transaction (CREATE / DROP DATABASE)."""
    connection = psycopg2.connect(admin_dsn)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@contextlib.contextmanager
def throwaway_databases(admin_dsn: str, names: list[str], keep: bool) -> Iterator[None]:
    created: list[str] = []
    try:
        for name in names:
            execute_admin(admin_dsn, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            created.append(name)
        yield
    finally:
        for name in created:
            if keep:
                print(f"kept database {name}")
                continue
            execute_admin(
                admin_dsn,
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
            )


def clean_environment() -> dict[str, str]:
    """This process's environment without any PREFECT_* or LIENTHONG_* setting."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "LIENTHONG_"))
    }


class PrefectServer:
    """A real ``prefect server start`` on PostgreSQL, which can be stopped and started
    again on the same database and port (its log appends to ``home/server.log``)."""

    def __init__(self, database_url: str, home: Path, port: int) -> None:
        self.api_url = f"http://127.0.0.1:{port}/api"
        self.database = database_url.rsplit("/", 1)[-1]
        self._port = port
        self._home = home
        self._env = clean_environment()
        self._env.update(
            PREFECT_HOME=str(home),
            PREFECT_SERVER_DATABASE_CONNECTION_URL=database_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self._home / "server.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self._home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "prefect", "server", "start"),
                    *("--host", "127.0.0.1", "--port", str(self._port)),
                    *("--no-ui", "--analytics-off"),
                ],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_health(f"{self.api_url}/health", self._process, self.log_path)

    def stop(self) -> None:
        if self._process is not None:
            stop_process_group(self._process, SERVER_STOP_TIMEOUT_SECONDS)
            self._process = None


@contextlib.contextmanager
def prefect_server(database_url: str, home: Path, port: int) -> Iterator[str]:
    """A real ``prefect server start`` on PostgreSQL; yields its API URL."""
    server = PrefectServer(database_url, home, port)
    try:
        server.start()
        yield server.api_url
    finally:
        server.stop()


def wait_for_health(
    health_url: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout: float = SERVER_START_TIMEOUT_SECONDS,
) -> None:
    """Until ``health_url`` answers 200; fail with the log's tail if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(health_url, timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{health_url} not healthy after {timeout:.0f} s")


def wait_for_deployments(api_url: str, timeout: float = 180) -> None:
    """Until `lienthong serve` has registered both chain deployments with the server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.post(
                f"{api_url}/deployments/filter",
                json={"deployments": {"name": {"any_": list(CHAIN_DEPLOYMENTS)}}},
                timeout=10,
            )
            if answer.status_code == 200 and len(answer.json()) == len(CHAIN_DEPLOYMENTS):
                return
        time.sleep(1)
    raise RuntimeError(f"lienthong serve registered no chain deployment in {timeout:.0f} s")


def stop_process_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the process's group (started with ``start_new_session``), SIGKILL after
    ``timeout`` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --------------------------------------------------------------------------- our processes


class Service:
    """A long-running command in its own process group, its output appended to a log."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.process

    def kill9(self) -> None:
        """SIGKILL to the whole group: the process and every flow run it started."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process, SERVICE_STOP_TIMEOUT_SECONDS)
            self.process = None


def lienthong(*args: str) -> list[str]:
    return [sys.executable, "-m", "lienthong", *args]


Benchmark = Callable[[argparse.Namespace, str, Path], int]


def run_with_prefect_and_record(
    args: argparse.Namespace, name: str, benchmark: Benchmark, *, keep: bool = False
) -> int:
    """Two throwaway databases on ``args.postgres`` (a Prefect server's and our record), a
    ``prefect server start`` on the first, this process pointed at it; then
    ``benchmark(args, record_url, workdir)``. Everything is removed after, unless ``keep``."""
    suffix = uuid.uuid4().hex[:8]
    prefect_db, record_db = (
        f"lienthong_{name}_prefect_{suffix}",
        f"lienthong_{name}_record_{suffix}",
    )
    workdir = Path(tempfile.mkdtemp(prefix=f"lienthong-{name}-"))
    try:
        with (
            throwaway_databases(args.postgres, [prefect_db, record_db], keep),
            prefect_server(
                database_url(args.postgres, "asyncpg", prefect_db), workdir / "server", free_port()
            ) as api_url,
        ):
            print(f"prefect server at {api_url} on database {prefect_db}", flush=True)
            # Prefect reads its settings when first imported: set them before any import.
            os.environ.update(
                PREFECT_API_URL=api_url,
                PREFECT_HOME=str(workdir / "client"),
                PREFECT_SERVER_ANALYTICS_ENABLED="false",
                PREFECT_LOGGING_LEVEL="WARNING",
            )
            return benchmark(args, database_url(args.postgres, "psycopg2", record_db), workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
