"""Our database for real: migrations, the append-only audit table, optimistic locking, CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import NullPool

from lienthong.adapters.sql_unit_of_work import SqlAuditLog
from lienthong.adapters.tables import Base, Dossier, Step
from lienthong.cli import main
from lienthong.migrations import alembic_config, current_revision, head_revision, upgrade_database
from lienthong.models.audit import GENESIS_HASH, AuditRecord, verify_chain
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.services.container import Container
from tests.helpers import bypass_audit_triggers

POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)


def _schema_differences(url: str) -> list[object]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))
    finally:
        engine.dispose()


def _audit_trigger_names(engine: Engine) -> set[str]:
    query = (
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        if engine.dialect.name == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    )
    with engine.connect() as connection:
        return set(connection.scalars(text(query)).all())


AUDIT_TRIGGERS = {
    "postgresql": {"audit_events_refuse_update_delete", "audit_events_refuse_truncate"},
    "sqlite": {"audit_events_refuse_update", "audit_events_refuse_delete"},
}


# Migrations


def test_the_migrated_schema_is_exactly_the_models(database_url: str) -> None:
    assert _schema_differences(database_url) == []
    assert current_revision(database_url) == head_revision()


def test_migrations_go_down_to_nothing_and_back_up(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None

    upgrade_database(empty_database_url)
    command.downgrade(alembic_config(empty_database_url), "base")
    engine = create_engine(empty_database_url, poolclass=NullPool)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        assert _audit_trigger_names(engine) == set()
        upgrade_database(empty_database_url)
        assert _audit_trigger_names(engine) == AUDIT_TRIGGERS[engine.dialect.name]
    finally:
        engine.dispose()

    assert _schema_differences(empty_database_url) == []


def test_the_container_fixture_works_on_the_test_database(
    container: Container, session_factory: sessionmaker[Session]
) -> None:
    step_id = _dossier_with_one_step(session_factory)
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get("HS-2024-00001")
        assert dossier.steps[0].id == step_id


# The append-only audit table (PostgreSQL)


def _one_event(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        event_id = SqlAuditLog(session).append(AuditRecord("operator", "dossier.received", NOW))
        session.commit()
    return event_id


@POSTGRESQL_ONLY
@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("UPDATE audit_events SET actor = 'intruder' WHERE id = :id", "UPDATE of audit event"),
        ("DELETE FROM audit_events WHERE id = :id", "DELETE of audit event"),
        ("TRUNCATE audit_events", "TRUNCATE refused"),
    ],
    ids=["update", "delete", "truncate"],
)
def test_the_database_refuses_to_change_audit_events(
    engine: Engine, session_factory: sessionmaker[Session], statement: str, refusal: str
) -> None:
    event_id = _one_event(session_factory)

    with engine.connect() as connection, pytest.raises(DBAPIError, match="append-only") as err:
        connection.execute(text(statement), {"id": event_id})
    assert refusal in str(err.value)

    with session_factory() as session:
        result = verify_chain(SqlAuditLog(session).entries())
    assert (result.checked, result.intact) == (1, True)


@POSTGRESQL_ONLY
def test_tampering_that_bypasses_the_triggers_is_still_detected(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """A superuser can silence triggers; the hash chain still names the altered event."""
    first = _one_event(session_factory)
    second = _one_event(session_factory)
    with engine.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(
            text("UPDATE audit_events SET actor = 'x' WHERE id = :id"), {"id": second}
        )

    with session_factory() as session:
        result = verify_chain(SqlAuditLog(session).entries())

    assert result.first_break is not None
    assert result.first_break.event_id == second != first
    assert result.checked == 1


# Optimistic locking: version_id_col on steps


def _dossier(reference: str = "HS-2024-00001") -> Dossier:
    """A birth dossier with its first step, pending."""
    dossier = Dossier(
        reference=reference,
        chain=Chain.BIRTH,
        status=DossierStatus.IN_PROGRESS,
        province_code="01",
        commune_code="00004",
        received_at=NOW,
        payload={},
        created_at=NOW,
        updated_at=NOW,
    )
    dossier.steps.append(
        Step(
            kind=StepKind.BIRTH_REGISTRATION,
            agency=Agency.JUSTICE,
            position=1,
            status=StepStatus.PENDING,
            idempotency_key=f"{reference}:birth_registration",
            updated_at=NOW,
        )
    )
    return dossier


def _dossier_with_one_step(session_factory: sessionmaker[Session]) -> int:
    dossier = _dossier()
    with session_factory() as session:
        session.add(dossier)
        session.commit()
        return dossier.steps[0].id


def test_the_second_of_two_writers_of_the_same_step_gets_stale_data(
    session_factory: sessionmaker[Session],
) -> None:
    """Both load version 1, both change it; only the first commit may win."""
    step_id = _dossier_with_one_step(session_factory)
    with session_factory() as first, session_factory() as second:
        # Each read transaction ends once loaded (the objects stay loaded): with SQLite's
        # BEGIN IMMEDIATE the second load would otherwise wait for the first to finish.
        step_first = first.get_one(Step, step_id)
        first.commit()
        step_second = second.get_one(Step, step_id)
        second.commit()

        step_first.status = StepStatus.IN_PROGRESS
        first.commit()
        step_second.status = StepStatus.SKIPPED
        with pytest.raises(StaleDataError):
            second.commit()

    with session_factory() as session:
        stored = session.get_one(Step, step_id)
        assert (stored.status, stored.version_id) == (StepStatus.IN_PROGRESS, 2)


@POSTGRESQL_ONLY
def test_two_concurrent_transactions_cannot_both_change_the_same_step(
    session_factory: sessionmaker[Session],
) -> None:
    """Two open transactions on two connections flush at once: the row lock makes one wait,
    and it then finds the version moved on."""
    step_id = _dossier_with_one_step(session_factory)
    both_loaded = threading.Barrier(2)
    outcomes: dict[StepStatus, BaseException | None] = {}

    def change_to(status: StepStatus) -> None:
        with session_factory() as session:
            step = session.get_one(Step, step_id)
            both_loaded.wait()
            step.status = status
            try:
                session.commit()
            except StaleDataError as exc:
                outcomes[status] = exc
            else:
                outcomes[status] = None

    threads = [
        threading.Thread(target=change_to, args=(status,))
        for status in (StepStatus.IN_PROGRESS, StepStatus.SKIPPED)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [status for status, error in outcomes.items() if error is None]
    losers = [error for error in outcomes.values() if error is not None]
    assert len(winners) == 1
    assert len(losers) == 1
    with session_factory() as session:
        stored = session.get_one(Step, step_id)
        assert (stored.status, stored.version_id) == (winners[0], 2)


# The command line, end to end


def _lienthong(*args: str, database: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, from a directory outside the repository."""
    script = Path(sys.executable).with_name("lienthong")
    env = {**os.environ, "LIENTHONG_DATABASE_URL": f"sqlite:///{database}"}
    return subprocess.run(
        [str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.e2e  # three real `lienthong` processes, each starting Python afresh
def test_cli_upgrades_verifies_and_names_a_tampered_event(tmp_path: Path) -> None:
    database = tmp_path / "cli" / "lienthong.db"

    upgraded = _lienthong("db", "upgrade", database=database, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded
    assert f"upgraded from an empty database to {head_revision()} (head)" in upgraded.stdout
    intact = _lienthong("audit", "verify", database=database, cwd=tmp_path)
    assert (intact.returncode, intact.stdout.strip()) == (
        0,
        f"audit chain intact: 0 events; head {GENESIS_HASH}",
    )

    engine = create_engine(f"sqlite:///{database}", poolclass=NullPool)
    with Session(engine) as session:
        ids = [
            SqlAuditLog(session).append(AuditRecord("operator", f"action-{n}", NOW))
            for n in range(3)
        ]
        session.commit()
    with engine.begin() as connection:
        bypass_audit_triggers(connection)
        connection.execute(
            text("UPDATE audit_events SET reason = 'edited' WHERE id = :id"), {"id": ids[1]}
        )
    engine.dispose()
    broken = _lienthong("audit", "verify", database=database, cwd=tmp_path)

    assert broken.returncode == 1, broken
    assert broken.stdout.strip() == (
        f"audit chain BROKEN at event {ids[1]}: its content does not match its hash "
        "(1 events before it verified)"
    )


@pytest.fixture
def configured_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point Settings at a SQLite file that does not exist yet, away from any .env file."""
    database = tmp_path / "configured.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", f"sqlite:///{database}")
    return database


def test_cli_refuses_a_missing_database_without_creating_it(
    configured_database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify"]) == 2
    assert main(["db", "current"]) == 2
    assert "run `lienthong db upgrade`" in capsys.readouterr().err
    assert not configured_database.exists()


def test_cli_refuses_an_unmigrated_database(
    configured_database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configured_database.touch()

    assert main(["audit", "verify"]) == 2
    assert "never migrated" in capsys.readouterr().err
    assert main(["db", "current"]) == 1
    assert f"never migrated; head is {head_revision()}" in capsys.readouterr().out


def test_cli_upgrade_twice_is_a_no_op(
    configured_database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()

    assert main(["db", "upgrade"]) == 0
    assert f"already at revision {head_revision()} (head), nothing to do" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"revision {head_revision()} (head)")


def test_migration_0006_writes_the_history_the_existing_rows_imply(
    empty_database_url: str,
) -> None:
    """A record from before the clocks' history: its starts and returns are backfilled."""
    upgrade_database(empty_database_url, "0005")
    engine = create_engine(empty_database_url, poolclass=NullPool)
    at = "2025-03-10 03:00:00+00:00"
    due = "2025-03-12 16:59:59+00:00"
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO dossiers (id, reference, chain, status, province_code, "
                    "commune_code, received_at, clock_started_at, due_at, late_filing, payload, "
                    "created_at, updated_at, version_id) VALUES (1, 'HT-2025-000001', 'birth', "
                    "'awaiting_supplement', '079', '26734', :at, :at, :due, FALSE, '{}', :at, "
                    ":at, 1)"
                ),
                {"at": at, "due": due},
            )
            for position, (kind, status, finished) in enumerate(
                [
                    ("birth_registration", "succeeded", at),
                    ("residence_registration", "awaiting_supplement", at),
                    ("child_health_card", "pending", None),
                ]
            ):
                connection.execute(
                    text(
                        "INSERT INTO steps (dossier_id, kind, agency, position, status, attempts, "
                        "idempotency_key, started_at, finished_at, due_at, updated_at, "
                        "version_id, verification) VALUES (1, :kind, 'justice', :position, "
                        ":status, 1, :key, :started, :finished, :due, :at, 1, FALSE)"
                    ),
                    {
                        "kind": kind,
                        "position": position,
                        "status": status,
                        "key": f"k-{kind}",
                        "started": at if finished else None,
                        "finished": finished,
                        "due": due,
                        "at": at,
                    },
                )
        upgrade_database(empty_database_url)
        with engine.connect() as connection:
            events = connection.execute(
                text(
                    "SELECT step_kind, event, first FROM clock_events "
                    "ORDER BY event, step_kind NULLS FIRST"
                    if engine.dialect.name == "postgresql"
                    else "SELECT step_kind, event, first FROM clock_events "
                    "ORDER BY event, step_kind IS NOT NULL, step_kind"
                )
            ).all()
            firsts = connection.execute(
                text("SELECT count(*) FROM steps WHERE first_started_at = started_at")
            ).scalar_one()
    finally:
        engine.dispose()
    assert [(k, e, bool(f)) for k, e, f in events] == [
        (None, "clock_started", False),
        ("birth_registration", "clock_started", True),
        ("residence_registration", "clock_started", True),
        (None, "returned", False),
        ("residence_registration", "returned", False),
    ]
    assert firsts == 2
