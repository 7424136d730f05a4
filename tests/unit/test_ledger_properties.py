"""Stateful properties of the ledger: the pure status rules, and what a unit of work keeps.

tests/unit/test_transitions.py checks the status tables against themselves. Here a
hypothesis state machine drives the domain rules of models/lifecycle.py (receive, start,
finish, supplement, withdraw, refuse an unsupplemented step) on one dossier, each operation
in its own unit of work with services/ledger.py ``record`` turning its changes into audit
events and notices, and keeps a model of what the rules should do: the tables in
models/status.py, the chain's step order, and a closed dossier taking no more changes.

- an operation the rules forbid raises and changes nothing, neither the dossier object it
  was tried on nor the record; an allowed one commits, and the record equals the model;
- the dossier's status is what its steps imply;
- what the unit of work keeps, read back in a fresh one, is exactly the dossier the rules
  produced, with one audit event per change they reported;
- the audit chain verifies, only grows, and replaying its status events gives the record;
- the outbox holds exactly one notice per notified change (failures once a local day);
- once the dossier is completed, refused or withdrawn, no operation changes it;
- a step starts only after every step before it succeeded or was skipped.

Here the machine runs over the hand-written fake unit of work (tests/fakes.py), so it
explores many examples in a few seconds. The machine takes the record it runs on as a
parameter (:class:`Storage`): tests/integration/test_ledger_persistence.py runs it on the
SQL unit of work, on SQLite and PostgreSQL, to check that the persistence matches the rules.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from lienthong.models.audit import (
    AuditEntry,
    RecordedDossier,
    canonical_details,
    verify_chain,
)
from lienthong.models.chains import StepPlan, agencies_to_notify, birth_plan, death_plan
from lienthong.models.clock import ManualClock
from lienthong.models.deadlines import Deadlines
from lienthong.models.lifecycle import (
    NOTIFIED_STEP_STATUSES,
    CannotWithdraw,
    Change,
    Dossier,
    idempotency_key,
)
from lienthong.models.notices import Notice
from lienthong.models.status import (
    DOSSIER_TRANSITIONS,
    STEP_TRANSITIONS,
    STOPPED_STEP_STATUSES,
    TERMINAL_DOSSIER_STATUSES,
    Agency,
    Chain,
    DossierStatus,
    FuneralPayerBasis,
    IllegalTransition,
    StepKind,
    StepStatus,
)
from lienthong.services import ledger
from lienthong.services.unit_of_work import UnitOfWork
from lienthong.settings import Settings
from tests.fakes import FakeStore, FakeUnitOfWork

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
ACTOR = ledger.Actor("operator-7", flow_run_id="run-1")
DEADLINES = Deadlines.from_settings(Settings().calendar)
# What an agency answers, success most often so that chains also reach their end.
OUTCOMES = st.sampled_from(
    [
        *[StepStatus.SUCCEEDED] * 5,
        *[StepStatus.AWAITING_SUPPLEMENT] * 2,
        StepStatus.FAILED,
        StepStatus.ERROR,
        StepStatus.REFUSED,
        StepStatus.SKIPPED,
    ]
)
# Operations tried on a closed (terminal) dossier, each of which must be refused.
CLOSED_ATTEMPTS = 6
# What anything_on_any_step tries. Withdrawals are rare: most applicants never withdraw,
# and a withdrawn dossier ends the interesting part of an example.
OPERATIONS = st.sampled_from(
    [*["start", "finish"] * 3, *["supplement", "refuse_unsupplemented"] * 2, "withdraw"]
)
MISSING = ("giấy chứng sinh", "CCCD của mẹ", "giấy đăng ký kết hôn", "sổ BHXH")
# Seconds the clock moves before each operation: mostly minutes, sometimes past midnight,
# so a step that keeps failing is told about it once per local day, not once per failure.
WAITS = st.one_of(st.integers(1, 900), st.integers(3_600, 40 * 3_600))


@dataclass(frozen=True)
class Scenario:
    name: str
    example: str
    chain: Chain
    plan: tuple[StepPlan, ...]
    basis: FuneralPayerBasis | None = None


SCENARIOS = (
    Scenario("birth", "birth-valid.json", Chain.BIRTH, tuple(birth_plan())),
    Scenario(
        "death-scope4-insured",
        "death-valid-scope4.json",
        Chain.DEATH,
        tuple(death_plan(4, FuneralPayerBasis.INSURED)),
        FuneralPayerBasis.INSURED,
    ),
    # Allowance and survivor benefits are created skipped at intake.
    Scenario(
        "death-scope4-no-payer",
        "death-valid-scope4.json",
        Chain.DEATH,
        tuple(death_plan(4, FuneralPayerBasis.NONE)),
        FuneralPayerBasis.NONE,
    ),
)


# --- The record the machine runs on -----------------------------------------------------


def _copied(value: Any) -> Any:
    """A JSON value (payload, result, missing items) as its canonical text, else itself."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def snapshot(dossier: Dossier) -> dict[str, Any]:
    """Every field of ``dossier`` and of its steps, copied: equal exactly when they are."""
    fields = {name: _copied(value) for name, value in vars(dossier).items() if name != "steps"}
    fields["steps"] = [
        {name: _copied(value) for name, value in vars(step).items()} for step in dossier.steps
    ]
    return fields


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 48 else f"{text[:45]}..."


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """The fields two snapshots disagree on: ``{"steps[0].attempts": "1 -> 2", ...}``."""
    pairs = {k: (v, after[k]) for k, v in before.items() if k != "steps"}
    for position, (was, now) in enumerate(zip(before["steps"], after["steps"], strict=True)):
        pairs |= {f"steps[{position}].{k}": (v, now[k]) for k, v in was.items()}
    return {k: f"{_short(a)} -> {_short(b)}" for k, (a, b) in pairs.items() if a != b}


