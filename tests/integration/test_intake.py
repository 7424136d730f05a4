"""Intake on the real databases: a race for one reference is a duplicate, and any other
integrity error is not. What intake keeps of a dossier is tested on the fake unit of work
(tests/unit/test_intake_service.py)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lienthong.adapters import tables
from lienthong.adapters.sql_unit_of_work import SqlDossierRepository
from lienthong.models.clock import ManualClock
from lienthong.models.lifecycle import Dossier
from lienthong.models.notices import Notice
from lienthong.models.status import Agency
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.intake import DuplicateReference, IntakeResult, receive
from lienthong.services.ledger import Actor
from lienthong.services.unit_of_work import UnitOfWork
from tests.helpers import example

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
OPERATOR = Actor("operator-3")
REFERENCE = "HT-2026-001002"


@pytest.fixture
def app(container: Container) -> Container:
    """The SQL container, at a fixed time after every example was received."""
    return dataclasses.replace(container, clock=ManualClock(datetime(2026, 11, 23, 9, tzinfo=HCM)))


def _counts(session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    """Dossiers, steps and audit events on record."""
    with session_factory() as session:
        dossiers, steps, events = (
            int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (tables.Dossier, tables.Step, tables.AuditEvent)
        )
    return dossiers, steps, events


def test_losing_a_race_for_the_same_reference_is_a_duplicate(
    app: Container, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = example(f"demo/{REFERENCE}")
    assert receive(app, raw, OPERATOR).accepted
    before = _counts(session_factory)
    # The second intake checks before the first has committed, so it sees nothing...
    real_find = SqlDossierRepository.find
    misses = [None]

    def find(self: SqlDossierRepository, reference: str) -> Dossier | None:
        return misses.pop() if misses else real_find(self, reference)

    monkeypatch.setattr(SqlDossierRepository, "find", find)

    # ... and its insert then collides with the committed row.
    with pytest.raises(DuplicateReference, match=REFERENCE):
        receive(app, raw, OPERATOR)
    assert misses == [], "the race was run"
    assert _counts(session_factory) == before == (1, 3, 1)


def test_two_intakes_of_one_reference_at_once_store_it_once(
    app: Container, session_factory: sessionmaker[Session]
) -> None:
    """Two threads, each on its own connection: one stores it, the other is told."""
    raw = example(f"demo/{REFERENCE}")
    start = threading.Barrier(2)
    outcomes: list[IntakeResult | BaseException] = []

    def intake() -> None:
        start.wait()
        try:
            outcomes.append(receive(app, raw, OPERATOR))
        except BaseException as exc:  # checked below
            outcomes.append(exc)

    threads = [threading.Thread(target=intake) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    accepted = [o for o in outcomes if isinstance(o, IntakeResult) and o.accepted]
    duplicates = [o for o in outcomes if isinstance(o, DuplicateReference)]
    assert (len(accepted), len(duplicates)) == (1, 1), outcomes
    assert _counts(session_factory) == (1, 3, 1)


def test_other_integrity_errors_are_not_reported_as_duplicates(
    app: Container, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    notice = Notice(Agency.COMMUNE, "test.notice", "already-queued", "HT-2026-000001", None, {})
    with app.unit_of_work() as uow:
        uow.outbox.add(notice, app.clock.now())
        uow.commit()
    real_record = ledger.record

    def record_and_break_another_constraint(uow: UnitOfWork, *args: Any) -> None:
        real_record(uow, *args)
        # Flushed at commit: violates the notifications' unique dedupe_key.
        uow.outbox.add(notice, app.clock.now())

    monkeypatch.setattr(ledger, "record", record_and_break_another_constraint)

    # Not DuplicateReference: the operator must not be told to resume a dossier never kept;
    # the fault is raised as it is, for someone to investigate.
    with pytest.raises(IntegrityError):
        receive(app, example(f"demo/{REFERENCE}"), OPERATOR)
    assert _counts(session_factory) == (0, 0, 0)
