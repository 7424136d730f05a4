"""The clock history a report needs: every start of a clock and every return to the applicant.

The record keeps each dossier's and step's *current* state; a report for a past month needs
what was true then. So every event that starts, restarts, extends or stops a statutory clock
is appended to its own table (``clock_events``, never updated), with the due instant then
in force:

- ``clock_started``: the dossier was received (the chain's clock starts at reception), or
  its supplement arrived (the clock restarts: Decree 61/2018/ND-CP art. 19, the time spent
  waiting for the applicant does not count). For a step: the agency began it, its due
  instant counted from when the dossier became available to it (:meth:`Dossier.available_at`).
- ``due_extended``: the agency must verify, the longer limit of the law applies.
- ``returned``: the dossier was returned for supplementation ("trả hồ sơ bổ sung"). The
  clock stops: ``due_at`` is the due instant only when it had already passed (the dossier
  stays late), and ``None`` otherwise.

A row with no ``step_kind`` is about the dossier (the chain); one with a step kind is about
that step (the agency's procedure). ``first`` marks a step's first start (the agency received
the dossier), as opposed to a restart after a supplement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lienthong.models.lifecycle import (
    DOSSIER_RECEIVED,
    DOSSIER_RESUBMITTED,
    DOSSIER_STATUS_CHANGED,
    STEP_STATUS_CHANGED,
    STEP_VERIFICATION_NEEDED,
    Change,
    Dossier,
)
from lienthong.models.status import DossierStatus, StepKind, StepStatus

CLOCK_STARTED = "clock_started"
DUE_EXTENDED = "due_extended"
RETURNED = "returned"


@dataclass(frozen=True)
class ClockEvent:
    dossier_id: int
    step_kind: StepKind | None
    event: str
    occurred_at: datetime
    due_at: datetime | None
    first: bool = False


def _stopped(due_at: datetime | None, now: datetime) -> datetime | None:
    """A clock stopped by a return: still late if the due instant had passed."""
    return due_at if due_at is not None and due_at < now else None


def clock_events(dossier: Dossier, change: Change, now: datetime) -> list[ClockEvent]:
    """The clock events one lifecycle change makes (none for most changes)."""
    if dossier.id is None:
        return []
    step = change.step
    if change.action in (DOSSIER_RECEIVED, DOSSIER_RESUBMITTED):
        return [ClockEvent(dossier.id, None, CLOCK_STARTED, now, dossier.due_at)]
    if change.action == DOSSIER_STATUS_CHANGED:
        if change.after == DossierStatus.AWAITING_SUPPLEMENT:
            return [ClockEvent(dossier.id, None, RETURNED, now, _stopped(dossier.due_at, now))]
        if (
            change.before == DossierStatus.AWAITING_SUPPLEMENT
            and change.after == DossierStatus.IN_PROGRESS
        ):
            return [ClockEvent(dossier.id, None, CLOCK_STARTED, now, dossier.due_at)]
        return []
    if step is None:
        return []
    if change.action == STEP_VERIFICATION_NEEDED:
        return [
            ClockEvent(dossier.id, step.kind, DUE_EXTENDED, now, step.due_at),
            ClockEvent(dossier.id, None, DUE_EXTENDED, now, dossier.due_at),
        ]
    if change.action != STEP_STATUS_CHANGED:
        return []
    if change.before == StepStatus.PENDING and change.after == StepStatus.IN_PROGRESS:
        first = step.first_started_at == now
        return [ClockEvent(dossier.id, step.kind, CLOCK_STARTED, now, step.due_at, first)]
    if change.after == StepStatus.AWAITING_SUPPLEMENT:
        return [ClockEvent(dossier.id, step.kind, RETURNED, now, _stopped(step.due_at, now))]
    return []