@dataclass
class Record:
    """What is stored: the dossier, the whole audit trail and the outbox, in order."""

    dossier: Dossier
    events: list[AuditEntry]
    notices: list[Notice]


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Storage:
    """An empty record for one example: units of work on it, and how to read it back.

    ``read`` returns what is stored about a dossier, as a fresh unit of work would read
    it (the outbox protocol has no listing, so each storage lists the notices itself);
    ``fingerprint`` is everything stored, to compare before and after a refused operation.
    """

    unit_of_work: Callable[[], UnitOfWork]
    read: Callable[[str], Record]
    fingerprint: Callable[[], object]
    close: Callable[[], None] = _nothing


def fake_storage() -> Storage:
    """A fresh :class:`FakeStore`; every unit of work on it is one fake transaction.

    It is read straight from the store (what the fake's last commit left there).
    """
    store = FakeStore()

    def read(reference: str) -> Record:
        return Record(
            store.dossiers[reference],
            list(store.audit),
            [stored.notice for stored in store.notices],
        )

    def fingerprint() -> object:
        dossiers = {reference: snapshot(d) for reference, d in store.dossiers.items()}
        others = copy.deepcopy((store.notices, store.supplements, store.leases))
        return store.commits, dossiers, list(store.audit), others

    return Storage(
        unit_of_work=lambda: FakeUnitOfWork(store),
        read=read,
        fingerprint=fingerprint,
    )


# --- The model: what the rules say each operation does ----------------------------------


class Forbidden(Exception):
    """The model's verdict that an operation must be refused, with the error expected.

    ``rule`` names the rule that refuses it: ``closed`` (the dossier takes no more
    changes), ``order`` (an earlier step is not done; ``waiting`` lists them), ``tables``
    (a status change models/status.py does not allow) or ``withdraw``.
    """

    def __init__(
        self, error: type[Exception], rule: str, why: str, waiting: tuple[int, ...] = ()
    ) -> None:
        super().__init__(why)
        self.error = error
        self.rule = rule
        self.waiting = waiting


DONE = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})
WITHDRAWABLE = frozenset(
    {StepStatus.PENDING, StepStatus.FAILED, StepStatus.ERROR, StepStatus.AWAITING_SUPPLEMENT}
)


@dataclass(frozen=True)
class State:
    """The dossier's status and its steps' statuses, by position."""

    dossier: DossierStatus
    steps: tuple[StepStatus, ...]

    def require_open(self) -> None:
        if self.dossier in TERMINAL_DOSSIER_STATUSES:
            raise Forbidden(IllegalTransition, "closed", f"the dossier is {self.dossier}")

    def step_to(self, position: int, after: StepStatus) -> State:
        before = self.steps[position]
        if after not in STEP_TRANSITIONS[before]:
            raise Forbidden(IllegalTransition, "tables", f"step {position}: {before} -> {after}")
        steps = list(self.steps)
        steps[position] = after
        return replace(self, steps=tuple(steps))

    def dossier_to(self, after: DossierStatus) -> State:
        if after != self.dossier and after not in DOSSIER_TRANSITIONS[self.dossier]:
            raise Forbidden(IllegalTransition, "tables", f"dossier: {self.dossier} -> {after}")
        return replace(self, dossier=after)

    def skip_pending_after(self, position: int) -> State:
        state = self
        for later, status in enumerate(self.steps):
            if later > position and status == StepStatus.PENDING:
                state = state.step_to(later, StepStatus.SKIPPED)
        return state


