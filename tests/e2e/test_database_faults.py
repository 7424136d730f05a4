"""Our database drops the connection mid-step (a backend terminated by an administrator, a
failover): the step is retried, or resumed by the sweep, and ends succeeded; and nothing of
the error's text, which quotes the statement's personal data, reaches Prefect."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import pytest
from prefect.logging.handlers import APILogHandler
from prefect.settings import get_current_settings
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from lienthong.adapters.tables import AuditEvent, Dossier, Step
from lienthong.bootstrap import build_container, use_container
from lienthong.flows.sweep import overdue_sweep
from lienthong.models.chains import CHAIN_STEPS
from lienthong.models.status import Chain, DossierStatus, StepKind, StepStatus
from lienthong.services.container import Container
from lienthong.services.views import load_view
from lienthong.settings import Settings, TaskRetrySettings
from lienthong.simulator.server import SimulatorServer
from tests.conftest import record_session
from tests.e2e.conftest import (
    fresh_copy,
    load_example,
    run,
    simulator_records,
    steps_of,
    submit,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

WAIT_SECONDS = 30.0


def _lock_waiter(monitor: Connection, own_pid: int) -> int | None:
    """The backend of our database waiting for a row lock, if any."""
    pid: int | None = monitor.scalar(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> :own ORDER BY pid LIMIT 1"
        ),
        {"own": own_pid},
    )
    return pid


class StepWriterKiller(threading.Thread):
    """Holds the lock on one step's row, lets the first ``let_through`` writers of the row
    pass, and terminates the backend of the next one (``pg_terminate_backend``) while its
    statement (with its parameters) is running."""

    def __init__(self, url: str, step_id: int, let_through: int) -> None:
        super().__init__(daemon=True)
        self._url, self._step_id, self._let_through = url, step_id, let_through
        self.locked = threading.Event()
        self.terminated: list[int] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.error = exc
            self.locked.set()

    def _lock(self, holder: Connection) -> None:
        holder.execute(
            text("SELECT id FROM steps WHERE id = :id FOR UPDATE"), {"id": self._step_id}
        )

    def _next_waiter(self, monitor: Connection, own_pid: int) -> int:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            pid = _lock_waiter(monitor, own_pid)
            if pid is not None:
                return pid
            time.sleep(0.02)  # polling for a condition, not an assertion
        raise TimeoutError("no writer came to the step's row")

    def _run(self) -> None:
        engine = create_engine(self._url, poolclass=NullPool)
        monitor_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        with engine.connect() as holder, monitor_engine.connect() as monitor:
            own_pid = holder.scalar(text("SELECT pg_backend_pid()"))
            assert own_pid is not None
            self._lock(holder)
            self.locked.set()
            for _ in range(self._let_through):
                self._next_waiter(monitor, own_pid)
                holder.commit()
                self._lock(holder)  # waits until that writer has committed
            pid = self._next_waiter(monitor, own_pid)
            monitor.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            self.terminated.append(pid)
            holder.commit()
        engine.dispose()


@contextmanager
def killing_a_step_writer(app: Container, reference: str, kind: StepKind) -> Iterator[Any]:
    """Terminate the connection of the transaction that records ``kind``'s outcome (the
    second write of its row, after the one that starts it), then let everything through."""
    with record_session(app) as session:
        step_id = session.scalar(
            select(Step.id)
            .join(Dossier, Dossier.id == Step.dossier_id)
            .where(Dossier.reference == reference, Step.kind == kind)
        )
        url = session.get_bind().engine.url.render_as_string(hide_password=False)
    assert step_id is not None
    killer = StepWriterKiller(url, step_id, let_through=1)
    killer.start()
    assert killer.locked.wait(WAIT_SECONDS)
    try:
        yield killer
    finally:
        killer.join(WAIT_SECONDS)
    if killer.error is not None:
        raise killer.error
    assert len(killer.terminated) == 1, "the step's writer was not terminated"


def _personal_ids(simulator: SimulatorServer, reference: str, dossier: dict[str, Any]) -> set[str]:
    """Every personal ID of the dossier: its people's and those the agencies registered
    (read from the agencies: what our database holds may be what failed to be written)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if "personal_id" in key and isinstance(item, str):
                    found.add(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(dossier)
    for records in simulator_records(simulator).values():
        walk([r for r in records if r.get("dossier_reference") == reference])
    return found


def _prefect_database_text() -> str:
    """Every row of every table of the Prefect server's database (the test harness's
    SQLite file: states and their messages, logs, events, artifacts), as one text."""
    with closing(_prefect_database()) as prefect_db:
        tables = [
            name
            for (name,) in prefect_db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        assert {"task_run_state", "flow_run_state", "log", "events"} <= set(tables)
        return "\n".join(
            repr(row) for table in tables for row in prefect_db.execute(f'SELECT * FROM "{table}"')
        )


def _prefect_database() -> sqlite3.Connection:
    configured = get_current_settings().server.database.connection_url
    assert configured is not None
    url = make_url(configured.get_secret_value())
    assert url.get_backend_name() == "sqlite"
    assert url.database
    return sqlite3.connect(url.database)


async def _wait_until_prefect_stored(reference: str) -> None:
    """Until the run's logs are sent and its step events are stored (events are written
    in batches): what is scanned is then complete."""
    await APILogHandler.aflush()
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with closing(_prefect_database()) as prefect_db:
            stored = prefect_db.execute(
                "SELECT count(*) FROM events WHERE event = 'lienthong.step.succeeded'"
                " AND resource_id = ?",
                (f"lienthong.dossier.{reference}",),
            ).fetchone()[0]
        if stored == len(CHAIN_STEPS[Chain.BIRTH]):
            return
        await asyncio.sleep(0.2)  # polling for a condition, not an assertion
    raise TimeoutError("Prefect did not store the run's events")


async def _assert_nothing_personal_in_prefect(reference: str, ids: set[str]) -> None:
    assert ids, "the dossier has personal IDs to look for"
    await _wait_until_prefect_stored(reference)
    prefect_text = _prefect_database_text()
    leaked = sorted(i for i in ids if i in prefect_text)
    assert not leaked, f"personal IDs stored in Prefect's database: {leaked}"


def _audit_actions(app: Container, reference: str) -> list[tuple[str, str | None]]:
    with record_session(app) as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.step_kind)
            .where(AuditEvent.dossier_reference == reference)
            .order_by(AuditEvent.id)
        )
        return [(action, kind) for action, kind in rows]


