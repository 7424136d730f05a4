"""Intake: a dossier received "in the future" is rejected, and integrity errors are told apart."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lienthong import ledger
from lienthong.bootstrap import Container
from lienthong.clock import ManualClock
from lienthong.intake import DuplicateReference, receive
from lienthong.ledger import Actor
from lienthong.unit_of_work import DossierRepository
from models.status import Agency, DossierStatus
from models.tables import Dossier

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPERATOR = Actor("operator-3")


def _raw(name: str = "HT-2026-001002") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (EXAMPLES / "demo" / f"{name}.json").read_text(encoding="utf-8")
    )
    return data


def _dossier_count(container: Container) -> int:
    with container.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Dossier)) or 0)


def test_a_dossier_received_after_now_is_rejected_on_received_at(container: Container) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=HCM))
    app = dataclasses.replace(container, clock=clock)
    raw = _raw()
    raw["received_at"] = "2027-12-01T09:00:00+07:00"

    result = receive(app, raw, OPERATOR)

    assert not result.accepted
    assert [p.path for p in result.problems] == ["received_at"]
    assert "is in the future" in result.problems[0].message
    with app.unit_of_work() as uow:
        stored = uow.dossiers.get(result.reference)
        assert stored.status == DossierStatus.REJECTED
        # The record's time is when it really arrived, not the impossible date.
        assert stored.received_at == clock.now()


def test_a_received_at_within_the_clock_skew_is_accepted(container: Container) -> None:
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=HCM))
    raw = _raw()
    raw["received_at"] = "2026-11-23T09:04:00+07:00"
    assert receive(dataclasses.replace(container, clock=clock), raw, OPERATOR).accepted


def test_losing_a_race_for_the_same_reference_is_a_duplicate(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _raw()
    assert receive(container, raw, OPERATOR).accepted
    # The second intake checks before the first has committed, so it sees nothing...
    real_find = DossierRepository.find
    misses = [None]

    def find(self: DossierRepository, reference: str) -> Dossier | None:
        return misses.pop() if misses else real_find(self, reference)

    monkeypatch.setattr(DossierRepository, "find", find)

    # ... and its insert then collides with the committed row.
    with pytest.raises(DuplicateReference, match="HT-2026-001002"):
        receive(container, raw, OPERATOR)
    assert _dossier_count(container) == 1


def test_other_integrity_errors_are_not_reported_as_duplicates(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    def enqueue(session: Session) -> None:
        ledger.enqueue_notification(
            session,
            agency=Agency.COMMUNE,
            event_type="test.notice",
            dedupe_key="already-queued",
            dossier_reference="HT-2026-000001",
            step_kind=None,
            payload={},
            now=container.clock.now(),
        )

    with container.unit_of_work() as uow:
        enqueue(uow.session)
        uow.commit()
    real_receive = ledger.receive_dossier

    def receive_and_break_another_constraint(session: Session, **kwargs: Any) -> Dossier:
        dossier = real_receive(session, **kwargs)
        enqueue(session)  # flushed at commit: violates the notifications' dedupe_key
        return dossier

    monkeypatch.setattr(ledger, "receive_dossier", receive_and_break_another_constraint)

    with pytest.raises(IntegrityError):
        receive(container, _raw(), OPERATOR)
    assert _dossier_count(container) == 0
