"""Intake as a use case, on the fake unit of work: what is kept of a valid or an invalid
dossier, and when a reference is a duplicate. The SQL side of a race for one reference is
tests/integration/test_intake.py."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lienthong.models.chains import birth_plan
from lienthong.models.clock import ManualClock
from lienthong.models.lifecycle import ConcurrentChange, Dossier
from lienthong.models.status import Chain, DossierStatus, StepKind, StepStatus
from lienthong.services import ledger
from lienthong.services.audit_trail import verify
from lienthong.services.container import Container
from lienthong.services.intake import DuplicateReference, receive
from lienthong.services.ledger import Actor
from lienthong.services.unit_of_work import UnitOfWork
from tests.fakes import FakeDossiers, FakeStore
from tests.helpers import example

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=HCM)
OPERATOR = Actor("operator-3", "run-42")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


def _actions(store: FakeStore) -> list[tuple[str | None, str | None, str | None, str | None]]:
    return [
        (e.record.action, e.record.step_kind, e.record.status_before, e.record.status_after)
        for e in store.audit
    ]


def test_a_valid_dossier_is_stored_with_its_planned_steps_and_clock(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    raw = example("demo/HT-2026-001002")

    result = receive(container, raw, OPERATOR)

    assert (result.reference, result.chain, result.accepted) == (
        "HT-2026-001002",
        Chain.BIRTH,
        True,
    )
    assert result.problems == ()
    assert result.late_filing_reason is None
    dossier = store.dossiers["HT-2026-001002"]
    received_at = datetime.fromisoformat(raw["received_at"])
    assert dossier.status == DossierStatus.RECEIVED
    assert (dossier.province_code, dossier.commune_code) == (
        raw["jurisdiction"]["province_code"],
        raw["jurisdiction"]["commune_code"],
    )
    assert dossier.received_at == dossier.clock_started_at == received_at
    assert dossier.due_at == container.deadlines.chain_due_at(Chain.BIRTH, received_at)
    assert (dossier.created_at, dossier.updated_at) == (NOW, NOW)
    assert dossier.payload["reference"] == "HT-2026-001002"
    assert dossier.rejection_reasons is None
    assert not dossier.late_filing
    assert [(s.kind, s.agency, s.position, s.status, s.idempotency_key) for s in dossier.steps] == [
        (p.kind, p.agency, p.position, StepStatus.PENDING, f"HT-2026-001002:{p.kind.value}:r0")
        for p in birth_plan()
    ]
    assert dossier.id is not None
    assert all(s.id is not None for s in dossier.steps)
    # One event, by the operator in their run; nobody is told of a received dossier.
    [event] = store.audit
    assert event.record.action == "dossier_received"
    assert (event.record.actor, event.record.flow_run_id) == ("operator-3", "run-42")
    assert event.record.status_after == "received"
    assert event.record.occurred_at == NOW
    assert event.record.details == {
        "late_filing": False,
        "steps": ["birth_registration", "residence_registration", "child_health_card"],
    }
    assert store.notices == []
    assert store.commits == 1


def test_steps_nobody_pays_for_are_skipped_with_their_reason(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    raw = example("death-valid-no-payer")  # scope 3, nobody pays the funeral allowance

    assert receive(container, raw, OPERATOR).accepted

    dossier = store.dossiers[raw["reference"]]
    assert [(s.kind, s.status) for s in dossier.steps] == [
        (StepKind.DEATH_REGISTRATION, StepStatus.PENDING),
        (StepKind.RESIDENCE_REMOVAL, StepStatus.PENDING),
        (StepKind.FUNERAL_ALLOWANCE, StepStatus.SKIPPED),
    ]
    # The chain's limit counts only the procedures that will run.
    received_at = datetime.fromisoformat(raw["received_at"])
    assert dossier.due_at == container.deadlines.chain_due_at(
        Chain.DEATH,
        received_at,
        steps=[StepKind.DEATH_REGISTRATION, StepKind.RESIDENCE_REMOVAL],
    )
    assert dossier.due_at != container.deadlines.chain_due_at(
        Chain.DEATH,
        received_at,
        steps=[StepKind.DEATH_REGISTRATION, StepKind.RESIDENCE_REMOVAL, StepKind.FUNERAL_ALLOWANCE],
    )
    assert _actions(store) == [
        ("dossier_received", None, None, "received"),
        ("step_status_changed", "funeral_allowance", "pending", "skipped"),
    ]
    assert store.audit[1].record.reason == "the deceased was neither insured nor a beneficiary"
    assert store.notices == [], "a step skipped at intake is nobody's news"


def test_a_late_filing_is_accepted_and_flagged(app: tuple[Container, FakeStore]) -> None:
    container, store = app

    result = receive(container, example("demo/HT-2026-001004"), OPERATOR)

    assert result.accepted
    assert result.late_filing_reason == (
        "received 70 days after the birth; a birth must be registered within 60 days"
    )
    assert store.dossiers["HT-2026-001004"].late_filing
    assert store.audit[0].record.details is not None
    assert store.audit[0].record.details["late_filing"] is True


def test_an_invalid_dossier_is_kept_as_rejected_with_every_reason(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    raw = example("invalid/future-date")

    result = receive(container, raw, OPERATOR)

    assert not result.accepted
    assert (result.reference, result.chain) == ("HT-2026-000901", Chain.BIRTH)
    paths = ["child.date_of_birth", "medical_birth_certificate.issued_on"]
    assert [p.path for p in result.problems] == paths
    dossier = store.dossiers["HT-2026-000901"]
    assert dossier.status == DossierStatus.REJECTED
    assert dossier.chain == Chain.BIRTH
    assert dossier.payload == raw, "what the citizen handed in is kept as it was"
    assert dossier.rejection_reasons == [p.model_dump() for p in result.problems]
    assert (dossier.province_code, dossier.commune_code) == ("056", "22738")
    assert dossier.received_at == datetime.fromisoformat(raw["received_at"])
    assert (dossier.clock_started_at, dossier.due_at) == (None, None)
    assert dossier.steps == []
    [event] = store.audit
    assert (event.record.action, event.record.status_after) == ("dossier_rejected", "rejected")
    assert event.record.reason == "; ".join(f"{p.path}: {p.message}" for p in result.problems)
    assert store.notices == []


def test_a_dossier_received_after_now_is_rejected_on_received_at(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    raw = example("demo/HT-2026-001002")
    raw["received_at"] = "2027-12-01T09:00:00+07:00"

    result = receive(container, raw, OPERATOR)

    assert not result.accepted
    assert [p.path for p in result.problems] == ["received_at"]
    assert "is in the future" in result.problems[0].message
    stored = store.dossiers[result.reference]
    assert stored.status == DossierStatus.REJECTED
    # The record's time is when it really arrived, not the impossible date.
    assert stored.received_at == NOW


def test_a_received_at_within_the_clock_skew_is_accepted(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    raw = example("demo/HT-2026-001002")
    raw["received_at"] = "2026-11-23T09:04:00+07:00"

    assert receive(container, raw, OPERATOR).accepted
    assert store.dossiers["HT-2026-001002"].received_at == datetime(2026, 11, 23, 9, 4, tzinfo=HCM)


@pytest.mark.parametrize(
    ("received_at", "kept"),
    [
        ("2026-11-20T09:15:00+07:00", datetime(2026, 11, 20, 9, 15, tzinfo=HCM)),
        ("2026-11-20T09:15:00", NOW),  # naive: not a time the record can keep
        ("last Friday", NOW),
        (None, NOW),
    ],
)
def test_a_rejected_dossier_keeps_its_own_received_at_only_when_usable(
    app: tuple[Container, FakeStore], received_at: str | None, kept: datetime
) -> None:
    container, store = app
    raw = example("invalid/future-date")
    raw["received_at"] = received_at

    result = receive(container, raw, OPERATOR)

    assert not result.accepted
    assert store.dossiers[result.reference].received_at == kept


def test_without_a_usable_reference_a_rejected_dossier_gets_one(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app

    result = receive(container, example("invalid/bad-reference"), OPERATOR)

    assert not result.accepted
    assert re.fullmatch(r"REJ-20261123-[0-9A-F]{8}", result.reference)
    assert "058091203118" not in result.reference, "the bad reference was a personal ID"
    assert store.dossiers[result.reference].status == DossierStatus.REJECTED
    # Two such dossiers never collide.
    other = receive(container, example("invalid/bad-reference"), OPERATOR)
    assert other.reference != result.reference
    assert len(store.dossiers) == 2


def test_an_unknown_chain_is_rejected_without_a_chain(app: tuple[Container, FakeStore]) -> None:
    container, store = app

    result = receive(container, example("invalid/unknown-chain"), OPERATOR)

    assert not result.accepted
    assert result.chain is None
    assert [p.path for p in result.problems] == ["chain"]
    assert store.dossiers["HT-2026-000901"].chain is None


def _snapshot(store: FakeStore) -> tuple[Any, ...]:
    return (
        {ref: (d.status, d.id) for ref, d in store.dossiers.items()},
        [e.hash for e in store.audit],
        len(store.notices),
        store.commits,
    )


@pytest.mark.parametrize("again", ["demo/HT-2026-001002", "invalid/future-date"])
def test_a_known_reference_is_a_duplicate_valid_or_not(
    app: tuple[Container, FakeStore], again: str
) -> None:
    container, store = app
    first = example("demo/HT-2026-001002")
    assert receive(container, first, OPERATOR).accepted
    before = _snapshot(store)
    raw = example(again)
    raw["reference"] = "HT-2026-001002"

    with pytest.raises(DuplicateReference, match="HT-2026-001002 is already on record") as caught:
        receive(container, raw, OPERATOR)

    assert caught.value.reference == "HT-2026-001002"
    assert "`lienthong status HT-2026-001002`" in str(caught.value)
    assert _snapshot(store) == before


def test_a_rejected_dossier_corrected_is_resubmitted_under_its_reference(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    raw = example("invalid/future-date")
    rejected = receive(container, raw, OPERATOR)
    assert not rejected.accepted
    # Still wrong: it stays rejected, with the latest copy's reasons.
    again = receive(container, raw, OPERATOR)
    assert (again.accepted, again.resubmitted) == (False, True)
    raw["child"]["date_of_birth"] = "2026-11-10"
    raw["medical_birth_certificate"]["issued_on"] = "2026-11-10"

    corrected = receive(container, raw, OPERATOR)

    assert (corrected.reference, corrected.accepted, corrected.resubmitted) == (
        rejected.reference,
        True,
        True,
    )
    dossier = store.dossiers[rejected.reference]
    assert dossier.status == DossierStatus.RECEIVED
    assert dossier.rejection_reasons is None
    assert [s.kind for s in dossier.steps] == [p.kind for p in birth_plan()]
    assert dossier.due_at is not None
    actions = [
        e.record.action for e in store.audit if e.record.dossier_reference == dossier.reference
    ]
    assert actions == ["dossier_rejected", "dossier_rejected", "dossier_resubmitted"]
    # The audit trail replays to what the record holds.
    assert verify(container).intact
    with pytest.raises(DuplicateReference):
        receive(container, raw, OPERATOR)


def test_losing_a_race_for_the_same_reference_is_a_duplicate(
    app: tuple[Container, FakeStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loser looked before the winner committed; its insert then conflicts."""
    container, store = app
    raw = example("demo/HT-2026-001002")
    assert receive(container, raw, OPERATOR).accepted
    before = _snapshot(store)
    real_find = FakeDossiers.find
    misses = [None]

    def find(self: FakeDossiers, reference: str) -> Dossier | None:
        return misses.pop() if misses else real_find(self, reference)

    monkeypatch.setattr(FakeDossiers, "find", find)

    with pytest.raises(DuplicateReference, match="HT-2026-001002"):
        receive(container, raw, OPERATOR)
    assert misses == [], "the race was run"
    assert _snapshot(store) == before


def test_other_conflicts_are_not_reported_as_duplicates(
    app: tuple[Container, FakeStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conflict that is not the dossier's reference is re-raised as it is."""
    container, store = app
    before = _snapshot(store)
    real_record = ledger.record

    def record_and_conflict(uow: UnitOfWork, *args: Any) -> None:
        real_record(uow, *args)
        raise ConcurrentChange("another transaction changed the dossier first")

    monkeypatch.setattr(ledger, "record", record_and_conflict)

    # Not DuplicateReference (a ValueError): the operator must not be told to resume it.
    with pytest.raises(ConcurrentChange, match="changed the dossier first"):
        receive(container, example("demo/HT-2026-001002"), OPERATOR)
    assert _snapshot(store) == before