async def test_a_connection_lost_mid_step_is_retried_and_nothing_personal_reaches_prefect(
    app: Container, simulator: SimulatorServer
) -> None:
    dossier = fresh_copy(load_example("birth-valid.json"), "DB")
    reference = submit(app, dossier)

    with killing_a_step_writer(app, reference, StepKind.BIRTH_REGISTRATION):
        states = await run(app, reference)

    assert states[reference].is_completed(), states[reference].message
    view = load_view(app, reference)
    assert view.status == DossierStatus.COMPLETED
    assert {s.status for s in view.steps} == {StepStatus.SUCCEEDED}
    # Prefect's retry resumed the step (the agency replayed its answer under the same key).
    assert ("step_resumed", StepKind.BIRTH_REGISTRATION.value) in _audit_actions(app, reference)
    registrations = [
        slug
        for slug, rows in simulator_records(simulator).items()
        for row in rows
        if row["dossier_reference"] == reference
    ]
    assert sorted(registrations) == sorted(set(registrations)), "registered twice"
    assert len(registrations) == len(CHAIN_STEPS[Chain.BIRTH])
    await _assert_nothing_personal_in_prefect(
        reference, _personal_ids(simulator, reference, dossier)
    )


async def test_when_retries_run_out_the_sweep_resumes_the_step(
    app: Container, simulator: SimulatorServer, chain_settings: Settings
) -> None:
    dossier = fresh_copy(load_example("birth-valid.json"), "DB")
    reference = submit(app, dossier)
    no_retries = build_container(
        chain_settings.model_copy(update={"task_retry": TaskRetrySettings(retries=0)})
    )
    try:
        with (
            use_container(no_retries),
            killing_a_step_writer(app, reference, StepKind.BIRTH_REGISTRATION),
        ):
            states = await run(no_retries, reference)
    finally:
        no_retries.close()

    assert states[reference].is_failed()
    step = steps_of(app, reference)[StepKind.BIRTH_REGISTRATION]
    assert step.status == StepStatus.FAILED
    assert step.reason == "database unavailable (OperationalError), retries exhausted"

    report = await overdue_sweep(resume=True)

    assert reference in report.resumed
    assert load_view(app, reference).status == DossierStatus.COMPLETED
    await _assert_nothing_personal_in_prefect(
        reference, _personal_ids(simulator, reference, dossier)
    )
