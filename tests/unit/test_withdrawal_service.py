"""Withdrawal as a use case, on the fake unit of work: undecided steps stop, decided ones
keep their outcome, and nothing is withdrawn under a running chain."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lienthong.models.clock import ManualClock
from lienthong.models.lifecycle import CannotWithdraw, DossierNotFound
from lienthong.models.status import Agency, DossierStatus, StepKind, StepStatus
from lienthong.services.begin_step import begin_step
from lienthong.services.container import Container
from lienthong.services.intake import receive
from lienthong.services.leases import acquire_lease
from lienthong.services.ledger import Actor
from lienthong.services.withdrawal import withdraw
from tests.fakes import FakeStore
from tests.helpers import example, request_supplement_at

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
OPERATOR = Actor("operator-7")
REFERENCE = "HT-2026-001002"


def _received(container: Container) -> str:
    assert receive(container, example(f"demo/{REFERENCE}"), OPERATOR).accepted
    return REFERENCE


def _waiting_for_supplement(container: Container) -> str:
    reference = _received(container)
    request_supplement_at(container, reference, StepKind.RESIDENCE_REGISTRATION, OPERATOR)
    return reference


def _state(store: FakeStore) -> tuple[Any, ...]:
    dossier = store.dossiers[REFERENCE]
    return (
        dossier.status,
        [s.status for s in dossier.steps],
        [e.hash for e in store.audit],
        len(store.notices),
        store.commits,
    )


def test_withdrawal_stops_undecided_steps_and_tells_their_agencies(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    reference = _waiting_for_supplement(container)
    audited, told = len(store.audit), len(store.notices)
    clock.advance(timedelta(hours=2))

    withdraw(container, reference, "the family moved abroad", OPERATOR)

    dossier = store.dossiers[reference]
    assert dossier.status == DossierStatus.WITHDRAWN
    assert [s.status for s in dossier.steps] == [
        StepStatus.SUCCEEDED,
        StepStatus.WITHDRAWN,
        StepStatus.WITHDRAWN,
    ]
    registration, residence, card = dossier.steps
    assert registration.agency_reference == "AG-birth_registration", "a registration stays made"
    assert residence.finished_at == card.finished_at == clock.now()
    assert store.leases == {}, "the withdrawal's own lease is released"
    events = [e.record for e in store.audit[audited:]]
    assert [(e.action, e.step_kind, e.status_before, e.status_after) for e in events] == [
        ("step_status_changed", "residence_registration", "awaiting_supplement", "withdrawn"),
        ("step_status_changed", "child_health_card", "pending", "withdrawn"),
        ("dossier_status_changed", None, "awaiting_supplement", "withdrawn"),
    ]
    assert {e.reason for e in events} == {"the family moved abroad"}
    assert {e.actor for e in events} == {"operator-7"}
    # Each withdrawn step's agency hears of it, once.
    notices = [n.notice for n in store.notices[told:]]
    assert [(n.agency, n.event_type, n.step_kind) for n in notices] == [
        (Agency.POLICE, "step.withdrawn", StepKind.RESIDENCE_REGISTRATION),
        (Agency.SOCIAL_INSURANCE, "step.withdrawn", StepKind.CHILD_HEALTH_CARD),
    ]
    assert [(n.payload["step"], n.payload["status"]) for n in notices] == [
        ("residence_registration", "withdrawn"),
        ("child_health_card", "withdrawn"),
    ]
    assert notices[0].dedupe_key == f"audit:{store.audit[audited].id}:police"


def test_a_withdrawn_dossier_cannot_be_withdrawn_again(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    reference = _waiting_for_supplement(container)
    withdraw(container, reference, "first time", OPERATOR)
    before = _state(store)

    with pytest.raises(CannotWithdraw, match="withdrawn already"):
        withdraw(container, reference, "again", OPERATOR)

    assert _state(store) == before
    assert store.leases == {}


def test_a_dossier_being_processed_by_a_run_cannot_be_withdrawn(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    reference = _received(container)
    assert acquire_lease(container, reference, "a-chain-run")
    before = _state(store)

    with pytest.raises(CannotWithdraw, match="being processed by a chain run"):
        withdraw(container, reference, "changed their mind", OPERATOR)

    assert _state(store) == before
    assert store.leases[reference].owner == "a-chain-run", "the run keeps its lease"


def test_the_lapsed_lease_of_a_dead_run_does_not_block_a_withdrawal(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    reference = _received(container)
    assert acquire_lease(container, reference, "a-run-that-died")
    clock.advance(timedelta(seconds=container.settings.lease_seconds + 1))

    withdraw(container, reference, "changed their mind", OPERATOR)

    assert store.dossiers[reference].status == DossierStatus.WITHDRAWN
    assert store.leases == {}


def test_a_step_in_progress_at_its_agency_cannot_be_withdrawn(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    reference = _received(container)
    begin_step(container, reference, StepKind.BIRTH_REGISTRATION, OPERATOR)
    before = _state(store)

    with pytest.raises(CannotWithdraw, match="birth_registration is in progress at its agency"):
        withdraw(container, reference, "changed their mind", OPERATOR)

    assert _state(store) == before
    assert store.leases == {}


def test_a_received_dossier_withdraws_every_step(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    reference = _received(container)

    withdraw(container, reference, "changed their mind", OPERATOR)

    dossier = store.dossiers[reference]
    assert dossier.status == DossierStatus.WITHDRAWN
    assert {s.status for s in dossier.steps} == {StepStatus.WITHDRAWN}


def test_an_unknown_dossier_cannot_be_withdrawn(app: tuple[Container, FakeStore]) -> None:
    container, store = app

    with pytest.raises(DossierNotFound, match="HT-2026-999999"):
        withdraw(container, "HT-2026-999999", "?", OPERATOR)
    assert store.commits == 0
