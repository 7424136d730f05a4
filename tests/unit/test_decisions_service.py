"""An agency's decision on a receipt (services/decisions.py), on the fake unit of work: it is
applied once, to the step still awaiting it; anything else changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lienthong.models.clock import ManualClock
from lienthong.models.contract.decisions import DecisionNotice, DecisionOutcome
from lienthong.models.lifecycle import CannotWithdraw
from lienthong.models.status import Agency, DossierStatus, StepKind, StepStatus
from lienthong.models.waits import WaitingDecision
from lienthong.models.wording import Language
from lienthong.services.agency_calls import AgencyOutcome
from lienthong.services.begin_step import begin_step
from lienthong.services.container import Container
from lienthong.services.decisions import (
    DecisionReceipt,
    DecisionSource,
    Recorded,
    record_decision,
)
from lienthong.services.finish_step import finish_step
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.poll_decisions import overdue_callbacks
from lienthong.services.step_outcomes import StepOutcome, granted
from lienthong.services.views import waiting_of
from lienthong.services.withdrawal import withdraw
from tests.fakes import FakeStore, fake_container
from tests.helpers import example

RUN = Actor("system", "run-1")
REFERENCE = "HT-2026-001001"
BIRTH, RESIDENCE = StepKind.BIRTH_REGISTRATION, StepKind.RESIDENCE_REGISTRATION
RECEIPT = "BN-POLICE-00000007"
CALLBACK = DecisionSource.CALLBACK
RESIDENCE_RESULT = {
    "dossier_reference": REFERENCE,
    "registration_number": "TT-00000042",
    "personal_id": "079226000123",
    "address": "12 Lê Lợi, Phường Bến Nghé",
    "registered_at": "2026-11-24T03:00:00Z",
}


@pytest.fixture
def app(clock: ManualClock) -> tuple[Container, FakeStore]:
    """The dossier's police step awaits a decision under RECEIPT."""
    container, store = fake_container(clock=clock)
    assert receive(container, example(f"demo/{REFERENCE}"), Actor("operator-1")).accepted
    begin_step(container, REFERENCE, BIRTH, RUN)
    finish_step(container, REFERENCE, BIRTH, granted(AgencyOutcome("KS-1", {})), RUN)
    begin_step(container, REFERENCE, RESIDENCE, RUN)
    expected = clock.now() + timedelta(days=1)
    waiting = StepOutcome(
        StepStatus.AWAITING_DECISION, receipt_number=RECEIPT, expected_at=expected
    )
    finish_step(container, REFERENCE, RESIDENCE, waiting, RUN)
    return container, store


def notice(outcome: DecisionOutcome, **fields: Any) -> DecisionNotice:
    return DecisionNotice(
        receipt_number=fields.pop("receipt_number", RECEIPT),
        dossier_reference=fields.pop("dossier_reference", REFERENCE),
        outcome=outcome,
        **fields,
    )