def implied_by_steps(steps: tuple[StepStatus, ...] | list[StepStatus]) -> DossierStatus:
    """What a dossier that has started and was not withdrawn must say, given its steps."""
    statuses = set(steps)
    if StepStatus.REFUSED in statuses:
        return DossierStatus.REFUSED
    if StepStatus.AWAITING_SUPPLEMENT in statuses:
        return DossierStatus.AWAITING_SUPPLEMENT
    if statuses <= DONE:
        return DossierStatus.COMPLETED
    return DossierStatus.IN_PROGRESS


def next_in_order(state: State) -> int | None:
    """The step the chain runner would start (flows/chain_runner.py): the first not done."""
    return next((i for i, s in enumerate(state.steps) if s not in DONE), None)


def expect_start(state: State, position: int) -> State:
    state.require_open()
    waiting = tuple(i for i in range(position) if state.steps[i] not in DONE)
    if waiting:
        raise Forbidden(IllegalTransition, "order", f"steps {waiting} are not done", waiting)
    if state.steps[position] != StepStatus.IN_PROGRESS:  # in progress: resumed, unchanged
        state = state.step_to(position, StepStatus.IN_PROGRESS)
    return state.dossier_to(DossierStatus.IN_PROGRESS)


def expect_finish(state: State, position: int, after: StepStatus) -> State:
    state.require_open()
    state = state.step_to(position, after)
    if after == StepStatus.REFUSED:
        state = state.skip_pending_after(position)
    return state.dossier_to(implied_by_steps(state.steps))


def expect_supplement(state: State, position: int) -> State:
    state.require_open()
    return state.step_to(position, StepStatus.PENDING).dossier_to(DossierStatus.IN_PROGRESS)


def expect_withdraw(state: State) -> State:
    if state.dossier in TERMINAL_DOSSIER_STATUSES:
        raise Forbidden(CannotWithdraw, "withdraw", f"dossier is {state.dossier} already")
    if StepStatus.IN_PROGRESS in state.steps:
        raise Forbidden(CannotWithdraw, "withdraw", "a step is in progress at its agency")
    for position, status in enumerate(state.steps):
        if status in WITHDRAWABLE:
            state = state.step_to(position, StepStatus.WITHDRAWN)
    return state.dossier_to(DossierStatus.WITHDRAWN)


def expect_refuse_unsupplemented(state: State, position: int) -> State:
    state.require_open()
    state = state.step_to(position, StepStatus.REFUSED).skip_pending_after(position)
    return state.dossier_to(DossierStatus.REFUSED)


def allowed_by_tables(refusal: IllegalTransition) -> bool:
    if str(refusal).startswith("step "):
        return StepStatus(refusal.after) in STEP_TRANSITIONS[StepStatus(refusal.before)]
    return DossierStatus(refusal.after) in DOSSIER_TRANSITIONS[DossierStatus(refusal.before)]


def verdict(expect: Callable[..., State], *args: Any) -> State | Forbidden:
    """The state the model expects after ``expect(*args)``, or why it must be refused."""
    try:
        return expect(*args)
    except Forbidden as forbidden:
        return forbidden


def _step_status(value: str | None) -> StepStatus:
    assert value is not None, "an audited step change without its status"
    return StepStatus(value)


def _dossier_status(value: str | None) -> DossierStatus:
    assert value is not None, "an audited dossier change without its status"
    return DossierStatus(value)


# --- The machine ------------------------------------------------------------------------

# One operation on the dossier loaded in ``uow``, at ``now``: the changes the rules report.
Operation = Callable[[UnitOfWork, Dossier, datetime], list[Change]]


@dataclass
class Model:
    state: State
    # Set by the first operation that commits: before it, the dossier is just received.
    started: bool = False
    withdrawn: bool = False
    attempts: list[int] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)


@dataclass
class Committed:
    """What the rules produced in the last committed unit of work, to compare with the record."""

    dossier: dict[str, Any]
    changes: list[Change]
    now: datetime
    events_before: int


