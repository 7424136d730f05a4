"""Potential duplicates through the services on the fake unit of work: intake holds the
second copy before any agency, a person decides, every decision is audited. The SQL side
(the index, the lock, the figures) is tests/integration/test_duplicates.py."""

from __future__ import annotations

import copy
import unicodedata

import pytest

from lienthong.models.duplicates import CannotResolve, Decision, MatchRule
from lienthong.models.report import Scope
from lienthong.models.status import DossierStatus, IllegalTransition, StepKind, StepStatus
from lienthong.services.container import Container
from lienthong.services.duplicates import NotHeld, held_dossier, held_dossiers, resolve
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.submit_once import submit_once
from lienthong.services.withdrawal import withdraw
from tests.fakes import FakeStore
from tests.helpers import example, example_with

OPERATOR = Actor("operator-3")
FIRST = "HT-2026-000123"
SECOND = "HT-2026-000124"


def test_a_dossier_alone_is_not_held(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    result = receive(container, example("birth-valid"), OPERATOR)
    assert result.held_for == ()
    assert store.dossiers[FIRST].status == DossierStatus.RECEIVED
    assert held_dossiers(container) == []


def test_the_same_child_under_another_reference_and_commune_is_held(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    receive(container, example("birth-valid"), OPERATOR)
    # Another certificate number, another commune; the name typed in NFD, upper case.
    second = example_with(
        "birth-valid",
        SECOND,
        medical_birth_certificate__number="GCS-2026-999999",
        child__full_name=unicodedata.normalize("NFD", "NGUYỄN NGỌC BẢO AN"),
    )
    second["jurisdiction"]["commune_code"] = "22741"
    second["jurisdiction"]["commune_name"] = "Phường Bảo An"

    result = receive(container, second, OPERATOR)

    assert [(m.reference, m.rule) for m in result.held_for] == [
        (FIRST, MatchRule.MOTHER_BIRTH_NAME)
    ]
    assert store.dossiers[SECOND].status == DossierStatus.HELD
    held = store.audit[-1].record
    assert (held.action, held.status_before, held.status_after) == (
        "dossier_status_changed",
        "received",
        "held",
    )
    assert held.reason == f"potential duplicate of {FIRST} (mother_birth_name)"
    assert held.details == {"matches": [{"reference": FIRST, "rule": "mother_birth_name"}]}
    assert [h.reference for h in held_dossiers(container)] == [SECOND]


def test_a_held_dossier_reaches_no_agency(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    receive(container, example("birth-valid"), OPERATOR)
    receive(container, example_with("birth-valid", SECOND), OPERATOR)
    dossier = store.dossiers[SECOND]
    with pytest.raises(IllegalTransition, match="held as a potential duplicate"):
        dossier.start_step(
            StepKind.BIRTH_REGISTRATION, deadlines=container.deadlines, now=container.clock.now()
        )
    assert dossier.step(StepKind.BIRTH_REGISTRATION).status == StepStatus.PENDING
    assert dossier.step(StepKind.BIRTH_REGISTRATION).attempts == 0


def test_distinct_returns_it_to_received_audited(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    receive(container, example("birth-valid"), OPERATOR)
    receive(container, example_with("birth-valid", SECOND), OPERATOR)

    decided = resolve(container, SECOND, Decision.DISTINCT, reason="twins", actor=OPERATOR)

    assert (decided.status, decided.decision, decided.decided_by) == (
        DossierStatus.RECEIVED,
        Decision.DISTINCT,
        "operator-3",
    )
    assert store.dossiers[SECOND].status == DossierStatus.RECEIVED
    event = store.audit[-1].record
    assert (event.actor, event.status_before, event.status_after) == (
        "operator-3",
        "held",
        "received",
    )
    assert event.reason == f"confirmed distinct from {FIRST}: twins"
    assert event.details == {"decision": "distinct", "merged_into": None}
    assert held_dossiers(container) == []
    assert held_dossier(container, SECOND).reason == "twins"


def test_merge_closes_it_linked_to_the_dossier_it_repeats(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    receive(container, example("birth-valid"), OPERATOR)
    receive(container, example_with("birth-valid", SECOND), OPERATOR)

    resolve(container, SECOND, Decision.MERGE, reason="same child", actor=OPERATOR, into=FIRST)

    dossier = store.dossiers[SECOND]
    assert dossier.status == DossierStatus.REJECTED
    assert {s.status for s in dossier.steps} == {StepStatus.SKIPPED}
    assert dossier.rejection_reasons == [
        {"path": "duplicate", "message": f"duplicate of {FIRST}, merged into {FIRST}: same child"}
    ]
    assert store.dossiers[FIRST].status == DossierStatus.RECEIVED
    assert store.audit[-1].record.details == {"decision": "merge", "merged_into": FIRST}


def test_a_rejected_duplicate_is_not_matched_again(app: tuple[Container, FakeStore]) -> None:
    container, _ = app
    receive(container, example("birth-valid"), OPERATOR)
    receive(container, example_with("birth-valid", SECOND), OPERATOR)
    resolve(container, SECOND, Decision.REJECT, reason="submitted twice", actor=OPERATOR)

    third = receive(container, example_with("birth-valid", "HT-2026-000125"), OPERATOR)

    assert {m.reference for m in third.held_for} == {FIRST}


def test_a_wrong_decision_changes_nothing(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    receive(container, example("birth-valid"), OPERATOR)
    receive(container, example_with("birth-valid", SECOND), OPERATOR)
    events = len(store.audit)
    with pytest.raises(CannotResolve):
        resolve(container, SECOND, Decision.MERGE, reason="x", actor=OPERATOR, into="HT-2026-9")
    with pytest.raises(NotHeld):
        resolve(container, FIRST, Decision.DISTINCT, reason="x", actor=OPERATOR)
    resolve(container, SECOND, Decision.DISTINCT, reason="twins", actor=OPERATOR)
    with pytest.raises(CannotResolve, match="decided already"):
        resolve(container, SECOND, Decision.REJECT, reason="x", actor=OPERATOR)
    assert len(store.audit) == events + 1


def test_a_withdrawn_held_dossier_is_no_longer_listed_nor_decided(
    app: tuple[Container, FakeStore],
) -> None:
    container, _ = app
    receive(container, example("birth-valid"), OPERATOR)
    receive(container, example_with("birth-valid", SECOND), OPERATOR)
    withdraw(container, SECOND, "the family filed it twice", OPERATOR)
    assert held_dossiers(container) == []
    with pytest.raises(CannotResolve, match="withdrawn"):
        resolve(container, SECOND, Decision.DISTINCT, reason="x", actor=OPERATOR)


def test_the_same_deceased_is_held_across_references(app: tuple[Container, FakeStore]) -> None:
    container, _ = app
    first = example("death-valid-insured")
    receive(container, first, OPERATOR)
    second = copy.deepcopy(first)
    second["reference"] = "KT-2026-000999"
    second["death_notice"]["number"] = "another-number-1"

    result = receive(container, second, OPERATOR)

    assert [(m.reference, m.rule) for m in result.held_for] == [
        (first["reference"], MatchRule.DECEASED_ID)
    ]


def test_held_dossiers_are_listed_by_scope(app: tuple[Container, FakeStore]) -> None:
    container, _ = app
    receive(container, example("birth-valid"), OPERATOR)
    receive(container, example_with("birth-valid", SECOND), OPERATOR)
    commune = example("birth-valid")["jurisdiction"]["commune_code"]
    assert [h.reference for h in held_dossiers(container, Scope(commune=commune))] == [SECOND]
    assert held_dossiers(container, Scope(commune="00000")) == []
    (held,) = held_dossiers(container)
    assert [(m.reference, m.rules) for m in held.matches] == [
        (FIRST, (MatchRule.BIRTH_CERTIFICATE, MatchRule.MOTHER_BIRTH_NAME))
    ]


def test_a_retried_submission_answers_as_the_first_even_once_closed_as_a_duplicate(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    receive(container, example("birth-valid"), OPERATOR)
    second = example_with("birth-valid", SECOND)
    first_answer = submit_once(container, second, OPERATOR)
    resolve(container, SECOND, Decision.REJECT, reason="sent twice", actor=OPERATOR)
    events = len(store.audit)

    again = submit_once(container, second, OPERATOR)

    assert again.replayed
    assert again.result == first_answer.result
    assert [m.reference for m in again.result.held_for] == [FIRST, FIRST]
    assert len(store.audit) == events
