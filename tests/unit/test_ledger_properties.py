"""Stateful properties of the ledger: the real status-changing code on a real SQLite record.

tests/unit/test_transitions.py checks the status tables against themselves. Here a
hypothesis state machine drives lienthong/ledger.py (start, finish, supplement, withdraw,
refuse an unsupplemented step) on one dossier, each operation in its own unit of work, and
keeps a model of what the tables in models/status.py say should happen:

- an operation the tables (or ``withdraw_dossier``'s own rule) forbid raises and leaves the
  record exactly as it was; an allowed one commits, and the record equals the model;
- the dossier's status is what its steps imply;
- the audit chain verifies, only grows, and replaying its status events gives the record;
- the outbox holds exactly one notice per notified change (failures once a local day);
- once the dossier is completed, refused or withdrawn, no operation changes it.

Steps are started in the chain runner's order; that the ledger refuses any other order,
and any change to a closed dossier, is pinned down by the tests at the end.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
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
from sqlalchemy import Row, select, text
from sqlalchemy.orm import Session

from lienthong import ledger
from lienthong.audit import verify_chain
from lienthong.bootstrap import Container, build_container
from lienthong.clock import ManualClock
from lienthong.ledger import CannotWithdraw
from lienthong.settings import Settings
from migrations import upgrade_database
from models.chains import StepPlan, agencies_to_notify, birth_plan, death_plan
from models.status import (
    DOSSIER_TRANSITIONS,
    STEP_TRANSITIONS,
    STOPPED_STEP_STATUSES,
    TERMINAL_DOSSIER_STATUSES,
    Chain,
    DossierStatus,
    FuneralPayerBasis,
    IllegalTransition,
    StepStatus,
)
from models.tables import AuditEvent, Dossier, Notification, Step

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
ACTOR = ledger.Actor("operator-7", flow_run_id="run-1")
# Tables copied whole before an operation that must be refused, and compared after it.
RECORD_TABLES = ("dossiers", "steps", "audit_events", "notifications")
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
NOTIFIED = ledger.NOTIFIED_STEP_STATUSES
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


# --- The model: what the status tables say each operation does ------------------------


class Forbidden(Exception):
    """The model's verdict that an operation must be refused, with the error expected."""

    def __init__(self, error: type[Exception], why: str) -> None:
        super().__init__(why)
        self.error = error


@dataclass(frozen=True)
class State:
    """The dossier's status and its steps' statuses, by position."""

    dossier: DossierStatus
    steps: tuple[StepStatus, ...]

    def step_to(self, position: int, after: StepStatus) -> State:
        before = self.steps[position]
        if after not in STEP_TRANSITIONS[before]:
            raise Forbidden(IllegalTransition, f"step {position}: {before} -> {after}")
        steps = list(self.steps)
        steps[position] = after
        return replace(self, steps=tuple(steps))

    def dossier_to(self, after: DossierStatus) -> State:
        if after != self.dossier and after not in DOSSIER_TRANSITIONS[self.dossier]:
            raise Forbidden(IllegalTransition, f"dossier: {self.dossier} -> {after}")
        return replace(self, dossier=after)

    def skip_pending_after(self, position: int) -> State:
        state = self
        for later, status in enumerate(self.steps):
            if later > position and status == StepStatus.PENDING:
                state = state.step_to(later, StepStatus.SKIPPED)
        return state


def implied_by_steps(steps: Sequence[StepStatus]) -> DossierStatus:
    """What a dossier that has started and was not withdrawn must say, given its steps."""
    statuses = set(steps)
    if StepStatus.REFUSED in statuses:
        return DossierStatus.REFUSED
    if StepStatus.AWAITING_SUPPLEMENT in statuses:
        return DossierStatus.AWAITING_SUPPLEMENT
    if statuses <= {StepStatus.SUCCEEDED, StepStatus.SKIPPED}:
        return DossierStatus.COMPLETED
    return DossierStatus.IN_PROGRESS


DONE = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})


def next_in_order(state: State) -> int | None:
    """The step the chain runner would start (flows/chain_runner.py): the first not done."""
    return next((i for i, s in enumerate(state.steps) if s not in DONE), None)


def expect_start(state: State, position: int) -> State:
    if state.steps[position] != StepStatus.IN_PROGRESS:  # in progress: resumed, unchanged
        state = state.step_to(position, StepStatus.IN_PROGRESS)
    return state.dossier_to(DossierStatus.IN_PROGRESS)