class LedgerMachine(RuleBasedStateMachine):
    """One dossier of ``scenario`` on a fresh record from ``open_storage``; every rule is
    one unit of work: the domain rules, ``ledger.record``, commit (or the refusal)."""

    scenario: ClassVar[Scenario]
    open_storage: ClassVar[Callable[[], Storage]]
    # Whether a refused operation must also leave the dossier object it was tried on as it
    # was (a property of the rules; the record is checked regardless).
    check_refused_objects: ClassVar[bool]

    def __init__(self) -> None:
        super().__init__()
        self.storage = type(self).open_storage()
        raw = json.loads((EXAMPLES / self.scenario.example).read_text(encoding="utf-8"))
        if self.scenario.basis is not None:
            raw["funeral_payer_basis"] = self.scenario.basis.value
        self.raw: dict[str, Any] = raw
        self.reference: str = raw["reference"]
        self.received_at = datetime.fromisoformat(raw["received_at"])
        self.clock = ManualClock(self.received_at + timedelta(minutes=3))
        self.plan = self.scenario.plan
        self.model = Model(State(DossierStatus.RECEIVED, ()))
        self.events: list[AuditEntry] = []
        self.closed_attempts = 0
        # What the last commit produced, until the invariants compared it with the record.
        self.committed: Committed | None = None

    def teardown(self) -> None:
        self.storage.close()

    # -- helpers ------------------------------------------------------------------------

    def _read(self) -> Record:
        return self.storage.read(self.reference)

    def _with(self, status: StepStatus) -> list[int]:
        return [i for i, s in enumerate(self.model.state.steps) if s == status]

    def _next_startable(self) -> int | None:
        """The step the chain runner would start now, if the rules allow starting it.

        A step in progress is resumed only by ``anything_on_any_step``, not to waste steps.
        """
        position = next_in_order(self.model.state)
        if position is None or self.model.state.steps[position] == StepStatus.IN_PROGRESS:
            return None
        if isinstance(verdict(expect_start, self.model.state, position), Forbidden):
            return None
        return position

    def _attempt(
        self, what: str, expected: State | Forbidden, operate: Operation, wait: int
    ) -> bool:
        """Run ``operate`` in its own unit of work; check it commits or is refused as modelled.

        Any error other than the expected refusal (a duplicate notice, a concurrent
        change...) propagates and fails the test.
        """
        now = self.clock.advance(timedelta(seconds=wait))
        forbidden = isinstance(expected, Forbidden)
        before = self.storage.fingerprint() if forbidden else None
        was = self.model.state.dossier
        refused: Exception | None = None
        # The dossier object as read and as the refusal left it (only when one is expected).
        as_read: dict[str, Any] = {}
        left: dict[str, Any] = {}
        with self.storage.unit_of_work() as uow:
            dossier = uow.dossiers.get(self.reference)
            if forbidden and self.check_refused_objects:
                as_read = snapshot(dossier)
            try:
                changes = operate(uow, dossier, now)
            except (IllegalTransition, CannotWithdraw) as exc:
                refused = exc
                left = snapshot(dossier) if as_read else {}
            else:
                ledger.record(uow, dossier, changes, ACTOR, now, DEADLINES.calendar)
                uow.commit()
                self.committed = Committed(snapshot(dossier), changes, now, len(self.events))
        if isinstance(expected, Forbidden):
            assert refused is not None, f"{what} committed, but the model forbids it: {expected}"
            self._check_refusal(what, expected, refused)
            if self.check_refused_objects:
                changed = differences(as_read, left)
                assert not changed, f"refused {what} changed the dossier it was tried on: {changed}"
            assert self.storage.fingerprint() == before, f"refused {what} changed the record"
            return False
        assert refused is None, f"{what} was refused ({refused!r}), but the model allows it"
        assert was not in TERMINAL_DOSSIER_STATUSES, f"{what} changed a {was} dossier"
        self.model.state = expected
        self.model.started = True
        return True

    def _check_refusal(self, what: str, expected: Forbidden, refused: Exception) -> None:
        assert type(refused) is expected.error, (
            f"{what} refused with {refused!r}; the model expected {expected.error.__name__}"
            f" ({expected})"
        )
        if not isinstance(refused, IllegalTransition):
            return
        if expected.rule == "tables":
            assert not allowed_by_tables(refused), f"{what} refused an allowed change: {refused}"
        elif expected.rule == "order":
            waiting = [self.plan[i].kind.value for i in expected.waiting]
            assert refused.after == StepStatus.IN_PROGRESS, f"{what}: {refused}"
            assert all(kind in str(refused) for kind in waiting), (
                f"{what} refused with {refused}, not for the steps it waits for: {waiting}"
            )
        else:
            assert expected.rule == "closed", expected.rule
            assert f"is {self.model.state.dossier.value}" in str(refused), (
                f"{what} refused with {refused}, not because the dossier is closed"
            )

    # -- the operations, each one unit of work ------------------------------------------

    def _start(self, position: int, wait: int) -> None:
        kind = self.plan[position].kind

        def operate(uow: UnitOfWork, dossier: Dossier, now: datetime) -> list[Change]:
            return dossier.start_step(kind, deadlines=DEADLINES, now=now)

        expected = verdict(expect_start, self.model.state, position)
        if self._attempt(f"start step {position}", expected, operate, wait):
            self.model.attempts[position] += 1

    def _finish(self, data: st.DataObject, position: int, outcome: StepStatus, wait: int) -> None:
        kind = self.plan[position].kind
        fields: dict[str, Any] = {"reason": f"the agency answered {outcome.value}"}
        if outcome == StepStatus.SUCCEEDED:
            fields = {"agency_reference": f"AG-{position}", "result": {"number": position}}
        elif outcome == StepStatus.AWAITING_SUPPLEMENT:
            fields["missing_items"] = data.draw(
                st.lists(st.sampled_from(MISSING), min_size=1, unique=True), label="missing"
            )

        def operate(uow: UnitOfWork, dossier: Dossier, now: datetime) -> list[Change]:
            return dossier.finish_step(kind, outcome, now=now, **fields)

        expected = verdict(expect_finish, self.model.state, position, outcome)
        self._attempt(f"finish step {position} as {outcome}", expected, operate, wait)

    def _supplement(self, position: int, wait: int) -> None:
        """As services/supplements.py does: keep the supplement, its count is the round."""
        kind = self.plan[position].kind
        round_ = self.model.rounds[position] + 1

        def operate(uow: UnitOfWork, dossier: Dossier, now: datetime) -> list[Change]:
            brought: dict[str, object] = {"bổ sung": f"lần {round_}"}
            kept = uow.supplements.add(dossier, kind, now, ACTOR.id, brought)
            assert kept == round_, f"the supplement log counts {kept} rounds, not {round_}"
            return dossier.accept_supplement(
                kind,
                payload={**dossier.payload, "supplements": round_},
                round_=round_,
                deadlines=DEADLINES,
                now=now,
            )

        expected = verdict(expect_supplement, self.model.state, position)
        if self._attempt(f"supplement step {position}", expected, operate, wait):
            self.model.rounds[position] = round_

    def _withdraw(self, wait: int) -> None:
        def operate(uow: UnitOfWork, dossier: Dossier, now: datetime) -> list[Change]:
            return dossier.withdraw(reason="người nộp rút hồ sơ", now=now)

        expected = verdict(expect_withdraw, self.model.state)
        if self._attempt("withdraw", expected, operate, wait):
            self.model.withdrawn = True

    def _refuse_unsupplemented(self, position: int, wait: int) -> None:
        kind = self.plan[position].kind

        def operate(uow: UnitOfWork, dossier: Dossier, now: datetime) -> list[Change]:
            return dossier.refuse_unsupplemented(
                kind,
                reason="hết hạn bổ sung",
                details={"missing_items": dossier.step(kind).missing_items},
                now=now,
            )

        expected = verdict(expect_refuse_unsupplemented, self.model.state, position)
        self._attempt(f"refuse unsupplemented step {position}", expected, operate, wait)

    # -- rules: the chain as the runner, the applicant and the sweep drive it -----------

    @initialize()
    def receive(self) -> None:
        now = self.clock.now()
        dossier, changes = Dossier.receive(
            reference=self.reference,
            chain=self.scenario.chain,
            province_code=self.raw["jurisdiction"]["province_code"],
            commune_code=self.raw["jurisdiction"]["commune_code"],
            received_at=self.received_at,
            late_filing=False,
            payload=self.raw,
            plan=self.plan,
            deadlines=DEADLINES,
            now=now,
        )
        with self.storage.unit_of_work() as uow:
            uow.dossiers.add(dossier)
            ledger.record(uow, dossier, changes, ACTOR, now, DEADLINES.calendar)
            uow.commit()
        self.committed = Committed(snapshot(dossier), changes, now, 0)
        self.model = Model(
            State(
                DossierStatus.RECEIVED,
                tuple(
                    StepStatus.SKIPPED if p.skip_reason else StepStatus.PENDING for p in self.plan
                ),
            ),
            attempts=[0] * len(self.plan),
            rounds=[0] * len(self.plan),
        )

    @precondition(lambda self: self._next_startable() is not None)
    @rule(wait=WAITS)
    def start_next_step(self, wait: int) -> None:
        """The runner starts the first step that is not done yet (resumes: see below)."""
        position = self._next_startable()
        assert position is not None
        self._start(position, wait)

    @precondition(lambda self: bool(self._with(StepStatus.IN_PROGRESS)))
    @rule(data=st.data(), outcome=OUTCOMES, wait=WAITS)
    def agency_answers(self, data: st.DataObject, outcome: StepStatus, wait: int) -> None:
        position = data.draw(st.sampled_from(self._with(StepStatus.IN_PROGRESS)), label="step")
        self._finish(data, position, outcome, wait)

    @precondition(lambda self: bool(self._with(StepStatus.AWAITING_SUPPLEMENT)))
    @rule(data=st.data(), wait=WAITS)
    def applicant_supplements(self, data: st.DataObject, wait: int) -> None:
        awaiting = self._with(StepStatus.AWAITING_SUPPLEMENT)
        self._supplement(data.draw(st.sampled_from(awaiting), label="step"), wait)

    @precondition(lambda self: bool(self._with(StepStatus.AWAITING_SUPPLEMENT)))
    @rule(data=st.data(), wait=WAITS)
    def supplement_window_lapses(self, data: st.DataObject, wait: int) -> None:
        awaiting = self._with(StepStatus.AWAITING_SUPPLEMENT)
        self._refuse_unsupplemented(data.draw(st.sampled_from(awaiting), label="step"), wait)

    @rule(data=st.data(), operation=OPERATIONS, wait=WAITS)
    def anything_on_any_step(self, data: st.DataObject, operation: str, wait: int) -> None:
        """Any operation on any step, allowed or not, a start out of order included.

        The applicant may withdraw at any time, a step in progress is resumed after a crash.
        Once the dossier is closed, a few attempts show that nothing changes it any more;
        the rest of the example is idle, which costs nothing.
        """
        if self.model.state.dossier in TERMINAL_DOSSIER_STATUSES:
            if self.closed_attempts >= CLOSED_ATTEMPTS:
                return
            self.closed_attempts += 1
        if operation == "withdraw":
            self._withdraw(wait)
            return
        position = data.draw(st.sampled_from(range(len(self.plan))), label="step")
        if operation == "start":
            self._start(position, wait)
        elif operation == "finish":
            self._finish(data, position, data.draw(OUTCOMES, label="outcome"), wait)
        elif operation == "supplement":
            self._supplement(position, wait)
        else:
            self._refuse_unsupplemented(position, wait)

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def record_matches_the_model(self) -> None:
        # A refused operation was compared with everything stored before it: it is still the
        # record these checks passed on, so they are not repeated.
        committed, self.committed = self.committed, None
        if committed is None:
            return
        record = self._read()
        assert snapshot(record.dossier) == committed.dossier, (
            "the dossier read back differs from the one the rules produced"
        )
        self._check_statuses(record)
        self._check_audit(record, committed)
        self._check_outbox(record)

    def _check_statuses(self, record: Record) -> None:
        model = self.model
        dossier = record.dossier
        steps = tuple(s.status for s in dossier.steps)
        assert [s.kind for s in dossier.steps] == [p.kind for p in self.plan], "steps changed"
        assert steps == model.state.steps, "step statuses differ from the model"
        assert dossier.status == model.state.dossier, "dossier status differs"
        if model.withdrawn:
            implied = DossierStatus.WITHDRAWN
        elif not model.started:
            implied = DossierStatus.RECEIVED
        else:
            implied = implied_by_steps(steps)
        assert dossier.status == implied, (
            f"dossier is {dossier.status} but its steps {[str(s) for s in steps]} imply {implied}"
        )
        if model.started and not model.withdrawn:
            assert dossier.derived_status() == implied, "derived_status() disagrees"
        assert (dossier.completed_at is not None) == (dossier.status == DossierStatus.COMPLETED), (
            "completed_at is set exactly when the dossier is completed"
        )
        for position, step in enumerate(dossier.steps):
            assert step.attempts == model.attempts[position], f"{step.kind} attempts"
            assert step.idempotency_key == idempotency_key(
                self.reference, step.kind, model.rounds[position]
            ), f"{step.kind}: the key must name the supplement round"

    def _check_audit(self, record: Record, committed: Committed) -> None:
        events = record.events
        # The replay of the events gives back the dossier's and steps' statuses and agency
        # references as stored: what `lienthong audit verify` compares with every row.
        verified = verify_chain(events, recorded=[RecordedDossier.of(record.dossier)])
        assert verified.intact, f"audit chain broken: {verified.first_break}"
        assert not verified.mismatches, f"the replay differs: {verified.mismatches}"
        assert verified.checked == len(events), "verify_chain skipped events"
        assert events[: len(self.events)] == self.events, "the audit trail was rewritten"
        # One event per change the rules reported, in order, at the operation's time.
        new = events[committed.events_before :]
        assert len(new) == len(committed.changes), (
            f"{len(committed.changes)} changes left {len(new)} audit events"
        )
        for added, change in zip(new, committed.changes, strict=True):
            stored = added.record
            assert (stored.action, stored.status_before, stored.status_after) == (
                change.action,
                change.before,
                change.after,
            ), f"audited {stored} for {change}"
            assert stored.step_kind == (change.step.kind.value if change.step else None)
            assert stored.reason == change.reason
            assert stored.details == canonical_details(change.details)
            assert stored.occurred_at == committed.now
            assert (stored.actor, stored.flow_run_id) == (ACTOR.id, ACTOR.flow_run_id)
        self.events = events

        first, *rest = events
        assert (first.record.action, first.record.status_after) == ("dossier_received", "received")
        dossier = _dossier_status(first.record.status_after)
        steps = {p.kind.value: StepStatus.PENDING for p in self.plan}
        previous = first.record
        for entry in rest:
            event = entry.record
            assert event.dossier_reference == self.reference
            assert event.occurred_at >= previous.occurred_at, "audit events out of time order"
            previous = event
            if event.action == "step_status_changed":
                assert event.step_kind is not None
                before = _step_status(event.status_before)
                after = _step_status(event.status_after)
                assert after in STEP_TRANSITIONS[before], f"audited step {before} -> {after}"
                assert steps[event.step_kind] == before, "audit trail skips a step status"
                steps[event.step_kind] = after
            elif event.action == "dossier_status_changed":
                before_d = _dossier_status(event.status_before)
                after_d = _dossier_status(event.status_after)
                assert after_d in DOSSIER_TRANSITIONS[before_d], f"audited {before_d} -> {after_d}"
                assert dossier == before_d, "audit trail skips a dossier status"
                dossier = after_d
            else:
                assert event.action == "step_resumed", event.action
                assert event.status_before == event.status_after == StepStatus.IN_PROGRESS
        # Replaying the trail gives the record: nothing changed without its event.
        assert dossier == record.dossier.status, "the dossier changed without its audit event"
        assert steps == {s.kind.value: s.status for s in record.dossier.steps}, (
            "a step changed without its audit event"
        )

    def _check_outbox(self, record: Record) -> None:
        keys = [n.dedupe_key for n in record.notices]
        assert len(keys) == len(set(keys)), "a notice was queued twice"
        by_kind = {s.kind.value: s for s in record.dossier.steps}
        expected: dict[str, tuple[Agency, StepKind, StepStatus]] = {}
        for entry in record.events:
            event = entry.record
            if event.action != "step_status_changed" or event.step_kind is None:
                continue
            status = _step_status(event.status_after)
            if status not in NOTIFIED_STEP_STATUSES:
                continue
            step = by_kind[event.step_kind]
            later = [s.agency for s in record.dossier.steps if s.position > step.position]
            day = event.occurred_at.astimezone(HCM).date().isoformat()
            for agency in agencies_to_notify(step.agency, later, status):
                if status in STOPPED_STEP_STATUSES:
                    key = f"{status.value}:{step.id}:{agency.value}:{day}"
                    # Told once a local day: the first failure of the day is the one told.
                    expected.setdefault(key, (agency, step.kind, status))
                else:
                    expected[f"audit:{entry.id}:{agency.value}"] = (agency, step.kind, status)
        assert set(keys) == set(expected), "the outbox differs from the notified changes"
        for notice in record.notices:
            agency, kind, status = expected[notice.dedupe_key]
            assert notice.dossier_reference == self.reference
            assert (notice.agency, notice.step_kind, notice.event_type) == (
                agency,
                kind,
                f"step.{status}",
            ), f"notice {notice.dedupe_key} tells {notice.agency} {notice.event_type}"
            assert (notice.payload["status"], notice.payload["step"]) == (status, kind), (
                f"notice {notice.dedupe_key} carries {notice.payload}"
            )


