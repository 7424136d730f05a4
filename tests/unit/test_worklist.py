"""The worklist, the hand-back and the one lateness rule, on the fake unit of work."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from lienthong.models.clock import ManualClock
from lienthong.models.duplicates import Decision
from lienthong.models.lateness import Timeliness, dossier_timeliness, step_timeliness
from lienthong.models.lifecycle import HANDED_BACK, CannotHandBack
from lienthong.models.report import Scope
from lienthong.models.status import Chain, DossierStatus, StepKind, StepStatus
from lienthong.models.worklist import DossierQuery, Need, WorkFilter
from lienthong.services.begin_step import begin_step
from lienthong.services.container import Container
from lienthong.services.duplicates import resolve
from lienthong.services.finish_step import finish_step
from lienthong.services.hand_back import hand_back
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.step_outcomes import StepOutcome
from lienthong.services.supplements import record_supplement
from lienthong.services.worklist import worklist
from tests.fakes import FakeStore
from tests.helpers import example, example_with, request_supplement_at

OPERATOR = Actor("operator-7")
BIRTH = "HT-2026-001002"  # Phường Đô Vinh (22738), Khánh Hòa (056); no household consent
DEATH = "HT-2026-001008"
COMMUNE = Scope(commune="22738")


def _receive(container: Container, name: str) -> str:
    result = receive(container, example(name), OPERATOR)
    return result.reference


def _complete(container: Container, reference: str) -> None:
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        kinds = [s.kind for s in dossier.steps if s.status != StepStatus.SKIPPED]
    for kind in kinds:
        granted = StepOutcome(StepStatus.SUCCEEDED, agency_reference=f"AG-{kind.value}")
        _decide(container, reference, kind, granted)


def _decide(container: Container, reference: str, kind: StepKind, outcome: StepOutcome) -> None:
    begin_step(container, reference, kind, OPERATOR)
    finish_step(container, reference, kind, outcome, OPERATOR)


def _needs(container: Container, reference: str, scope: Scope = COMMUNE) -> list[Need]:
    items = [i for i in worklist(container, scope).items if i.reference == reference]
    return [t.need for i in items for t in i.tasks]


def test_a_supplement_due_shows_its_date_seven_working_days_after_the_request(
    app: tuple[Container, FakeStore],
) -> None:
    container, _ = app
    reference = _receive(container, f"demo/{BIRTH}")
    request_supplement_at(container, reference, StepKind.RESIDENCE_REGISTRATION, OPERATOR)

    (item,) = worklist(container, COMMUNE).items
    (task,) = item.tasks
    # The household head has not consented: what the citizen must bring is the consent.
    assert task.need == Need.AWAITING_CONSENT
    assert task.step == StepKind.RESIDENCE_REGISTRATION
    # Requested Monday 23/11/2026 09:00: 7 working days later is Wednesday 2/12.
    assert task.due_at == container.deadlines.supplement_deadline(container.clock.now())
    assert container.deadlines.calendar.to_local(task.due_at).date().isoformat() == "2026-12-02"


def test_other_supplements_are_supplement_due(app: tuple[Container, FakeStore]) -> None:
    container, _ = app
    reference = _receive(container, f"demo/{DEATH}")
    request_supplement_at(container, reference, StepKind.FUNERAL_ALLOWANCE, OPERATOR)
    assert _needs(container, reference, Scope()) == [Need.SUPPLEMENT_DUE]


def test_a_result_stays_on_the_list_until_handed_back_then_the_audit_keeps_it(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    reference = _receive(container, "birth-valid")
    _complete(container, reference)
    scope = Scope(commune=store.dossiers[reference].commune_code)
    assert _needs(container, reference, scope) == [Need.HAND_BACK_RESULT]

    clock.advance(timedelta(hours=2))
    assert hand_back(container, reference, OPERATOR) == DossierStatus.COMPLETED

    assert _needs(container, reference, scope) == []
    assert store.dossiers[reference].handed_back_at == clock.now()
    last = store.audit[-1].record
    assert (last.action, last.actor, last.dossier_reference) == (
        HANDED_BACK,
        OPERATOR.id,
        reference,
    )
    with pytest.raises(CannotHandBack, match="handed back at"):
        hand_back(container, reference, OPERATOR)
    # Settled dossiers are still there for whoever asks for them.
    everything = WorkFilter(DossierQuery(include_settled=True))
    assert [i.reference for i in worklist(container, scope, everything).items] == [reference]


def test_an_open_dossier_has_nothing_to_hand_back(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    reference = _receive(container, "birth-valid")
    audited = len(store.audit)
    with pytest.raises(CannotHandBack, match="nothing to hand back"):
        hand_back(container, reference, OPERATOR)
    assert len(store.audit) == audited
    assert store.dossiers[reference].handed_back_at is None


def test_rejected_and_refused_dossiers_are_handed_back_too(
    app: tuple[Container, FakeStore],
) -> None:
    container, _ = app
    rejected = _receive(container, "invalid/future-date")
    assert _needs(container, rejected, Scope()) == [Need.CORRECT_AND_RESUBMIT]
    refused = _receive(container, f"demo/{DEATH}")
    refusal = StepOutcome(StepStatus.REFUSED, reason="no")
    _decide(container, refused, StepKind.DEATH_REGISTRATION, refusal)
    assert _needs(container, refused, Scope()) == [Need.HAND_BACK_REFUSAL]


def test_stopped_steps_and_overdue_decisions_need_a_person(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    reference = _receive(container, f"demo/{DEATH}")
    broken = StepOutcome(StepStatus.ERROR, reason="contract broken")
    _decide(container, reference, StepKind.DEATH_REGISTRATION, broken)
    assert _needs(container, reference, Scope()) == [Need.STEP_STOPPED]

    waiting = _receive(container, "birth-valid")
    begin_step(container, waiting, StepKind.BIRTH_REGISTRATION, OPERATOR)
    receipt = StepOutcome(StepStatus.AWAITING_DECISION, receipt_number="R-1")
    finish_step(container, waiting, StepKind.BIRTH_REGISTRATION, receipt, OPERATOR)
    due = store.dossiers[waiting].step(StepKind.BIRTH_REGISTRATION).due_at
    assert due is not None
    clock.set(due)
    assert _needs(container, waiting, Scope()) == []
    clock.set(due + timedelta(seconds=1))
    assert _needs(container, waiting, Scope()) == [Need.DECISION_OVERDUE]
    (item,) = [i for i in worklist(container, Scope()).items if i.reference == waiting]
    assert item.late
    assert {k: t for k, _, t in item.steps}[StepKind.BIRTH_REGISTRATION] == (Timeliness.OVERDUE)


def test_filters_by_scope_chain_status_and_lateness(app: tuple[Container, FakeStore]) -> None:
    container, _ = app
    birth = _receive(container, f"demo/{BIRTH}")
    death = _receive(container, f"demo/{DEATH}")
    every = WorkFilter()  # needs action or not

    def refs(scope: Scope, wanted: WorkFilter) -> list[str]:
        return [i.reference for i in worklist(container, scope, wanted).items]

    assert refs(Scope(), every) == [death, birth]  # oldest first
    assert refs(COMMUNE, every) == [birth]
    assert refs(Scope(province="056"), every) == [birth]
    assert refs(Scope(), WorkFilter(DossierQuery(chain=Chain.DEATH))) == [death]
    received = frozenset({DossierStatus.RECEIVED})
    assert refs(Scope(), WorkFilter(DossierQuery(statuses=received))) == [death, birth]
    assert refs(Scope(), WorkFilter(late=True)) == []
    assert refs(Scope(), WorkFilter(late=False)) == [death, birth]
    assert refs(Scope(), WorkFilter(needs_action=True)) == []


def test_a_restarted_step_is_judged_by_its_new_clock_not_the_old_answer(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    """The bug the status page showed: a step asked for a supplement on time kept
    "on time: yes" through its next round, however late that round ran."""
    container, store = app
    reference = _receive(container, f"demo/{BIRTH}")
    request_supplement_at(container, reference, StepKind.RESIDENCE_REGISTRATION, OPERATOR)
    step = store.dossiers[reference].step(StepKind.RESIDENCE_REGISTRATION)
    assert step_timeliness(step, clock.now()) == Timeliness.NOT_JUDGED  # clock stopped
    clock.advance(timedelta(days=1))
    record_supplement(container, reference, example(f"demo/supplements/{BIRTH}"), OPERATOR)
    begin_step(container, reference, StepKind.RESIDENCE_REGISTRATION, OPERATOR)
    step = store.dossiers[reference].step(StepKind.RESIDENCE_REGISTRATION)
    assert step.on_time is None
    assert step_timeliness(step, clock.now()) == Timeliness.WITHIN
    clock.advance(timedelta(days=10))
    assert step_timeliness(step, clock.now()) == Timeliness.OVERDUE
    assert dossier_timeliness(store.dossiers[reference], clock.now()) == Timeliness.OVERDUE


def test_a_clock_stopped_after_its_due_instant_stays_late(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    clock.set(datetime.fromisoformat("2026-11-20T10:30:00+07:00"))
    on_time = _receive(container, f"demo/{BIRTH}")
    request_supplement_at(container, on_time, StepKind.RESIDENCE_REGISTRATION, OPERATOR)
    late = _receive(container, f"demo/{DEATH}")
    clock.advance(timedelta(days=30))
    request_supplement_at(container, late, StepKind.FUNERAL_ALLOWANCE, OPERATOR)
    clock.advance(timedelta(days=60))
    # Returned after its due instant: late, and stays so while the citizen supplements ...
    assert store.dossiers[late].status == DossierStatus.AWAITING_SUPPLEMENT
    assert dossier_timeliness(store.dossiers[late], clock.now()) == Timeliness.OVERDUE
    # ... one returned in time is not late, however long the citizen takes.
    assert dossier_timeliness(store.dossiers[on_time], clock.now()) == Timeliness.NOT_JUDGED


def test_finished_work_is_judged_once_at_its_due_instant(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    clock.set(datetime.fromisoformat("2026-11-20T09:30:00+07:00"))
    reference = _receive(container, "birth-valid")
    _complete(container, reference)
    clock.advance(timedelta(days=100))
    dossier = store.dossiers[reference]
    assert dossier_timeliness(dossier, clock.now()) == Timeliness.ON_TIME
    assert {step_timeliness(s, clock.now()) for s in dossier.steps} == {Timeliness.ON_TIME}


def test_finishing_after_the_due_instant_is_late(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    reference = _receive(container, "birth-valid")
    begin_step(container, reference, StepKind.BIRTH_REGISTRATION, OPERATOR)
    due = store.dossiers[reference].step(StepKind.BIRTH_REGISTRATION).due_at
    assert due is not None
    clock.set(due + timedelta(microseconds=1))
    finish_step(
        container,
        reference,
        StepKind.BIRTH_REGISTRATION,
        StepOutcome(StepStatus.SUCCEEDED, agency_reference="AG"),
        OPERATOR,
    )
    step = store.dossiers[reference].step(StepKind.BIRTH_REGISTRATION)
    assert step_timeliness(step, clock.now()) == Timeliness.LATE


def test_now_is_irrelevant_to_a_dossier_never_started(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    reference = _receive(container, "invalid/future-date")
    dossier = store.dossiers[reference]
    assert dossier.status == DossierStatus.REJECTED
    assert dossier_timeliness(dossier, clock.now() + timedelta(days=400)) == (Timeliness.NOT_JUDGED)
    assert isinstance(clock.now(), datetime)


def test_a_potential_duplicate_waits_for_a_person_and_once_closed_leaves_the_list(
    app: tuple[Container, FakeStore],
) -> None:
    container, _ = app
    _receive(container, f"demo/{BIRTH}")
    copy = receive(container, example_with(f"demo/{BIRTH}", "HT-2026-001902"), OPERATOR)
    assert copy.held_for
    assert _needs(container, copy.reference) == [Need.DUPLICATE_DECISION]

    resolve(container, copy.reference, Decision.REJECT, reason="sent twice", actor=OPERATOR)
    assert _needs(container, copy.reference, Scope()) == [], "nothing to hand back or correct"