def expect_finish(state: State, position: int, after: StepStatus) -> State:
    state = state.step_to(position, after)
    if after == StepStatus.REFUSED:
        state = state.skip_pending_after(position)
    return state.dossier_to(implied_by_steps(state.steps))


def expect_supplement(state: State, position: int) -> State:
    return state.step_to(position, StepStatus.PENDING).dossier_to(DossierStatus.IN_PROGRESS)


WITHDRAWABLE = frozenset(
    {StepStatus.PENDING, StepStatus.FAILED, StepStatus.ERROR, StepStatus.AWAITING_SUPPLEMENT}
)


def expect_withdraw(state: State) -> State:
    if state.dossier in TERMINAL_DOSSIER_STATUSES:
        raise Forbidden(CannotWithdraw, f"dossier is {state.dossier} already")
    if StepStatus.IN_PROGRESS in state.steps:
        raise Forbidden(CannotWithdraw, "a step is in progress at its agency")
    for position, status in enumerate(state.steps):
        if status in WITHDRAWABLE:
            state = state.step_to(position, StepStatus.WITHDRAWN)
    return state.dossier_to(DossierStatus.WITHDRAWN)


def expect_refuse_unsupplemented(state: State, position: int) -> State:
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


@dataclass
class Record:
    """What the invariants read back from the database."""

    dossier: Dossier
    steps: list[Step]
    events: list[AuditEvent]
    notifications: list[Notification]


@dataclass
class Model:
    state: State
    # Set by the first operation that commits: before it, the dossier is just received.
    started: bool = False
    withdrawn: bool = False
    attempts: list[int] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)