def test_a_receipt_leaves_the_step_awaiting_the_decision_on_the_agencys_clock(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    step = store.dossiers[REFERENCE].step(RESIDENCE)

    assert step.status == StepStatus.AWAITING_DECISION
    assert (step.receipt_number, step.waiting_since) == (RECEIPT, clock.now())
    assert step.due_at == container.deadlines.step_due_at(RESIDENCE, clock.now())
    assert store.dossiers[REFERENCE].status == DossierStatus.IN_PROGRESS
    waiting = waiting_of(container, REFERENCE)
    assert waiting is not None
    assert waiting.message(Language.EN).startswith(
        "waiting for Police decision on Permanent residence registration since "
    )


def test_a_grant_is_recorded_once_and_its_repeats_change_nothing(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    grant = notice(DecisionOutcome.GRANTED, result=RESIDENCE_RESULT)

    first = record_decision(container, Agency.POLICE, grant, CALLBACK)
    events = len(store.audit)
    again = record_decision(container, Agency.POLICE, grant, DecisionSource.POLL)
    late_refusal = record_decision(
        container, Agency.POLICE, notice(DecisionOutcome.REFUSED, reason="no"), CALLBACK
    )
    late_verification = record_decision(
        container, Agency.POLICE, notice(DecisionOutcome.VERIFICATION_NEEDED), CALLBACK
    )

    assert (first.recorded, first.reference, first.kind) == (Recorded.DECIDED, REFERENCE, RESIDENCE)
    assert [again.recorded, late_refusal.recorded, late_verification.recorded] == [
        Recorded.IGNORED
    ] * 3
    assert len(store.audit) == events, "nothing was recorded after the first"
    step = store.dossiers[REFERENCE].step(RESIDENCE)
    assert (step.status, step.agency_reference) == (StepStatus.SUCCEEDED, "TT-00000042")
    assert step.on_time is True
    [decided] = [e.record for e in store.audit if e.record.status_after == "succeeded"][-1:]
    assert (decided.step_kind, decided.actor) == (
        "residence_registration",
        "agency:police:callback",
    )


@pytest.mark.parametrize(
    ("changes", "agency"),
    [
        ({"receipt_number": "BN-POLICE-99999999"}, Agency.POLICE),
        ({"dossier_reference": "HT-2026-009999"}, Agency.POLICE),
    ],
    ids=["unknown receipt", "another dossier"],
)
def test_a_decision_that_matches_no_waiting_step_changes_nothing(
    app: tuple[Container, FakeStore], changes: dict[str, str], agency: Agency
) -> None:
    container, store = app
    events = len(store.audit)

    receipt = record_decision(
        container, agency, notice(DecisionOutcome.REFUSED, reason="no", **changes), CALLBACK
    )

    assert receipt.recorded is Recorded.UNKNOWN_RECEIPT
    assert len(store.audit) == events
    assert store.dossiers[REFERENCE].step(RESIDENCE).status == StepStatus.AWAITING_DECISION


def test_pending_changes_nothing(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    events = len(store.audit)

    receipt = record_decision(container, Agency.POLICE, notice(DecisionOutcome.PENDING), CALLBACK)

    assert receipt.recorded is Recorded.PENDING
    assert len(store.audit) == events


def test_verification_moves_the_step_and_the_chain_to_their_longer_limits_once(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    dossier = store.dossiers[REFERENCE]
    started = dossier.step(RESIDENCE).started_at
    assert started is not None
    verification = notice(DecisionOutcome.VERIFICATION_NEEDED, reason="address")

    first = record_decision(container, Agency.POLICE, verification, CALLBACK)
    events = len(store.audit)
    again = record_decision(container, Agency.POLICE, verification, DecisionSource.POLL)

    assert (first.recorded, again.recorded) == (Recorded.VERIFICATION, Recorded.IGNORED)
    assert len(store.audit) == events
    dossier = store.dossiers[REFERENCE]
    step = dossier.step(RESIDENCE)
    deadlines = container.deadlines
    assert (step.status, step.verification) == (StepStatus.AWAITING_DECISION, True)
    assert step.due_at == deadlines.step_due_at(RESIDENCE, started, verification=True)
    assert step.due_at > deadlines.step_due_at(RESIDENCE, started)
    assert dossier.clock_started_at is not None
    assert dossier.due_at == deadlines.chain_due_at(
        dossier.chain or pytest.fail("no chain"), dossier.clock_started_at, verification=True
    )
    assert store.audit[-1].record.action == "step_verification_needed"
    waiting = waiting_of(container, REFERENCE)
    assert waiting is not None
    assert "(verification)" in waiting.message(Language.EN)
    assert "(phải xác minh)" in waiting.message(Language.VI)


def test_a_refusal_ends_the_chain_and_a_request_for_supplement_parks_it(
    clock: ManualClock,
) -> None:
    for outcome, status, dossier_status in [
        (DecisionOutcome.REFUSED, StepStatus.REFUSED, DossierStatus.REFUSED),
        (
            DecisionOutcome.SUPPLEMENT_REQUIRED,
            StepStatus.AWAITING_SUPPLEMENT,
            DossierStatus.AWAITING_SUPPLEMENT,
        ),
    ]:
        container, store = fake_container(clock=clock)
        app_fixture = _waiting(container)
        decision = notice(outcome, reason="lý do", missing_items=["consent"])

        receipt = record_decision(container, Agency.POLICE, decision, CALLBACK)

        assert receipt.recorded is Recorded.DECIDED
        dossier = store.dossiers[app_fixture]
        assert (dossier.step(RESIDENCE).status, dossier.status) == (status, dossier_status)
        assert dossier.step(RESIDENCE).reason == "lý do"


def test_an_unreadable_grant_is_an_error_for_a_person(app: tuple[Container, FakeStore]) -> None:
    container, store = app

    grant = notice(DecisionOutcome.GRANTED, result={"registration_number": "TT-1"})
    receipt = record_decision(container, Agency.POLICE, grant, CALLBACK)

    assert receipt.recorded is Recorded.DECIDED
    step = store.dossiers[REFERENCE].step(RESIDENCE)
    assert step.status == StepStatus.ERROR
    assert step.reason is not None
    assert "unreadable grant from police" in step.reason


def test_a_step_an_agency_is_deciding_cannot_be_withdrawn(
    app: tuple[Container, FakeStore],
) -> None:
    container, _ = app

    with pytest.raises(CannotWithdraw, match="residence_registration is in progress"):
        withdraw(container, REFERENCE, "changed my mind", Actor("operator-1"))


def test_a_callback_is_overdue_after_the_announced_time_and_the_grace(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, _ = app
    grace = timedelta(minutes=5)

    assert overdue_callbacks(container, grace) == []
    clock.advance(timedelta(days=1, minutes=4))
    assert overdue_callbacks(container, grace) == []
    clock.advance(timedelta(minutes=1))
    [wait] = overdue_callbacks(container, grace)
    assert (wait.reference, wait.kind, wait.receipt_number) == (REFERENCE, RESIDENCE, RECEIPT)


def test_without_an_announced_time_the_due_time_counts(clock: ManualClock) -> None:
    since = clock.now()
    wait = WaitingDecision(
        REFERENCE, RESIDENCE, Agency.POLICE, RECEIPT, since, None, since + timedelta(days=2)
    )
    grace = timedelta(0)

    assert not wait.callback_overdue(since + timedelta(days=1), grace)
    assert wait.callback_overdue(since + timedelta(days=2), grace)


def _waiting(container: Container) -> str:
    assert receive(container, example(f"demo/{REFERENCE}"), Actor("operator-1")).accepted
    begin_step(container, REFERENCE, BIRTH, RUN)
    finish_step(container, REFERENCE, BIRTH, granted(AgencyOutcome("KS-1", {})), RUN)
    begin_step(container, REFERENCE, RESIDENCE, RUN)
    waiting = StepOutcome(StepStatus.AWAITING_DECISION, receipt_number=RECEIPT)
    finish_step(container, REFERENCE, RESIDENCE, waiting, RUN)
    return REFERENCE


def by_callback(
    container: Container, notice: DecisionNotice, webhook_id: str, agency: Agency = Agency.POLICE
) -> DecisionReceipt:
    return record_decision(container, agency, notice, CALLBACK, webhook_id=webhook_id)


def test_a_callbacks_webhook_id_is_accepted_once(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    first = by_callback(
        container,
        notice(DecisionOutcome.GRANTED, result=RESIDENCE_RESULT),
        webhook_id="msg-1",
    )
    audit, commits = len(store.audit), store.commits

    again = by_callback(
        container,
        notice(DecisionOutcome.REFUSED, reason="x"),
        webhook_id="msg-1",
    )

    assert (first.recorded, again.recorded) == (Recorded.DECIDED, Recorded.REPLAYED)
    assert (len(store.audit), store.commits) == (audit, commits)
    assert store.dossiers[REFERENCE].step(RESIDENCE).status == StepStatus.SUCCEEDED


def test_an_ignored_callback_is_remembered_a_refused_one_is_not(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    pending = by_callback(container, notice(DecisionOutcome.PENDING), webhook_id="m-2")
    unknown = by_callback(
        container,
        notice(DecisionOutcome.GRANTED, receipt_number="BN-X"),
        webhook_id="m-3",
    )

    assert (pending.recorded, unknown.recorded) == (Recorded.PENDING, Recorded.UNKNOWN_RECEIPT)
    assert store.webhooks == {("agency:police", "m-2")}


def test_an_agency_may_not_decide_another_agencys_receipt(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    before = len(store.audit)

    receipt = by_callback(
        container, notice(DecisionOutcome.REFUSED, reason="no"), "m-4", Agency.SOCIAL_INSURANCE
    )

    assert receipt.recorded is Recorded.NOT_ITS_OWN
    assert len(store.audit) == before
    assert store.dossiers[REFERENCE].step(RESIDENCE).status == StepStatus.AWAITING_DECISION
