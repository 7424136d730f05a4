"""What needs a person at the commune's one-stop shop: the worklist rule.

A dossier is on the worklist while something about it waits for the operator or the
citizen at the counter (:class:`Need`):

- ``supplement_due``: an agency asked for missing items; the citizen has until the end of
  the supplementation window (7 working days from the request by default,
  ``Deadlines.supplement_deadline``; docs/deadlines.md) or the dossier is refused;
- ``awaiting_consent``: the same, where the household head has not consented to the child's
  residence registration (``residence.household_head_consent`` false): the citizen must
  bring the written consent;
- ``hand_back_result`` / ``hand_back_refusal`` / ``correct_and_resubmit``: the chain
  completed, was refused, or the dossier was rejected at intake, and the commune has not
  yet handed the outcome (the results, the written refusal, the papers to correct) back to
  the citizen (:meth:`Dossier.hand_back`);
- ``step_stopped``: a step failed (the agency unreachable through every retry: the sweep
  resumes it) or stopped with an error (a person must look, then ``lienthong run``);
- ``decision_overdue``: an agency's decision is past its due instant (the one lateness rule,
  models/lateness.py);
- ``duplicate_decision``: intake held the dossier as a potential duplicate of one on record
  (models/duplicates.py): a person decides, before any agency is called. A dossier closed
  as a duplicate has nothing to hand back or correct.

Nothing here reads a clock or a database: ``now`` and the deadlines are given. An item
carries references, codes and dates only, no personal data.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from lienthong.models.deadlines import Deadlines
from lienthong.models.lateness import Timeliness, dossier_timeliness, is_late, step_timeliness
from lienthong.models.lifecycle import Dossier, Step
from lienthong.models.status import (
    STOPPED_STEP_STATUSES,
    TERMINAL_DOSSIER_STATUSES,
    Chain,
    DossierStatus,
    StepKind,
    StepStatus,
)


class Need(StrEnum):
    SUPPLEMENT_DUE = "supplement_due"
    AWAITING_CONSENT = "awaiting_consent"
    HAND_BACK_RESULT = "hand_back_result"
    HAND_BACK_REFUSAL = "hand_back_refusal"
    CORRECT_AND_RESUBMIT = "correct_and_resubmit"
    STEP_STOPPED = "step_stopped"
    DECISION_OVERDUE = "decision_overdue"
    DUPLICATE_DECISION = "duplicate_decision"


_HAND_BACK: dict[DossierStatus, Need] = {
    DossierStatus.COMPLETED: Need.HAND_BACK_RESULT,
    DossierStatus.REFUSED: Need.HAND_BACK_REFUSAL,
    DossierStatus.REJECTED: Need.CORRECT_AND_RESUBMIT,
}


@dataclass(frozen=True)
class Task:
    """One thing a person must do about a dossier; ``due_at``: by when, if the law says."""

    need: Need
    step: StepKind | None = None
    step_status: StepStatus | None = None
    due_at: datetime | None = None


@dataclass(frozen=True)
class WorkItem:
    """A dossier as the worklist shows it: references, codes, statuses and dates only."""

    reference: str
    chain: Chain | None
    status: DossierStatus
    province_code: str
    commune_code: str
    received_at: datetime
    due_at: datetime | None
    timeliness: Timeliness
    late: bool
    tasks: tuple[Task, ...]
    steps: tuple[tuple[StepKind, StepStatus, Timeliness], ...] = field(default=())

    @property
    def needs_action(self) -> bool:
        return bool(self.tasks)

    def next_due(self) -> datetime | None:
        """The earliest date a task must be done by (the worklist's order)."""
        return min((t.due_at for t in self.tasks if t.due_at is not None), default=None)


def _consent_missing(dossier: Dossier) -> bool:
    residence: Any = dossier.payload.get("residence")
    return isinstance(residence, dict) and residence.get("household_head_consent") is False


def _step_tasks(dossier: Dossier, step: Step, now: datetime, deadlines: Deadlines) -> list[Task]:
    if step.status == StepStatus.AWAITING_SUPPLEMENT:
        need = (
            Need.AWAITING_CONSENT
            if step.kind == StepKind.RESIDENCE_REGISTRATION and _consent_missing(dossier)
            else Need.SUPPLEMENT_DUE
        )
        requested = step.finished_at or step.updated_at
        return [Task(need, step.kind, step.status, deadlines.supplement_deadline(requested))]
    if step.status in STOPPED_STEP_STATUSES:
        return [Task(Need.STEP_STOPPED, step.kind, step.status, step.due_at)]
    if step.status == StepStatus.AWAITING_DECISION and step_timeliness(step, now).late:
        return [Task(Need.DECISION_OVERDUE, step.kind, step.status, step.due_at)]
    return []


def tasks_of(dossier: Dossier, now: datetime, deadlines: Deadlines) -> tuple[Task, ...]:
    """What a person must do about ``dossier`` at ``now`` (nothing: it is not on the list)."""
    if dossier.status == DossierStatus.HELD:
        return (Task(Need.DUPLICATE_DECISION),)
    if dossier.status in _HAND_BACK:
        if dossier.handed_back_at is not None or dossier.closed_as_duplicate:
            return ()
        return (Task(_HAND_BACK[dossier.status]),)
    if dossier.status in TERMINAL_DOSSIER_STATUSES:
        return ()
    return tuple(t for s in dossier.steps for t in _step_tasks(dossier, s, now, deadlines))


def work_item(dossier: Dossier, now: datetime, deadlines: Deadlines) -> WorkItem:
    return WorkItem(
        reference=dossier.reference,
        chain=dossier.chain,
        status=dossier.status,
        province_code=dossier.province_code,
        commune_code=dossier.commune_code,
        received_at=dossier.received_at,
        due_at=dossier.due_at,
        timeliness=dossier_timeliness(dossier, now),
        late=is_late(dossier, now),
        tasks=tasks_of(dossier, now, deadlines),
        steps=tuple((s.kind, s.status, step_timeliness(s, now)) for s in dossier.steps),
    )


def is_settled(dossier: Dossier) -> bool:
    """Nothing more will happen to it at the counter: withdrawn, or its outcome handed back."""
    return dossier.status == DossierStatus.WITHDRAWN or dossier.handed_back_at is not None


@dataclass(frozen=True)
class DossierQuery:
    """Which dossiers to read for a worklist: the part the database filters.

    ``province_codes`` are the stored codes (a current province with the old ones it took
    over: ``models.report.Scope.province_codes``); ``None`` means any.
    """

    province_codes: tuple[str, ...] | None = None
    commune: str | None = None
    chain: Chain | None = None
    statuses: frozenset[DossierStatus] | None = None
    include_settled: bool = False
    limit: int | None = None


@dataclass(frozen=True)
class WorkFilter:
    """What the operator asked to see, beyond the database's part: late, needs action."""

    query: DossierQuery = field(default_factory=DossierQuery)
    late: bool | None = None
    needs_action: bool = False
    needs: Collection[Need] | None = None

    def keeps(self, item: WorkItem) -> bool:
        if self.late is not None and item.late != self.late:
            return False
        if self.needs_action and not item.needs_action:
            return False
        return self.needs is None or any(t.need in self.needs for t in item.tasks)


def ordered(items: Collection[WorkItem]) -> list[WorkItem]:
    """Most urgent first: late ones, then by the nearest task date, then by reception."""

    def key(item: WorkItem) -> tuple[bool, float, float, str]:
        due = item.next_due()
        return (
            not item.late,
            due.timestamp() if due is not None else float("inf"),
            item.received_at.timestamp(),
            item.reference,
        )

    return sorted(items, key=key)