class LedgerMachine(RuleBasedStateMachine):
    """One dossier of ``scenario``; every rule is one unit of work through the ledger."""

    scenario: ClassVar[Scenario]
    template: ClassVar[Path]

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="ledger-props-"))
        database = self.directory / "lienthong.db"
        shutil.copyfile(self.template, database)
        raw = json.loads((EXAMPLES / self.scenario.example).read_text(encoding="utf-8"))
        if self.scenario.basis is not None:
            raw["funeral_payer_basis"] = self.scenario.basis.value
        self.raw: dict[str, Any] = raw
        self.reference: str = raw["reference"]
        self.received_at = datetime.fromisoformat(raw["received_at"])
        self.clock = ManualClock(self.received_at + timedelta(minutes=3))
        self.container: Container = build_container(
            Settings(database_url=f"sqlite:///{database}", data_dir=self.directory / "data"),
            clock=self.clock,
        )
        self.plan = self.scenario.plan
        self.model = Model(State(DossierStatus.RECEIVED, ()))
        self.audit_count = 0
        self.closed_attempts = 0
        # Whether the record changed since the invariants last read it.
        self.changed = True

    def teardown(self) -> None:
        self.container.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------

    def _snapshot(self) -> dict[str, list[Row[Any]]]:
        with self.container.session_factory() as session:
            return {
                table: list(session.execute(text(f"SELECT * FROM {table} ORDER BY id")))
                for table in RECORD_TABLES
            }

    def _read(self, session: Session) -> Record:
        dossier = session.scalars(select(Dossier).where(Dossier.reference == self.reference)).one()
        return Record(
            dossier=dossier,
            steps=sorted(dossier.steps, key=lambda s: s.position),
            events=list(session.scalars(select(AuditEvent).order_by(AuditEvent.id))),
            notifications=list(session.scalars(select(Notification).order_by(Notification.id))),
        )

    def _with(self, status: StepStatus) -> list[int]:
        return [i for i, s in enumerate(self.model.state.steps) if s == status]

    def _next_startable(self) -> int | None:
        """The step the chain runner would start now, if the tables allow starting it.

        A step in progress is resumed only by ``anything_on_any_step``, not to waste steps.
        """
        position = next_in_order(self.model.state)
        if position is None or self.model.state.steps[position] == StepStatus.IN_PROGRESS:
            return None
        if isinstance(verdict(expect_start, self.model.state, position), Forbidden):
            return None
        return position

    def _attempt(
        self,
        what: str,
        expected: State | Forbidden,
        change: Callable[[Session, Dossier], None],
        wait: int,
    ) -> bool:
        """Run ``change`` in its own unit of work; check it commits or is refused as modelled.

        Any error other than the expected refusal (an IntegrityError on the outbox's
        dedupe key, a StaleDataError...) propagates and fails the test.
        """
        self.clock.advance(timedelta(seconds=wait))
        before = self._snapshot() if isinstance(expected, Forbidden) else None
        was = self.model.state.dossier
        refused: Exception | None = None
        with self.container.unit_of_work() as uow:
            dossier = uow.dossiers.get(self.reference)
            try:
                change(uow.session, dossier)
            except (IllegalTransition, CannotWithdraw) as exc:
                refused = exc
            else:
                uow.commit()
        if isinstance(expected, Forbidden):
            assert refused is not None, f"{what} committed, but the model forbids it: {expected}"
            assert type(refused) is expected.error, (
                f"{what} refused with {refused!r}; the model expected {expected.error.__name__}"
                f" ({expected})"
            )
            if isinstance(refused, IllegalTransition):
                assert not allowed_by_tables(refused), f"{what} refused an allowed change"
            assert self._snapshot() == before, f"refused {what} changed the record"
            return False
        assert refused is None, f"{what} was refused ({refused!r}), but the model allows it"
        assert was not in TERMINAL_DOSSIER_STATUSES, f"{what} changed a {was} dossier"
        self.model.state = expected
        self.model.started = True
        self.changed = True
        return True

    # -- the operations, each one unit of work ------------------------------------------

    def _start(self, position: int, wait: int) -> None:
        def change(session: Session, dossier: Dossier) -> None:
            ledger.start_step(
                session,
                dossier,
                dossier.steps[position],
                deadlines=self.container.deadlines,
                actor=ACTOR,
                now=self.clock.now(),
            )

        expected = verdict(expect_start, self.model.state, position)
        if self._attempt(f"start step {position}", expected, change, wait):
            self.model.attempts[position] += 1

    def _finish(self, data: st.DataObject, position: int, outcome: StepStatus, wait: int) -> None:
        fields: dict[str, Any] = {"reason": f"the agency answered {outcome.value}"}
        if outcome == StepStatus.SUCCEEDED:
            fields = {"agency_reference": f"AG-{position}", "result": {"number": position}}
        elif outcome == StepStatus.AWAITING_SUPPLEMENT:
            fields["missing_items"] = data.draw(
                st.lists(st.sampled_from(MISSING), min_size=1, unique=True), label="missing"
            )

        def change(session: Session, dossier: Dossier) -> None:
            ledger.finish_step(
                session,
                dossier,
                dossier.steps[position],
                outcome,
                actor=ACTOR,
                now=self.clock.now(),
                **fields,
            )

        expected = verdict(expect_finish, self.model.state, position, outcome)
        self._attempt(f"finish step {position} as {outcome}", expected, change, wait)

    def _supplement(self, position: int, wait: int) -> None:
        round_ = self.model.rounds[position] + 1

        def change(session: Session, dossier: Dossier) -> None:
            ledger.accept_supplement(
                session,
                dossier,
                dossier.steps[position],
                round_=round_,
                deadlines=self.container.deadlines,
                actor=ACTOR,
                now=self.clock.now(),
            )

        expected = verdict(expect_supplement, self.model.state, position)
        if self._attempt(f"supplement step {position}", expected, change, wait):
            self.model.rounds[position] = round_

    def _withdraw(self, wait: int) -> None:
        def change(session: Session, dossier: Dossier) -> None:
            ledger.withdraw_dossier(
                session, dossier, reason="người nộp rút hồ sơ", actor=ACTOR, now=self.clock.now()
            )

        expected = verdict(expect_withdraw, self.model.state)
        if self._attempt("withdraw", expected, change, wait):
            self.model.withdrawn = True

    def _refuse_unsupplemented(self, position: int, wait: int) -> None:
        def change(session: Session, dossier: Dossier) -> None:
            step = dossier.steps[position]
            ledger.refuse_unsupplemented(
                session,
                dossier,
                step,
                reason="hết hạn bổ sung",
                details={"missing_items": step.missing_items},
                actor=ACTOR,
                now=self.clock.now(),
            )

        expected = verdict(expect_refuse_unsupplemented, self.model.state, position)
        self._attempt(f"refuse unsupplemented step {position}", expected, change, wait)

    # -- rules: the chain as the runner, the applicant and the sweep drive it -----------

    @initialize()
    def receive(self) -> None:
        now = self.clock.now()
        with self.container.unit_of_work() as uow:
            ledger.receive_dossier(
                uow.session,
                reference=self.reference,
                chain=self.scenario.chain,
                province_code=self.raw["jurisdiction"]["province_code"],
                commune_code=self.raw["jurisdiction"]["commune_code"],
                received_at=self.received_at,
                late_filing=False,
                payload=self.raw,
                plan=self.plan,
                deadlines=self.container.deadlines,
                actor=ACTOR,
                now=now,
            )
            uow.commit()
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
        """Any operation on any step, allowed or not (a start only in the runner's order).

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
            legal = not isinstance(verdict(expect_start, self.model.state, position), Forbidden)
            if legal and position != next_in_order(self.model.state):
                return  # out of order: see the known gaps at the end of this file
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
        # A refused operation was compared with a snapshot of the whole record: it is still
        # the record these checks passed on, so they are not repeated.
        if not self.changed:
            return
        self.changed = False
        with self.container.session_factory() as session:
            record = self._read(session)
            self._check_statuses(record)
            self._check_audit(session, record)
            self._check_outbox(record)

    def _check_statuses(self, record: Record) -> None:
        model = self.model
        steps = tuple(s.status for s in record.steps)
        assert [s.kind for s in record.steps] == [p.kind for p in self.plan], "steps changed"
        assert steps == model.state.steps, "step statuses differ from the model"
        assert record.dossier.status == model.state.dossier, "dossier status differs"
        if model.withdrawn:
            implied = DossierStatus.WITHDRAWN
        elif not model.started:
            implied = DossierStatus.RECEIVED
        else:
            implied = implied_by_steps(steps)
        assert record.dossier.status == implied, (
            f"dossier is {record.dossier.status} but its steps {[str(s) for s in steps]} "
            f"imply {implied}"
        )
        assert (record.dossier.completed_at is not None) == (
            record.dossier.status == DossierStatus.COMPLETED
        ), "completed_at is set exactly when the dossier is completed"
        for position, step in enumerate(record.steps):
            assert step.attempts == model.attempts[position], f"{step.kind} attempts"
            assert step.idempotency_key == ledger.idempotency_key(
                self.reference, step.kind, model.rounds[position]
            ), f"{step.kind}: the key must name the supplement round"

    def _check_audit(self, session: Session, record: Record) -> None:
        verified = verify_chain(session)
        assert verified.intact, f"audit chain broken: {verified.first_break}"
        assert verified.checked == len(record.events), "verify_chain skipped events"
        # Only a committed operation gets here, and each one tells the trail what it did.
        assert len(record.events) > self.audit_count, "a committed change left no audit event"
        self.audit_count = len(record.events)

        first, *rest = record.events
        assert (first.action, first.status_after) == ("dossier_received", "received")
        dossier = _dossier_status(first.status_after)
        steps = {p.kind.value: StepStatus.PENDING for p in self.plan}
        previous = first
        for event in rest:
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
        assert steps == {s.kind.value: s.status for s in record.steps}, (
            "a step changed without its audit event"
        )

    def _check_outbox(self, record: Record) -> None:
        keys = [n.dedupe_key for n in record.notifications]
        assert len(keys) == len(set(keys)), "a notice was queued twice"
        by_kind = {s.kind.value: s for s in record.steps}
        expected: set[str] = set()
        for event in record.events:
            if event.action != "step_status_changed" or event.step_kind is None:
                continue
            status = _step_status(event.status_after)
            if status not in NOTIFIED:
                continue
            step = by_kind[event.step_kind]
            later = [s.agency for s in record.steps if s.position > step.position]
            day = event.occurred_at.astimezone(HCM).date().isoformat()
            for agency in agencies_to_notify(step.agency, later, status):
                if status in STOPPED_STEP_STATUSES:
                    expected.add(f"{status.value}:{step.id}:{agency.value}:{day}")
                else:
                    expected.add(f"audit:{event.id}:{agency.value}")
        assert set(keys) == expected, "the outbox differs from the notified changes"
        assert all(n.dossier_reference == self.reference for n in record.notifications)


# About four seconds per scenario; each run still ends dossiers in every terminal status.
MACHINE_SETTINGS = settings(max_examples=30, stateful_step_count=40, deadline=None)


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each example runs on its own copy."""
    path = tmp_path_factory.mktemp("ledger-template") / "lienthong.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_the_ledger_follows_the_status_rules(scenario: Scenario, migrated_template: Path) -> None:
    machine = type(
        f"LedgerMachine_{scenario.name.replace('-', '_')}",
        (LedgerMachine,),
        {"scenario": scenario, "template": migrated_template},
    )
    run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)