def machine_for(
    scenario: Scenario, open_storage: Callable[[], Storage], *, check_refused_objects: bool = True
) -> type[LedgerMachine]:
    """The machine for ``scenario``, each example on its own record from ``open_storage``."""
    attributes = {
        "scenario": scenario,
        "open_storage": staticmethod(open_storage),
        "check_refused_objects": check_refused_objects,
    }
    return type(f"LedgerMachine_{scenario.name.replace('-', '_')}", (LedgerMachine,), attributes)


# Each run still ends dossiers in every terminal status.
MACHINE_SETTINGS = settings(max_examples=30, stateful_step_count=40, deadline=None)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_the_ledger_follows_the_status_rules(scenario: Scenario) -> None:
    run_state_machine_as_test(machine_for(scenario, fake_storage), settings=MACHINE_SETTINGS)


# --- The rules enforce the order of steps and close finished dossiers -------------------
#
# The chain runner starts steps strictly in order (flows/chain_runner.py); the rules refuse
# anything else, so the record cannot contradict itself.

T0 = datetime.fromisoformat("2026-11-20T09:30:00+07:00")


class BirthDossier:
    """One birth dossier on its own record; each operation is one unit of work."""

    reference = "HT-2026-000123"

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.clock = ManualClock(T0)
        dossier, changes = Dossier.receive(
            reference=self.reference,
            chain=Chain.BIRTH,
            province_code="056",
            commune_code="22738",
            received_at=T0,
            late_filing=False,
            payload={},
            plan=birth_plan(),
            deadlines=DEADLINES,
            now=T0,
        )
        with storage.unit_of_work() as uow:
            uow.dossiers.add(dossier)
            ledger.record(uow, dossier, changes, ACTOR, T0, DEADLINES.calendar)
            uow.commit()

    def _commit(self, change: Callable[[Dossier, datetime], list[Change]]) -> bool:
        """Apply ``change`` in one unit of work: True if committed, False if refused."""
        now = self.clock.advance(timedelta(minutes=5))
        with self.storage.unit_of_work() as uow:
            dossier = uow.dossiers.get(self.reference)
            try:
                changes = change(dossier, now)
            except IllegalTransition:
                return False
            ledger.record(uow, dossier, changes, ACTOR, now, DEADLINES.calendar)
            uow.commit()
            return True

    def start(self, position: int) -> bool:
        return self._commit(
            lambda dossier, now: dossier.start_step(
                dossier.steps[position].kind, deadlines=DEADLINES, now=now
            )
        )

    def finish(self, position: int, outcome: StepStatus, **fields: Any) -> bool:
        return self._commit(
            lambda dossier, now: dossier.finish_step(
                dossier.steps[position].kind, outcome, now=now, **fields
            )
        )

    def statuses(self) -> tuple[DossierStatus, list[StepStatus]]:
        with self.storage.unit_of_work() as uow:
            dossier = uow.dossiers.get(self.reference)
            return dossier.status, [s.status for s in dossier.steps]

    def audit_events(self) -> int:
        with self.storage.unit_of_work() as uow:
            return len(list(uow.audit.entries(self.reference)))


