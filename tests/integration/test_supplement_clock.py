"""A request for supplementation stops the statutory clock; the supplement restarts it."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from lienthong import ledger
from lienthong.bootstrap import Container
from lienthong.clock import ManualClock
from lienthong.intake import receive
from lienthong.ledger import Actor
from lienthong.supplements import record_supplement
from models.status import Chain, DossierStatus, StepKind, StepStatus
from tests.helpers import request_supplement_at

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPERATOR = Actor("operator-1")


def test_supplement_restarts_the_step_and_chain_clocks(container: Container) -> None:
    # Received Monday 23 November 2026, 09:00; the police ask for supplementation that day.
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=HCM))
    app = dataclasses.replace(container, clock=clock)
    raw = json.loads((EXAMPLES / "demo" / "HT-2026-001002.json").read_text(encoding="utf-8"))
    raw["received_at"] = clock.now().isoformat()
    intake = receive(app, raw, OPERATOR)
    assert intake.accepted, intake.problems
    reference = intake.reference
    deadlines = app.deadlines
    with app.unit_of_work() as uow:
        first_due = uow.dossiers.get(reference).due_at
    request_supplement_at(app, reference, StepKind.RESIDENCE_REGISTRATION, OPERATOR)
    assert first_due == deadlines.chain_due_at(Chain.BIRTH, clock.now())

    # The applicant comes back the next Monday, 30 November, at 16:00 (after the cut-off).
    clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=HCM))
    supplement = json.loads(
        (EXAMPLES / "demo" / "supplements" / f"{reference}.json").read_text(encoding="utf-8")
    )
    record_supplement(app, reference, supplement, OPERATOR)

    with app.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        residence = next(s for s in dossier.steps if s.kind == StepKind.RESIDENCE_REGISTRATION)
        assert dossier.status == DossierStatus.IN_PROGRESS
        assert dossier.clock_started_at == clock.now()
        # 3 working days counted from Tuesday 1 December (after 15:00): due Friday 4 December.
        assert dossier.due_at == datetime(2026, 12, 4, 23, 59, 59, 999999, tzinfo=HCM)
        assert dossier.due_at > first_due + timedelta(days=5)
        assert residence.status == StepStatus.PENDING
        assert residence.idempotency_key.endswith(":r1"), "a new round, a new key"
        ledger.start_step(
            uow.session, dossier, residence, deadlines=deadlines, actor=OPERATOR, now=clock.now()
        )
        # The step's own 2 working days also restart: Tuesday 1 -> Thursday 3 December.
        assert residence.due_at == datetime(2026, 12, 3, 23, 59, 59, 999999, tzinfo=HCM)