# --- The ledger enforces the order of steps and closes finished dossiers ----------------
#
# The chain runner starts steps strictly in order (flows/chain_runner.py), and so does the
# machine above; the ledger refuses anything else, so the record cannot contradict itself.

T0 = datetime.fromisoformat("2026-11-20T09:30:00+07:00")


class BirthDossier:
    """One birth dossier, on its own copy of the migrated template."""

    reference = "HT-2026-000123"

    def __init__(self, template: Path, directory: Path) -> None:
        database = directory / "lienthong.db"
        shutil.copyfile(template, database)
        self.clock = ManualClock(T0)
        self.container = build_container(
            Settings(database_url=f"sqlite:///{database}", data_dir=directory / "data"),
            clock=self.clock,
        )
        with self.container.unit_of_work() as uow:
            ledger.receive_dossier(
                uow.session,
                reference=self.reference,
                chain=Chain.BIRTH,
                province_code="058",
                commune_code="22736",
                received_at=T0,
                late_filing=False,
                payload={},
                plan=birth_plan(),
                deadlines=self.container.deadlines,
                actor=ACTOR,
                now=T0,
            )
            uow.commit()

    def _commit(self, change: Callable[[Session, Dossier, datetime], None]) -> bool:
        """Apply ``change`` in one unit of work: True if committed, False if refused."""
        now = self.clock.advance(timedelta(minutes=5))
        with self.container.unit_of_work() as uow:
            try:
                change(uow.session, uow.dossiers.get(self.reference), now)
            except IllegalTransition:
                return False
            uow.commit()
            return True

    def start(self, position: int) -> bool:
        return self._commit(
            lambda session, dossier, now: ledger.start_step(
                session,
                dossier,
                dossier.steps[position],
                deadlines=self.container.deadlines,
                actor=ACTOR,
                now=now,
            )
        )

    def finish(self, position: int, outcome: StepStatus, **fields: Any) -> bool:
        return self._commit(
            lambda session, dossier, now: ledger.finish_step(
                session, dossier, dossier.steps[position], outcome, actor=ACTOR, now=now, **fields
            )
        )

    def statuses(self) -> tuple[DossierStatus, list[StepStatus]]:
        with self.container.unit_of_work() as uow:
            dossier = uow.dossiers.get(self.reference)
            return dossier.status, [s.status for s in dossier.steps]


