"""The ledger's state machine on the SQL unit of work: what is persisted matches the rules.

tests/unit/test_ledger_properties.py drives the pure lifecycle rules over the fake unit of
work. Here the very same machine runs over :class:`SqlUnitOfWork`, on both backends of the
``database_url`` fixture (SQLite and PostgreSQL), with fewer examples. After every
committed operation a fresh unit of work reads the record back, and:

- the dossier and its steps are exactly the objects the rules produced, field by field;
- the audit events are one per change the rules reported, the chain verifies, only grows
  and replays to the record;
- the notification rows are exactly the notices the notified changes call for;

and a refused operation leaves every row of every table as it was (supplements included:
the machine adds one before the rules refuse the supplement). That it also leaves the
dossier object it was tried on as it was is a property of the rules alone, left to the
unit test.

Each hypothesis example needs an empty database. On SQLite it runs on its own copy of the
empty migrated file the fixture made; on PostgreSQL the fixture's database is truncated
again before each example. Both backends run the machine (no reduced PostgreSQL variant).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from lienthong.adapters.database import make_engine, make_session_factory
from lienthong.adapters.sql_unit_of_work import SqlUnitOfWork
from lienthong.adapters.tables import Notification
from lienthong.models.notices import Notice
from tests.conftest import _empty_postgres_tables
from tests.unit.test_ledger_properties import (
    SCENARIOS,
    Record,
    Scenario,
    Storage,
    machine_for,
)

# Every table an operation on one dossier may write: a refused one must leave them all.
RECORD_TABLES = (
    "dossiers",
    "steps",
    "supplements",
    "audit_events",
    "notifications",
    "notification_attempts",
)
# Fewer examples than the unit test, which explores the rules: here each operation is a few
# real transactions, and what is checked is that storage keeps what the rules decided.
PERSISTENCE_SETTINGS = settings(max_examples=3, stateful_step_count=30, deadline=None)


def sql_storage(session_factory: sessionmaker[Session], close: Callable[[], None]) -> Storage:
    """The SQL unit of work on an empty database, read back in fresh sessions."""

    def read(reference: str) -> Record:
        with SqlUnitOfWork(session_factory) as uow:
            dossier = uow.dossiers.get(reference)
            events = list(uow.audit.entries())
            rows = uow.session.scalars(select(Notification).order_by(Notification.id))
            notices = [
                Notice(
                    row.agency,
                    row.event_type,
                    row.dedupe_key,
                    row.dossier_reference,
                    row.step_kind,
                    row.payload,
                )
                for row in rows
            ]
        return Record(dossier, events, notices)

    def every_row() -> dict[str, list[tuple[object, ...]]]:
        with session_factory() as session:
            return {
                table: [
                    tuple(row)
                    for row in session.execute(text(f"SELECT * FROM {table} ORDER BY id"))
                ]
                for table in RECORD_TABLES
            }

    return Storage(
        unit_of_work=lambda: SqlUnitOfWork(session_factory),
        read=read,
        fingerprint=every_row,
        close=close,
    )


def _nothing() -> None:
    return None


@pytest.fixture
def empty_databases(database_url: str, tmp_path: Path) -> Iterator[Callable[[], Storage]]:
    """A fresh, empty database for each example, on the backend of ``database_url``."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine = make_engine(database_url)
        session_factory = make_session_factory(engine)

        def truncated() -> Storage:
            _empty_postgres_tables(database_url)
            return sql_storage(session_factory, _nothing)

        yield truncated
        engine.dispose()
        return

    # The fixture's file is migrated, empty and never opened: each example gets a copy.
    template = Path(str(url.database))

    def copied() -> Storage:
        directory = Path(tempfile.mkdtemp(prefix="ledger-", dir=tmp_path))
        shutil.copyfile(template, directory / "lienthong.db")
        engine = make_engine(f"sqlite:///{directory / 'lienthong.db'}")

        def close() -> None:
            engine.dispose()
            shutil.rmtree(directory, ignore_errors=True)

        return sql_storage(make_session_factory(engine), close)

    yield copied


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_the_sql_unit_of_work_keeps_what_the_rules_decide(
    scenario: Scenario, empty_databases: Callable[[], Storage]
) -> None:
    machine = machine_for(scenario, empty_databases, check_refused_objects=False)
    run_state_machine_as_test(machine, settings=PERSISTENCE_SETTINGS)
