"""Whether a dossier or a step is late: the ONE rule that status, the worklist, the artifacts,
the desk and the report share.

The rule (docs/deadlines.md, docs/reporting.md):

- Work **finished** at or before its due instant is on time, after it late
  (:func:`is_on_time`; the due instant is the end of the due day, so the whole day counts).
  The judgement is made once, when the work finishes, and kept on the record
  (``on_time``): a succeeded or refused step, a completed dossier.
- Work **open** while its clock runs (a dossier received or in progress; a step in
  progress, awaiting its agency's decision, failed or in error) is overdue once ``now`` is
  after its due instant (:func:`is_overdue`), within time until then.
- A clock **stopped** by a request for supplementation ("trả hồ sơ bổ sung") does not run
  while the citizen supplements (Decree 61/2018/ND-CP art. 19): the work is late only if
  its due instant had already passed when it was returned, and stays so until the
  supplement restarts the clock (models/history.py keeps the same fact for past periods).
- Work never started, skipped, withdrawn, refused (a step or the whole chain), or rejected at
  intake has no lateness (:attr:`Timeliness.NOT_JUDGED`): the reporting form counts it as
  received, refused or withdrawn, never as early, on time or late.

The report counts the same facts in SQL (adapters/report_queries.py): resolved work by the
``on_time`` recorded here, open work by ``due instant in force < end of period``, which is
:func:`is_overdue` at that instant. tests/integration/test_lateness_agrees.py checks that
every view gives each dossier the same answer.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from lienthong.models.clock import require_aware
from lienthong.models.status import DossierStatus, StepStatus

if TYPE_CHECKING:
    from lienthong.models.lifecycle import Dossier, Step


class Timeliness(StrEnum):
    ON_TIME = "on_time"  # finished by its due instant
    LATE = "late"  # finished after it
    WITHIN = "within"  # open, its due instant not passed
    OVERDUE = "overdue"  # open, its due instant passed (or passed before it was returned)
    NOT_JUDGED = "not_judged"  # no running clock to judge by

    @property
    def late(self) -> bool:
        return self in (Timeliness.LATE, Timeliness.OVERDUE)


# A step whose agency clock runs: the citizen waits for it (models/overdue.CLOCK_RUNNING).
_RUNNING_STEP = frozenset(
    {StepStatus.IN_PROGRESS, StepStatus.AWAITING_DECISION, StepStatus.FAILED, StepStatus.ERROR}
)
_DECIDED_STEP = frozenset({StepStatus.SUCCEEDED})
_RUNNING_DOSSIER = frozenset({DossierStatus.RECEIVED, DossierStatus.IN_PROGRESS})


def is_on_time(due_at: datetime, finished_at: datetime) -> bool:
    """Whether work finished at ``finished_at`` met the due instant (inclusive)."""
    return require_aware(finished_at) <= require_aware(due_at)


def is_overdue(due_at: datetime | None, now: datetime) -> bool:
    """Whether open work due at ``due_at`` is overdue at ``now`` (no due instant: never)."""
    return due_at is not None and not is_on_time(due_at, now)


def _finished(on_time: bool | None) -> Timeliness:
    if on_time is None:
        return Timeliness.NOT_JUDGED
    return Timeliness.ON_TIME if on_time else Timeliness.LATE


def _open(due_at: datetime | None, now: datetime) -> Timeliness:
    if due_at is None:
        return Timeliness.NOT_JUDGED
    return Timeliness.OVERDUE if is_overdue(due_at, now) else Timeliness.WITHIN


def step_timeliness(step: Step, now: datetime) -> Timeliness:
    """The step's lateness at ``now`` by the rule above."""
    if step.status in _DECIDED_STEP:
        return _finished(step.on_time)
    if step.status in _RUNNING_STEP:
        return _open(step.due_at, now)
    restarting = step.status == StepStatus.PENDING and step.started_at is not None
    if step.status == StepStatus.AWAITING_SUPPLEMENT or restarting:
        # Returned: ``on_time`` was judged at the return; the clock is stopped since.
        return Timeliness.OVERDUE if step.on_time is False else Timeliness.NOT_JUDGED
    return Timeliness.NOT_JUDGED


def dossier_timeliness(dossier: Dossier, now: datetime) -> Timeliness:
    """The chain's lateness at ``now``: the dossier's own due instant, by the rule above."""
    if dossier.status == DossierStatus.COMPLETED:
        return _finished(dossier.on_time)
    if dossier.status in _RUNNING_DOSSIER:
        return _open(dossier.due_at, now)
    if dossier.status == DossierStatus.AWAITING_SUPPLEMENT:
        returned = [
            s.finished_at
            for s in dossier.steps
            if s.status == StepStatus.AWAITING_SUPPLEMENT and s.finished_at is not None
        ]
        if dossier.due_at is not None and returned and is_overdue(dossier.due_at, min(returned)):
            return Timeliness.OVERDUE
    return Timeliness.NOT_JUDGED


def is_late(dossier: Dossier, now: datetime) -> bool:
    """A dossier is late when its chain is, or any of its steps is."""
    return dossier_timeliness(dossier, now).late or any(
        step_timeliness(s, now).late for s in dossier.steps
    )