@pytest.fixture
def birth_dossier(migrated_template: Path, tmp_path: Path) -> Iterator[BirthDossier]:
    dossier = BirthDossier(migrated_template, tmp_path)
    yield dossier
    dossier.container.close()


def test_a_later_step_cannot_start_while_an_earlier_one_awaits_a_supplement(
    birth_dossier: BirthDossier,
) -> None:
    assert birth_dossier.start(0)
    assert birth_dossier.finish(0, StepStatus.AWAITING_SUPPLEMENT, missing_items=["CCCD"])

    assert not birth_dossier.start(1), "steps run in their chain's order"

    status, steps = birth_dossier.statuses()
    assert steps == [StepStatus.AWAITING_SUPPLEMENT, StepStatus.PENDING, StepStatus.PENDING]
    assert status == implied_by_steps(steps) == DossierStatus.AWAITING_SUPPLEMENT


def test_a_closed_dossier_takes_no_more_step_changes(birth_dossier: BirthDossier) -> None:
    assert birth_dossier.start(0)
    assert not birth_dossier.start(1), "steps run in their chain's order"
    assert birth_dossier.finish(0, StepStatus.REFUSED, reason="không đủ điều kiện")
    assert birth_dossier.statuses() == (
        DossierStatus.REFUSED,
        [StepStatus.REFUSED, StepStatus.SKIPPED, StepStatus.SKIPPED],
    )

    assert not birth_dossier.finish(0, StepStatus.SUCCEEDED, agency_reference="KS-1")
    assert not birth_dossier.start(1)
