"""What the overdue sweep looks for, as rules over the steps and dossiers it is shown.

``now`` is the sweep's instant:

- **overdue**: a step whose agency clock runs (:data:`CLOCK_RUNNING`: ``in_progress``;
  ``awaiting_decision`` = the agency has it and decides later; ``failed`` = our retries ran
  out; ``error`` = a permanent error waiting for a person: the citizen is still waiting)
  whose ``due_at`` has passed. An agency late with its decision is chased: reminded first,
  and **escalated** to the commune and the province once its decision is a full working
  day late (the due instant plus one working day has passed). Pending steps have no running clock;
  a step ``awaiting_supplement`` has a stopped clock (docs/deadlines.md): neither is overdue.
- **due soon**: such a step due by the end of the ``due_soon_working_days``-th working day
  from today (0: by the end of today).
- **stuck**: ``failed``, or ``in_progress`` and untouched for ``stuck_after`` while no run
  holds the dossier's lease (a crashed run). A dossier whose lease is live is never stuck.
  An ``error`` step is never stuck: retrying cannot help, so it is not resumed.
- **needs attention**: every ``error`` step, until a person resumes it (``lienthong run``)
  or the dossier is withdrawn.
- **lapsed**: ``awaiting_supplement`` past the applicant's window
  (``Deadlines.supplement_deadline`` of the request, i.e. of the step's ``finished_at``).
- **not started**: a dossier still ``received`` (all its steps pending: stored with
  ``--no-run``, or handed to a deployment no worker ran) whose ``received_at`` and
  ``updated_at`` are older than ``stuck_after`` while no run holds its lease.
- **stalled**: a dossier ``in_progress`` whose next step is ``pending`` while none is in
  progress, waiting, failed or in error, untouched for ``stuck_after`` while no run holds
  its lease: a decision (or a supplement) was recorded but its chain did not continue (the
  resume failed: Prefect was down, the run was lost). It is continued like a decision.
- **chain overdue**: a dossier not closed (``received`` or ``in_progress``) whose chain-level
  ``due_at`` has passed, whatever its steps' states (e.g. a slow hand-over between steps).

The database pre-filters the candidates (adapters/sweep_queries.py); :func:`classify`
decides on its own, so any superset of candidates gives the same findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lienthong.models.deadlines import Deadlines
from lienthong.models.status import (
    DONE_STEP_STATUSES,
    Agency,
    Chain,
    DossierStatus,
    StepKind,
    StepStatus,
)

# Statuses in which an agency's clock runs: the citizen is still waiting for the step.
CLOCK_RUNNING = (
    StepStatus.IN_PROGRESS,
    StepStatus.AWAITING_DECISION,
    StepStatus.FAILED,
    StepStatus.ERROR,
)
# A dossier whose steps are all in these, one pending, has nothing going on: its chain
# should be running its next step.
READY_STATUSES = frozenset({StepStatus.PENDING, *DONE_STEP_STATUSES})
# Dossiers not closed whose chain clock runs (awaiting_supplement: the clock is stopped).
# A dossier held as a potential duplicate waits for us, not the citizen: its clock runs.
CHAIN_CLOCK_RUNNING = (DossierStatus.RECEIVED, DossierStatus.HELD, DossierStatus.IN_PROGRESS)


@dataclass(frozen=True)
class SweepOptions:
    due_soon_working_days: int = 1
    stuck_after: timedelta = timedelta(minutes=15)
    resume: bool = True


@dataclass(frozen=True)
class StepCandidate:
    """A step with what the sweep decides on (no personal data)."""

    step_id: int
    reference: str
    chain: Chain | None
    province_code: str
    commune_code: str
    kind: StepKind
    agency: Agency
    status: StepStatus
    due_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None


@dataclass(frozen=True)
class DossierCandidate:
    """A dossier with what the sweep decides on (no personal data)."""

    id: int
    reference: str
    chain: Chain | None
    province_code: str
    commune_code: str
    status: DossierStatus
    received_at: datetime
    due_at: datetime | None
    updated_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    # Its steps' statuses and their latest change (for a dossier in progress).
    step_statuses: tuple[StepStatus, ...] = ()
    steps_updated_at: datetime | None = None


@dataclass(frozen=True)
class StepItem:
    """One step the sweep found, with what it needs to act on it (no personal data)."""

    step_id: int
    reference: str
    chain: Chain
    province_code: str
    commune_code: str
    kind: StepKind
    agency: Agency
    status: StepStatus
    due_at: datetime | None
    # For a step awaiting supplementation: when the applicant's window closes.
    supplement_deadline: datetime | None = None


@dataclass(frozen=True)
class DossierItem:
    """One dossier the sweep found as a whole (no personal data)."""

    dossier_id: int
    reference: str
    chain: Chain
    province_code: str
    commune_code: str
    status: DossierStatus
    received_at: datetime
    due_at: datetime | None


@dataclass(frozen=True)
class Findings:
    due_soon: list[StepItem] = field(default_factory=list)
    overdue: list[StepItem] = field(default_factory=list)
    stuck: list[StepItem] = field(default_factory=list)
    lapsed: list[StepItem] = field(default_factory=list)
    # Steps in error: reported for a person to act on, never resumed.
    errors: list[StepItem] = field(default_factory=list)
    # Decisions a working day or more late: escalated to the commune and province.
    escalated: list[StepItem] = field(default_factory=list)
    # Dossiers still received, never started: started like stuck ones.
    not_started: list[DossierItem] = field(default_factory=list)
    # Dossiers not closed past their chain's due instant: notified to the commune.
    overdue_chains: list[DossierItem] = field(default_factory=list)
    # Dossiers whose chain stopped between steps (a decision recorded, no run continued).
    stalled: list[DossierItem] = field(default_factory=list)


def due_soon_limit(deadlines: Deadlines, now: datetime, working_days: int) -> datetime:
    """The end of the ``working_days``-th working day from today (today counts as the 0th)."""
    calendar = deadlines.calendar
    today = calendar.to_local(now).date()
    if not calendar.is_working_day(today):
        today = calendar.next_working_day(today)
        working_days = max(working_days - 1, 0)
    return calendar.end_of_day(calendar.add_working_days(today, working_days))


def escalation_due(deadlines: Deadlines, due_at: datetime, now: datetime) -> bool:
    """Whether a late decision is a full working day late (the working day after its due
    day has ended): time to escalate it."""
    calendar = deadlines.calendar
    due_day = calendar.to_local(due_at).date()
    return calendar.end_of_day(calendar.add_working_days(due_day, 1)) < now


def lease_live(lease_owner: str | None, lease_expires_at: datetime | None, now: datetime) -> bool:
    return lease_owner is not None and (lease_expires_at is None or lease_expires_at >= now)


def _step_item(step: StepCandidate, chain: Chain, deadline: datetime | None) -> StepItem:
    return StepItem(
        step.step_id,
        step.reference,
        chain,
        step.province_code,
        step.commune_code,
        step.kind,
        step.agency,
        step.status,
        step.due_at,
        deadline,
    )


def _classify_step(
    findings: Findings,
    step: StepCandidate,
    deadlines: Deadlines,
    now: datetime,
    soon: datetime,
    options: SweepOptions,
) -> None:
    if step.chain is None:
        return
    if step.status == StepStatus.AWAITING_SUPPLEMENT:
        if step.finished_at is not None:
            deadline = deadlines.supplement_deadline(step.finished_at)
            if deadline < now:
                findings.lapsed.append(_step_item(step, step.chain, deadline))
        return
    item = _step_item(step, step.chain, None)
    if step.status in CLOCK_RUNNING and step.due_at is not None:
        if step.due_at < now:
            findings.overdue.append(item)
            if step.status == StepStatus.AWAITING_DECISION and escalation_due(
                deadlines, step.due_at, now
            ):
                findings.escalated.append(item)
        elif step.due_at <= soon:
            findings.due_soon.append(item)
    if step.status == StepStatus.ERROR:
        findings.errors.append(item)
    crashed = step.status == StepStatus.IN_PROGRESS and step.updated_at < now - options.stuck_after
    if (step.status == StepStatus.FAILED or crashed) and not lease_live(
        step.lease_owner, step.lease_expires_at, now
    ):
        findings.stuck.append(item)


def _classify_dossier(
    findings: Findings, dossier: DossierCandidate, now: datetime, options: SweepOptions
) -> None:
    if dossier.chain is None:
        return
    item = DossierItem(
        dossier.id,
        dossier.reference,
        dossier.chain,
        dossier.province_code,
        dossier.commune_code,
        dossier.status,
        dossier.received_at,
        dossier.due_at,
    )
    if (
        dossier.status in CHAIN_CLOCK_RUNNING
        and dossier.due_at is not None
        and dossier.due_at < now
    ):
        findings.overdue_chains.append(item)
    quiet_since = now - options.stuck_after
    if (
        dossier.status == DossierStatus.RECEIVED
        and dossier.updated_at < quiet_since
        and dossier.received_at < quiet_since
        and not lease_live(dossier.lease_owner, dossier.lease_expires_at, now)
    ):
        findings.not_started.append(item)
    if stalled(dossier, quiet_since, now):
        findings.stalled.append(item)


def stalled(dossier: DossierCandidate, quiet_since: datetime, now: datetime) -> bool:
    """In progress, its next step ready and nothing else going on, and quiet for a while."""
    statuses = dossier.step_statuses
    return (
        dossier.status == DossierStatus.IN_PROGRESS
        and StepStatus.PENDING in statuses
        and all(s in READY_STATUSES for s in statuses)
        and dossier.steps_updated_at is not None
        and dossier.steps_updated_at < quiet_since
        and dossier.updated_at < quiet_since
        and not lease_live(dossier.lease_owner, dossier.lease_expires_at, now)
    )


def classify(
    steps: Iterable[StepCandidate],
    dossiers: Iterable[DossierCandidate],
    deadlines: Deadlines,
    now: datetime,
    options: SweepOptions,
) -> Findings:
    """Sort candidates into findings; one step may be both overdue and stuck (or overdue and
    in error), one dossier both never started and past its deadline."""
    soon = due_soon_limit(deadlines, now, options.due_soon_working_days)
    findings = Findings()
    for step in sorted(steps, key=lambda s: s.step_id):
        _classify_step(findings, step, deadlines, now, soon, options)
    for dossier in sorted(dossiers, key=lambda d: d.id):
        _classify_dossier(findings, dossier, now, options)
    return findings
