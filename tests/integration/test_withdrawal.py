"""Withdrawing a dossier: undecided steps stop, decided ones keep their outcome."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from lienthong import ledger
from lienthong.bootstrap import Container
from lienthong.intake import receive
from lienthong.ledger import Actor, CannotWithdraw
from lienthong.withdrawal import withdraw
from models.status import DossierStatus, StepKind, StepStatus
from models.tables import Notification
from tests.helpers import request_supplement_at

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPERATOR = Actor("operator-7")


def _waiting_for_supplement(container: Container) -> str:
    raw = json.loads((EXAMPLES / "demo" / "HT-2026-001002.json").read_text(encoding="utf-8"))
    reference = receive(container, raw, OPERATOR).reference
    request_supplement_at(container, reference, StepKind.RESIDENCE_REGISTRATION, OPERATOR)
    return reference


def test_withdrawal_stops_undecided_steps_and_tells_their_agencies(
    container: Container,
) -> None:
    reference = _waiting_for_supplement(container)

    withdraw(container, reference, "the family moved abroad", OPERATOR)

    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        assert dossier.status == DossierStatus.WITHDRAWN
        assert [s.status for s in dossier.steps] == [
            StepStatus.SUCCEEDED,
            StepStatus.WITHDRAWN,
            StepStatus.WITHDRAWN,
        ]
        assert dossier.lease_owner is None
        told = {
            (n.agency.value, n.event_type)
            for n in uow.session.query(Notification).filter_by(dossier_reference=reference)
        }
    assert ("police", "step.withdrawn") in told
    assert ("social_insurance", "step.withdrawn") in told


def test_a_closed_dossier_or_one_being_processed_cannot_be_withdrawn(
    container: Container,
) -> None:
    reference = _waiting_for_supplement(container)
    withdraw(container, reference, "first time", OPERATOR)
    with pytest.raises(CannotWithdraw, match="withdrawn already"):
        withdraw(container, reference, "again", OPERATOR)

    raw = json.loads((EXAMPLES / "birth-valid.json").read_text(encoding="utf-8"))
    other = receive(container, raw, OPERATOR).reference
    with container.unit_of_work() as uow:
        taken = ledger.acquire_lease(
            uow.session, other, "a-chain-run", container.clock.now(), timedelta(minutes=1)
        )
        uow.commit()
    assert taken
    with pytest.raises(CannotWithdraw, match="being processed"):
        withdraw(container, other, "changed their mind", OPERATOR)