@pytest.fixture
def birth_dossier() -> Iterator[BirthDossier]:
    storage = fake_storage()
    yield BirthDossier(storage)
    storage.close()


def test_a_later_step_cannot_start_while_an_earlier_one_awaits_a_supplement(
    birth_dossier: BirthDossier,
) -> None:
    assert birth_dossier.start(0)
    assert birth_dossier.finish(0, StepStatus.AWAITING_SUPPLEMENT, missing_items=["CCCD"])
    events = birth_dossier.audit_events()

    assert not birth_dossier.start(1), "steps run in their chain's order"

    status, steps = birth_dossier.statuses()
    assert steps == [StepStatus.AWAITING_SUPPLEMENT, StepStatus.PENDING, StepStatus.PENDING]
    assert status == implied_by_steps(steps) == DossierStatus.AWAITING_SUPPLEMENT
    assert birth_dossier.audit_events() == events, "a refused start left an audit event"


def test_a_closed_dossier_takes_no_more_step_changes(birth_dossier: BirthDossier) -> None:
    assert birth_dossier.start(0)
    assert not birth_dossier.start(1), "steps run in their chain's order"
    assert birth_dossier.finish(0, StepStatus.REFUSED, reason="không đủ điều kiện")
    assert birth_dossier.statuses() == (
        DossierStatus.REFUSED,
        [StepStatus.REFUSED, StepStatus.SKIPPED, StepStatus.SKIPPED],
    )
    events = birth_dossier.audit_events()

    assert not birth_dossier.finish(0, StepStatus.SUCCEEDED, agency_reference="KS-1")
    assert not birth_dossier.start(1)
    assert birth_dossier.statuses() == (
        DossierStatus.REFUSED,
        [StepStatus.REFUSED, StepStatus.SKIPPED, StepStatus.SKIPPED],
    )
    assert birth_dossier.audit_events() == events, "a closed dossier was changed"
