"""The life of a dossier and its steps: every status change the record allows, as pure rules.

A :class:`Dossier` and its :class:`Step` s are plain objects. Each operation below first
checks the rules (the transition tables of :mod:`lienthong.models.status`, the chain's step
order, a closed dossier taking no more changes, what may be withdrawn), only then applies
the change (a refused operation changes nothing), and returns the :class:`Change` s it
made, in order. The services persist the objects and turn each change into an audit event
and the notifications it calls for, in one transaction.
Nothing here reads a clock, a database or the network: ``now`` and the deadlines are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lienthong.models.chains import StepPlan
from lienthong.models.deadlines import Deadlines
from lienthong.models.duplicates import Decision, DuplicateHold, Match, describe
from lienthong.models.lateness import is_on_time
from lienthong.models.status import (
    DONE_STEP_STATUSES,
    STOPPED_STEP_STATUSES,
    TERMINAL_DOSSIER_STATUSES,
    Agency,
    Chain,
    DossierStatus,
    IllegalTransition,
    StepKind,
    StepStatus,
    check_dossier_transition,
    check_step_transition,
)

# Audit actions of the changes below.
DOSSIER_RECEIVED = "dossier_received"
DOSSIER_REJECTED = "dossier_rejected"
# A dossier rejected at intake, handed in again corrected under its reference: a new intake.
DOSSIER_RESUBMITTED = "dossier_resubmitted"
DOSSIER_STATUS_CHANGED = "dossier_status_changed"
STEP_STATUS_CHANGED = "step_status_changed"
STEP_RESUMED = "step_resumed"
STEP_VERIFICATION_NEEDED = "step_verification_needed"
# The commune gave the citizen the result, the written refusal or the rejected papers.
HANDED_BACK = "handed_back"

# Step statuses the agencies and the commune are told about (models.chains.agencies_to_notify).
NOTIFIED_STEP_STATUSES = frozenset(
    {
        StepStatus.SUCCEEDED,
        StepStatus.REFUSED,
        StepStatus.AWAITING_SUPPLEMENT,
        StepStatus.FAILED,
        StepStatus.ERROR,
        StepStatus.WITHDRAWN,
    }
)
# What the applicant can still withdraw: nothing an agency has decided or is deciding.
WITHDRAWABLE_STEPS = frozenset(
    {StepStatus.PENDING, StepStatus.FAILED, StepStatus.ERROR, StepStatus.AWAITING_SUPPLEMENT}
)

# The rejection reason's path of a dossier a person closed as a duplicate.
DUPLICATE_PATH = "duplicate"


class ConcurrentChange(Exception):
    """Another writer changed the same record first (a reference taken, a row updated): the
    transaction was rolled back and nothing of it was kept."""


class DossierNotFound(LookupError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no dossier with reference {reference!r}")
        self.reference = reference


class CannotWithdraw(ValueError):
    """The dossier is closed already, or an agency is working on one of its steps."""


class CannotHandBack(ValueError):
    """Nothing to hand back yet (the chain is still open), or it was handed back already."""


# What the one-stop shop hands back to the citizen: the results, the written refusal, or
# the papers rejected at intake to be corrected (Decree 61/2018/ND-CP art. 18, 20).
HANDED_BACK_STATUSES = frozenset(
    {DossierStatus.COMPLETED, DossierStatus.REFUSED, DossierStatus.REJECTED}
)


def idempotency_key(reference: str, kind: StepKind, round_: int = 0) -> str:
    """The key sent with every call of one step: same dossier, step and round, same key.

    A supplement changes what is sent, so it opens a new round with a new key.
    """
    return f"{reference}:{kind.value}:r{round_}"


@dataclass(eq=False)
class Step:
    """One procedure of a chain, performed by one agency."""

    kind: StepKind
    agency: Agency
    position: int
    idempotency_key: str
    updated_at: datetime
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    agency_reference: str | None = None
    result: dict[str, Any] | None = None
    reason: str | None = None
    missing_items: list[Any] | None = None
    last_error: str | None = None
    started_at: datetime | None = None
    # The agency's first start (``started_at`` is the latest, restarted by a supplement).
    first_started_at: datetime | None = None
    finished_at: datetime | None = None
    due_at: datetime | None = None
    on_time: bool | None = None
    # The asynchronous form (docs/agency-api.md): the agency's receipt, since when the step
    # waits for its decision, when the agency said it would decide, and whether it asked to
    # verify (which gives the step its longer statutory limit).
    receipt_number: str | None = None
    waiting_since: datetime | None = None
    decision_expected_at: datetime | None = None
    verification: bool = False
    # The record's identity, once stored.
    id: int | None = None


@dataclass(frozen=True)
class Change:
    """One thing an operation did, for the audit trail (and the notices it calls for)."""

    action: str
    step: Step | None = None
    before: str | None = None
    after: str | None = None
    reason: str | None = None
    details: dict[str, Any] | None = None


@dataclass(eq=False)
class Dossier:
    """One citizen's dossier and where its chain stands."""

    reference: str
    chain: Chain | None
    status: DossierStatus
    province_code: str
    commune_code: str
    received_at: datetime
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    late_filing: bool = False
    clock_started_at: datetime | None = None
    due_at: datetime | None = None
    completed_at: datetime | None = None
    on_time: bool | None = None
    # Why intake rejected it: [{"path": ..., "message": ...}].
    rejection_reasons: list[Any] | None = None
    # When the commune handed the outcome (:data:`HANDED_BACK_STATUSES`) to the citizen.
    handed_back_at: datetime | None = None
    steps: list[Step] = field(default_factory=list)
    id: int | None = None

    @classmethod
    def receive(
        cls,
        *,
        reference: str,
        chain: Chain,
        province_code: str,
        commune_code: str,
        received_at: datetime,
        late_filing: bool,
        payload: dict[str, Any],
        plan: Sequence[StepPlan],
        deadlines: Deadlines,
        now: datetime,
    ) -> tuple[Dossier, list[Change]]:
        """A valid dossier with its planned steps; its statutory clock starts at receipt."""
        dossier = cls(
            reference=reference,
            chain=chain,
            status=DossierStatus.RECEIVED,
            province_code=province_code,
            commune_code=commune_code,
            received_at=received_at,
            payload=payload,
            created_at=now,
            updated_at=now,
            late_filing=late_filing,
            clock_started_at=received_at,
            due_at=deadlines.chain_due_at(
                chain, received_at, steps=[p.kind for p in plan if not p.skip_reason]
            ),
            steps=[
                Step(
                    kind=p.kind,
                    agency=p.agency,
                    position=p.position,
                    idempotency_key=idempotency_key(reference, p.kind),
                    updated_at=now,
                )
                for p in plan
            ],
        )
        changes = [
            Change(
                DOSSIER_RECEIVED,
                after=dossier.status,
                details={"late_filing": late_filing, "steps": [p.kind.value for p in plan]},
            )
        ]
        for step, step_plan in zip(dossier.steps, plan, strict=True):
            if step_plan.skip_reason:
                changes.append(
                    dossier._change_step(step, StepStatus.SKIPPED, now, step_plan.skip_reason)
                )
        return dossier, changes

    @classmethod
    def reject(
        cls,
        *,
        reference: str,
        chain: Chain | None,
        province_code: str,
        commune_code: str,
        received_at: datetime,
        payload: dict[str, Any],
        problems: list[dict[str, str]],
        now: datetime,
    ) -> tuple[Dossier, list[Change]]:
        """An invalid dossier kept as rejected, with every reason, so nothing is lost."""
        dossier = cls(
            reference=reference,
            chain=chain,
            status=DossierStatus.REJECTED,
            province_code=province_code,
            commune_code=commune_code,
            received_at=received_at,
            payload=payload,
            created_at=now,
            updated_at=now,
            rejection_reasons=problems,
        )
        reason = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        return dossier, [Change(DOSSIER_REJECTED, after=dossier.status, reason=reason)]

    def resubmit(self, corrected: Dossier, changes: list[Change]) -> list[Change]:
        """Take ``corrected`` (a dossier just made by :meth:`receive` under this reference,
        with its ``changes``) in place of this rejected one.

        A dossier rejected at intake never entered a chain: nothing was sent, no clock ran.
        Its corrected version is a new intake under the same reference (its clock starts at
        its own reception); the rejection stays in the audit trail, as the first event.
        """
        if self.status != DossierStatus.REJECTED:
            raise IllegalTransition(
                "dossier",
                self.status,
                DossierStatus.RECEIVED,
                f"only a dossier rejected at intake is resubmitted; {self.reference} is "
                f"{self.status.value}",
            )
        if corrected.reference != self.reference or corrected.status != DossierStatus.RECEIVED:
            raise ValueError(f"not a corrected intake of {self.reference}")
        before = self.status
        for name in (
            "chain",
            "status",
            "province_code",
            "commune_code",
            "received_at",
            "payload",
            "late_filing",
            "clock_started_at",
            "due_at",
            "steps",
        ):
            setattr(self, name, getattr(corrected, name))
        self.rejection_reasons = None
        self.handed_back_at = None
        self.updated_at = corrected.updated_at
        received, *rest = changes
        return [replace(received, action=DOSSIER_RESUBMITTED, before=before), *rest]

    def reject_again(
        self, *, payload: dict[str, Any], problems: list[dict[str, str]], now: datetime
    ) -> list[Change]:
        """A resubmission of a rejected dossier that is still invalid: the latest copy and
        its reasons are kept, the dossier stays rejected (and on the worklist)."""
        if self.status != DossierStatus.REJECTED:
            raise IllegalTransition("dossier", self.status, DossierStatus.REJECTED)
        self.payload = payload
        self.rejection_reasons = problems
        self.handed_back_at = None
        self.updated_at = now
        reason = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        return [Change(DOSSIER_REJECTED, before=self.status, after=self.status, reason=reason)]

    # Reading ---------------------------------------------------------------------------

    def step(self, kind: StepKind) -> Step:
        for step in self.steps:
            if step.kind == kind:
                return step
        raise LookupError(f"dossier {self.reference} has no step {kind.value}")

    def derived_status(self) -> DossierStatus:
        """What the steps imply: a refusal ends it, a request for supplementation parks it,
        and it is completed once every step succeeded or was not applicable."""
        statuses = {step.status for step in self.steps}
        if StepStatus.REFUSED in statuses:
            return DossierStatus.REFUSED
        if StepStatus.AWAITING_SUPPLEMENT in statuses:
            return DossierStatus.AWAITING_SUPPLEMENT
        if statuses <= DONE_STEP_STATUSES:
            return DossierStatus.COMPLETED
        return DossierStatus.IN_PROGRESS

    def later_agencies(self, step: Step) -> list[Agency]:
        return [s.agency for s in self.steps if s.position > step.position]

    def available_at(self, step: Step) -> datetime | None:
        """When the dossier became available to ``step``'s agency: the completion of the step
        before it, or the start of the chain's clock (reception, or the supplement's arrival)
        for the first step. The agency's statutory time counts from then, not from when our
        call reached it: a slow hand-over is the receiving agency's delay in the report.
        """
        if self.clock_started_at is None:
            return None
        earlier = [
            s.finished_at
            for s in self.steps
            if s.position < step.position
            and s.status == StepStatus.SUCCEEDED
            and s.finished_at is not None
        ]
        return max([self.clock_started_at, *earlier])

    def earlier_results(self, step: Step) -> dict[StepKind, dict[str, Any]]:
        """What the steps before ``step`` registered (the child's ID, a registration number)."""
        return {
            s.kind: dict(s.result) for s in self.steps if s.position < step.position and s.result
        }

    # Operations ------------------------------------------------------------------------

    def start_step(self, kind: StepKind, *, deadlines: Deadlines, now: datetime) -> list[Change]:
        """Mark a step as being worked on, counting the attempt.

        A step found already in progress was interrupted (the process died mid-call): it is
        resumed, not restarted, and the agency call is repeated under the same key.
        """
        step = self.step(kind)
        self._require_open(step, StepStatus.IN_PROGRESS)
        self._require_not_held(step)
        self._require_turn(step)
        if step.status != StepStatus.IN_PROGRESS:
            check_step_transition(step.status, StepStatus.IN_PROGRESS)
        step.attempts += 1
        details = {"attempt": step.attempts}
        if step.status == StepStatus.IN_PROGRESS:
            step.updated_at = now
            changes = [Change(STEP_RESUMED, step, step.status, step.status, details=details)]
        else:
            if step.started_at is None or step.status == StepStatus.PENDING:
                # A restart after a supplement: a new clock, judged when it finishes.
                step.on_time = None
                step.started_at = now
                step.first_started_at = step.first_started_at or now
                step.due_at = deadlines.step_due_at(step.kind, self.available_at(step) or now)
            changes = [self._change_step(step, StepStatus.IN_PROGRESS, now, details=details)]
        return changes + self._set_status(DossierStatus.IN_PROGRESS, now)

    def finish_step(
        self,
        kind: StepKind,
        after: StepStatus,
        *,
        now: datetime,
        agency_reference: str | None = None,
        result: dict[str, Any] | None = None,
        reason: str | None = None,
        missing_items: list[str] | None = None,
    ) -> list[Change]:
        """Record a step's outcome and bring the dossier's status in line with its steps."""
        step = self.step(kind)
        self._require_open(step, after)
        check_step_transition(step.status, after)
        step.agency_reference = agency_reference or step.agency_reference
        step.result = result
        step.reason = reason
        step.missing_items = missing_items
        if after in STOPPED_STEP_STATUSES:
            step.last_error = reason
        else:
            step.finished_at = now
            step.on_time = step.due_at is None or is_on_time(step.due_at, now)
        details = {"agency_reference": step.agency_reference} if agency_reference else None
        changes = [self._change_step(step, after, now, reason, details)]
        if after == StepStatus.REFUSED:
            changes += self._skip_after_refusal(step, now)
        refusal = reason if after == StepStatus.REFUSED else None
        return changes + self._set_status(self.derived_status(), now, refusal)

    def note_transient_error(self, kind: StepKind, error: str, now: datetime) -> None:
        """Keep the last transient error on the step, so operators see why it is slow."""
        step = self.step(kind)
        step.last_error = error
        step.updated_at = now

    def await_decision(
        self,
        kind: StepKind,
        *,
        receipt_number: str,
        expected_at: datetime | None,
        now: datetime,
    ) -> list[Change]:
        """The agency acknowledged the request with a receipt and decides later.

        The step's statutory clock keeps running from when it was handed over: the wait is
        the agency's time, counted against its limit.
        """
        step = self.step(kind)
        self._require_open(step, StepStatus.AWAITING_DECISION)
        check_step_transition(step.status, StepStatus.AWAITING_DECISION)
        step.receipt_number = receipt_number
        step.waiting_since = now
        step.decision_expected_at = expected_at
        step.last_error = None
        details = {
            "receipt_number": receipt_number,
            "expected_decision_at": expected_at.isoformat() if expected_at else None,
        }
        return [self._change_step(step, StepStatus.AWAITING_DECISION, now, details=details)]

    def need_verification(
        self, kind: StepKind, *, reason: str | None, deadlines: Deadlines, now: datetime
    ) -> list[Change]:
        """The agency must verify before deciding: the step (and chain A) get the longer
        "with verification" limits of the law (``StatutoryLimits``, docs/deadlines.md:
        residence 5 working days instead of 2, chain A 5 instead of 3), counted from the
        same start.

        Repeats are not changes: an agency asking twice does not extend anything twice.
        """
        step = self.step(kind)
        if step.status != StepStatus.AWAITING_DECISION or step.verification:
            return []
        step.verification = True
        step.updated_at = now
        if step.started_at is not None:
            since = self.available_at(step) or step.started_at
            step.due_at = deadlines.step_due_at(kind, since, verification=True)
        if self.chain is not None and self.clock_started_at is not None:
            self.due_at = deadlines.chain_due_at(
                self.chain,
                self.clock_started_at,
                verification=True,
                steps=[s.kind for s in self.steps if s.status != StepStatus.SKIPPED],
            )
        details = {"due_at": step.due_at.isoformat() if step.due_at else None}
        return [Change(STEP_VERIFICATION_NEEDED, step, step.status, step.status, reason, details)]

    def waiting_step(self) -> Step:
        """The step awaiting the applicant's supplement (the dossier awaits one)."""
        return next(s for s in self.steps if s.status == StepStatus.AWAITING_SUPPLEMENT)

    def accept_supplement(
        self,
        kind: StepKind,
        *,
        payload: dict[str, Any],
        round_: int,
        deadlines: Deadlines,
        now: datetime,
    ) -> list[Change]:
        """The applicant supplied what was missing: the step is sent again, the clock restarts.

        The statutory limit counts from the day the dossier is complete, so both the step's
        and the chain's due times are recomputed from the supplement's arrival.
        """
        step = self.step(kind)
        self._require_open(step, StepStatus.PENDING)
        check_step_transition(step.status, StepStatus.PENDING)
        self.payload = payload
        step.idempotency_key = idempotency_key(self.reference, step.kind, round_)
        step.missing_items = None
        changes = [
            self._change_step(
                step, StepStatus.PENDING, now, "supplement received", {"round": round_}
            )
        ]
        self.clock_started_at = now
        if self.chain is not None:
            self.due_at = deadlines.chain_due_at(
                self.chain,
                now,
                steps=[s.kind for s in self.steps if s.status != StepStatus.SKIPPED],
            )
        return changes + self._set_status(DossierStatus.IN_PROGRESS, now, "supplement received")

    def withdraw(self, *, reason: str, now: datetime) -> list[Change]:
        """The applicant withdraws: every step not yet decided is withdrawn, and the dossier.

        Steps already decided keep their outcome (a registration made stays made). A step in
        progress cannot be withdrawn: its agency call may be registering right now.
        """
        if self.status in TERMINAL_DOSSIER_STATUSES:
            raise CannotWithdraw(f"dossier {self.reference} is {self.status.value} already")
        busy = [
            s.kind.value
            for s in self.steps
            if s.status in (StepStatus.IN_PROGRESS, StepStatus.AWAITING_DECISION)
        ]
        if busy:
            raise CannotWithdraw(
                f"dossier {self.reference}: {', '.join(busy)} is in progress at its agency; "
                "withdraw once it has an outcome"
            )
        changes = []
        for step in self.steps:
            if step.status in WITHDRAWABLE_STEPS:
                step.finished_at = now
                changes.append(self._change_step(step, StepStatus.WITHDRAWN, now, reason))
        return changes + self._set_status(DossierStatus.WITHDRAWN, now, reason)

    def hand_back(self, *, now: datetime) -> list[Change]:
        """The commune handed the outcome to the citizen: nothing is left for a person to do.

        Not a status change (the dossier keeps its outcome); the audit trail keeps when.
        """
        if self.status not in HANDED_BACK_STATUSES:
            raise CannotHandBack(
                f"dossier {self.reference} is {self.status.value}: nothing to hand back yet"
            )
        if self.handed_back_at is not None:
            raise CannotHandBack(
                f"dossier {self.reference} was handed back at {self.handed_back_at.isoformat()}"
            )
        self.handed_back_at = now
        return [Change(HANDED_BACK, details={"status": self.status.value})]

    def refuse_unsupplemented(
        self, kind: StepKind, *, reason: str, details: dict[str, Any], now: datetime
    ) -> list[Change]:
        """The applicant's window to supplement passed: refuse the waiting step and the dossier.

        Unlike an agency's refusal (:meth:`finish_step`), what was missing stays on the step
        so the written reason can be read with it, and ``on_time`` keeps the value it got when
        the agency asked: the agency decided then, the applicant's silence is not its delay.
        """
        step = self.step(kind)
        self._require_open(step, StepStatus.REFUSED)
        check_step_transition(step.status, StepStatus.REFUSED)
        step.reason = reason
        step.finished_at = now
        changes = [self._change_step(step, StepStatus.REFUSED, now, reason, details)]
        changes += self._skip_after_refusal(step, now)
        return changes + self._set_status(DossierStatus.REFUSED, now, reason)

    @property
    def closed_as_duplicate(self) -> bool:
        """Rejected by a person's decision on a potential duplicate (merged or rejected),
        not by intake's checks: it passed intake, and no resubmission replaces it."""
        return self.status == DossierStatus.REJECTED and any(
            reason.get("path") == DUPLICATE_PATH for reason in self.rejection_reasons or []
        )

    def hold_as_duplicate(self, matches: Sequence[Match], now: datetime) -> list[Change]:
        """Intake found dossiers on record that may be about the same person: hold this one
        for a person's decision; no step starts until then (:meth:`start_step`)."""
        details = {"matches": [{"reference": m.reference, "rule": m.rule.value} for m in matches]}
        changes = self._set_status(DossierStatus.HELD, now, describe(matches))
        return [replace(c, details=details) for c in changes]

    def resolve_duplicate(self, hold: DuplicateHold, now: datetime) -> list[Change]:
        """Apply the person's decision on ``hold`` (decided already): distinct returns the
        dossier to received, for its chain to start; a merge or a rejection closes it as
        rejected with the decision as its reason, its steps skipped (never sent)."""
        if self.status != DossierStatus.HELD or hold.decision is None:
            raise IllegalTransition(
                "dossier", self.status, DossierStatus.RECEIVED, "it is not held as a duplicate"
            )
        details = {"decision": hold.decision.value, "merged_into": hold.merged_into}
        if hold.decision == Decision.DISTINCT:
            reason = f"confirmed distinct from {', '.join(hold.references)}: {hold.reason}"
            changes = self._set_status(DossierStatus.RECEIVED, now, reason)
            return [replace(c, details=details) for c in changes]
        what = f"merged into {hold.merged_into}" if hold.merged_into else "rejected"
        reason = f"duplicate of {', '.join(hold.references)}, {what}: {hold.reason}"
        self.rejection_reasons = [{"path": DUPLICATE_PATH, "message": reason}]
        changes = [
            self._change_step(step, StepStatus.SKIPPED, now, reason)
            for step in self.steps
            if step.status == StepStatus.PENDING
        ]
        closed = self._set_status(DossierStatus.REJECTED, now, reason)
        return changes + [replace(c, details=details) for c in closed]

    # Rules -----------------------------------------------------------------------------

    def _require_not_held(self, step: Step) -> None:
        """A potential duplicate reaches no agency before a person decided on it."""
        if self.status == DossierStatus.HELD:
            raise IllegalTransition(
                "step",
                step.status,
                StepStatus.IN_PROGRESS,
                f"dossier {self.reference} is held as a potential duplicate",
            )

    def _require_open(self, step: Step, after: StepStatus) -> None:
        """A closed dossier (completed, refused, withdrawn, rejected) takes no more changes."""
        if self.status in TERMINAL_DOSSIER_STATUSES:
            raise IllegalTransition(
                "step", step.status, after, f"dossier {self.reference} is {self.status.value}"
            )

    def _require_turn(self, step: Step) -> None:
        """Steps run in their chain's order: each builds on the outcome of the one before."""
        waiting = [
            s.kind.value
            for s in self.steps
            if s.position < step.position and s.status not in DONE_STEP_STATUSES
        ]
        if waiting:
            raise IllegalTransition(
                "step",
                step.status,
                StepStatus.IN_PROGRESS,
                f"{step.kind.value} starts after {', '.join(waiting)}",
            )

    def _change_step(
        self,
        step: Step,
        after: StepStatus,
        now: datetime,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Change:
        before = step.status
        check_step_transition(before, after)
        step.status = after
        step.updated_at = now
        return Change(STEP_STATUS_CHANGED, step, before, after, reason, details)

    def _skip_after_refusal(self, refused: Step, now: datetime) -> list[Change]:
        """A refusal ends the chain: the steps that would have built on it are skipped."""
        return [
            self._change_step(later, StepStatus.SKIPPED, now, f"{refused.kind.value} was refused")
            for later in self.steps
            if later.position > refused.position and later.status == StepStatus.PENDING
        ]

    def _set_status(
        self, after: DossierStatus, now: datetime, reason: str | None = None
    ) -> list[Change]:
        before = self.status
        if before == after:
            return []
        check_dossier_transition(before, after)
        self.status = after
        self.updated_at = now
        if after == DossierStatus.COMPLETED:
            self.completed_at = now
            self.on_time = self.due_at is None or is_on_time(self.due_at, now)
        return [Change(DOSSIER_STATUS_CHANGED, None, before, after, reason)]
