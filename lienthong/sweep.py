"""The overdue sweep: find steps due soon, overdue, stuck, in error or whose supplementation
lapsed, and dossiers never started or past their chain's deadline.

What counts as what (``now`` is ``container.clock.now()``):

- **overdue**: a step whose agency clock runs (``CLOCK_RUNNING``: ``in_progress``; ``failed``
  = our retries ran out; ``error`` = a permanent error waiting for a person: the citizen is
  still waiting) whose ``due_at`` has passed. Pending steps have no running clock; a step
  ``awaiting_supplement`` has a stopped clock (docs/deadlines.md): neither is overdue.
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
- **chain overdue**: a dossier not closed (``received`` or ``in_progress``) whose chain-level
  ``due_at`` has passed, whatever its steps' states (e.g. a slow hand-over between steps).

What the sweep does, in this order: refuses lapsed dossiers with the legal reason; queues
one notice per overdue step for its agency and for the commune, a reminder to the agency
of each step due soon, and one notice per overdue chain to the commune, at most once per
item, agency and local day (the outbox's unique ``dedupe_key`` carries the date); resumes
stuck dossiers and starts dossiers never started through an injected callable; then
delivers the outbox. Every notice, resume, start and refusal is audited with actor
``system``. Steps in error are only reported (the ledger notifies them once a day).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lienthong import ledger
from lienthong.audit import AuditRecord, append_event
from lienthong.bootstrap import Container
from lienthong.deadlines import Deadlines
from lienthong.ledger import Actor
from lienthong.outbox import DeliveryReport, deliver_due
from models.status import (
    STOPPED_STEP_STATUSES,
    Agency,
    Chain,
    DossierStatus,
    StepKind,
    StepStatus,
)
from models.tables import Dossier, Notification, Step

logger = logging.getLogger(__name__)

# Statuses in which an agency's clock runs: the citizen is still waiting for the step. failed:
# our retries ran out; error: a permanent error a person must fix (never resumed by the sweep).
CLOCK_RUNNING = (StepStatus.IN_PROGRESS, StepStatus.FAILED, StepStatus.ERROR)
# Dossiers not closed whose chain clock runs (awaiting_supplement: the clock is stopped).
CHAIN_CLOCK_RUNNING = (DossierStatus.RECEIVED, DossierStatus.IN_PROGRESS)
# Arbitrary constant naming the PostgreSQL advisory lock held while notices are queued.
_NOTICE_LOCK_KEY = 0x4C54_5357_4545_50  # "LTSWEEP"


@dataclass(frozen=True)
class SweepOptions:
    due_soon_working_days: int = 1
    stuck_after: timedelta = timedelta(minutes=15)
    resume: bool = True


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
    # Dossiers still received, never started: started like stuck ones.
    not_started: list[DossierItem] = field(default_factory=list)
    # Dossiers not closed past their chain's due instant: notified to the commune.
    overdue_chains: list[DossierItem] = field(default_factory=list)


@dataclass(frozen=True)
class ResumeRequest:
    reference: str
    chain: Chain
    tags: list[str]


# Runs the chains of the given dossiers; returns an outcome (e.g. a state name) per reference.
Resume = Callable[[Sequence[ResumeRequest]], Awaitable[Mapping[str, str]]]


@dataclass(frozen=True)
class SweepReport:
    at: datetime
    findings: Findings
    refused: list[str]
    notices: int
    resumed: Mapping[str, str]
    delivery: DeliveryReport

    def summary_lines(self) -> list[str]:
        f = self.findings
        lines = [
            f"due soon: {len(f.due_soon)}, overdue: {len(f.overdue)}, stuck: {len(f.stuck)}, "
            f"supplementation lapsed: {len(f.lapsed)}",
            f"needs attention: {len(f.errors)} (error)",
        ]
        lines += [
            f"  {i.reference}: {i.kind.value} ({i.agency.value}); "
            f"`lienthong run {i.reference}` once the cause is fixed"
            for i in f.errors
        ]
        lines += [
            f"not started: {len(f.not_started)}",
            f"chains overdue: {len(f.overdue_chains)}",
            f"notices queued: {self.notices}",
            f"dossiers refused (supplementation lapsed): {len(self.refused)}",
            f"dossiers resumed or started: {len(self.resumed)}",
        ]
        lines += [f"  {ref}: {outcome}" for ref, outcome in sorted(self.resumed.items())]
        d = self.delivery
        lines.append(f"outbox: {d.delivered} delivered, {d.failed} failed, {d.pending} pending")
        return lines

    def markdown(self) -> str:
        rows = [
            "| Step | Dossier | Agency | Status | Due | Found as |",
            "|------|---------|--------|--------|-----|----------|",
        ]
        f = self.findings
        groups = (
            ("overdue", f.overdue),
            ("due soon", f.due_soon),
            ("stuck", f.stuck),
            ("needs attention (error)", f.errors),
            ("supplementation lapsed", f.lapsed),
        )
        for label, items in groups:
            rows += [
                f"| {i.kind.value} | {i.reference} | {i.agency.value} | {i.status.value} "
                f"| {i.due_at.isoformat() if i.due_at else '-'} | {label} |"
                for i in items
            ]
        for label, dossiers in (
            ("chain overdue", f.overdue_chains),
            ("not started", f.not_started),
        ):
            rows += [
                f"| (whole chain) | {d.reference} | {Agency.COMMUNE.value} | {d.status.value} "
                f"| {d.due_at.isoformat() if d.due_at else '-'} | {label} |"
                for d in dossiers
            ]
        return (
            f"## Overdue sweep at {self.at.isoformat()}\n\n"
            + "\n".join(f"- {line.strip()}" for line in self.summary_lines())
            + "\n\n"
            + "\n".join(rows)
            + "\n"
        )


def _due_soon_limit(deadlines: Deadlines, now: datetime, working_days: int) -> datetime:
    calendar = deadlines.calendar
    today = calendar.to_local(now).date()
    if not calendar.is_working_day(today):
        today = calendar.next_working_day(today)
        working_days = max(working_days - 1, 0)
    return calendar.end_of_day(calendar.add_working_days(today, working_days))


def candidates_query(
    now: datetime, due_soon_limit: datetime, stuck_after: timedelta, supplement_window: int
) -> Select[Step, Dossier]:
    """The one query that finds every candidate step; the benchmark times it.

    Each branch of the OR is served by ``ix_steps_status_due`` (status first). The
    supplementation branch is pre-filtered with a bound that cannot miss: a window of
    N >= 1 working days never closes less than N calendar days after the request.
    """
    return (
        select(Step, Dossier)
        .join(Dossier, Dossier.id == Step.dossier_id)
        .where(
            or_(
                and_(Step.status.in_(CLOCK_RUNNING), Step.due_at <= due_soon_limit),
                Step.status.in_(STOPPED_STEP_STATUSES),
                and_(
                    Step.status == StepStatus.IN_PROGRESS,
                    Step.updated_at < now - stuck_after,
                ),
                and_(
                    Step.status == StepStatus.AWAITING_SUPPLEMENT,
                    Step.finished_at < now - timedelta(days=supplement_window),
                ),
            )
        )
        .order_by(Step.id)
    )


def dossiers_query(now: datetime, stuck_after: timedelta) -> Select[*tuple[Any, ...]]:
    """Dossiers never started or past their chain's due instant; the benchmark times it.

    Only the columns the sweep needs (not the payload). Both branches of the OR start with
    the dossier's status, so each is an index search (a multi-index OR on SQLite, a
    BitmapOr on PostgreSQL): the first on ``ix_dossiers_status_updated`` (status, updated_at)
    or ``ix_dossiers_status``, the second on the status index over the open dossiers only
    (received or in progress: the backlog, a small part of the table), then ``due_at`` is
    checked on those rows. No (status, due_at) index: with one million dossiers and a backlog
    of 58k open ones this query takes about 0.2 s on PostgreSQL (benchmarks/report_1m.py).
    """
    quiet_since = now - stuck_after
    return (
        select(
            Dossier.id,
            Dossier.reference,
            Dossier.chain,
            Dossier.province_code,
            Dossier.commune_code,
            Dossier.status,
            Dossier.received_at,
            Dossier.due_at,
            Dossier.updated_at,
            Dossier.lease_owner,
            Dossier.lease_expires_at,
        )
        .where(
            Dossier.chain.is_not(None),
            or_(
                and_(
                    Dossier.status == DossierStatus.RECEIVED,
                    Dossier.updated_at < quiet_since,
                    Dossier.received_at < quiet_since,
                ),
                and_(Dossier.status.in_(CHAIN_CLOCK_RUNNING), Dossier.due_at < now),
            ),
        )
        .order_by(Dossier.id)
    )


def _lease_live(lease_owner: str | None, lease_expires_at: datetime | None, now: datetime) -> bool:
    return lease_owner is not None and (lease_expires_at is None or lease_expires_at >= now)


def find(session: Session, deadlines: Deadlines, now: datetime, options: SweepOptions) -> Findings:
    """Classify every candidate step and dossier; one step may be both overdue and stuck
    (or overdue and in error), one dossier both never started and past its deadline."""
    soon = _due_soon_limit(deadlines, now, options.due_soon_working_days)
    findings = Findings()
    query = candidates_query(now, soon, options.stuck_after, deadlines.limits.supplement_window)
    for step, dossier in session.execute(query):
        if dossier.chain is None:
            continue
        deadline = None
        if step.status == StepStatus.AWAITING_SUPPLEMENT and step.finished_at is not None:
            deadline = deadlines.supplement_deadline(step.finished_at)
        item = StepItem(
            step.id,
            dossier.reference,
            dossier.chain,
            dossier.province_code,
            dossier.commune_code,
            step.kind,
            step.agency,
            step.status,
            step.due_at,
            deadline,
        )
        if deadline is not None:
            if deadline < now:
                findings.lapsed.append(item)
            continue
        if step.due_at is not None and step.due_at < now:
            findings.overdue.append(item)
        elif step.due_at is not None and step.due_at <= soon:
            findings.due_soon.append(item)
        crashed = (
            step.status == StepStatus.IN_PROGRESS and step.updated_at < now - options.stuck_after
        )
        if step.status == StepStatus.ERROR:
            findings.errors.append(item)
        live = _lease_live(dossier.lease_owner, dossier.lease_expires_at, now)
        if (step.status == StepStatus.FAILED or crashed) and not live:
            findings.stuck.append(item)
    quiet_since = now - options.stuck_after
    for row in session.execute(dossiers_query(now, options.stuck_after)):
        dossier_item = DossierItem(
            row.id,
            row.reference,
            row.chain,
            row.province_code,
            row.commune_code,
            row.status,
            row.received_at,
            row.due_at,
        )
        if row.due_at is not None and row.due_at < now:
            findings.overdue_chains.append(dossier_item)
        if (
            row.status == DossierStatus.RECEIVED
            and row.updated_at < quiet_since
            and row.received_at < quiet_since
            and not _lease_live(row.lease_owner, row.lease_expires_at, now)
        ):
            findings.not_started.append(dossier_item)
    return findings


def find_work(container: Container, options: SweepOptions) -> Findings:
    with container.unit_of_work() as uow:
        return find(uow.session, container.deadlines, container.clock.now(), options)


def _audit(
    session: Session,
    actor: Actor,
    item: StepItem | DossierItem,
    *,
    action: str,
    now: datetime,
    before: str,
    after: str | None = None,
    details: Mapping[str, object],
) -> None:
    """Audit what the sweep did about ``item``'s step (or whole dossier), as ``actor``."""
    append_event(
        session,
        AuditRecord(
            actor=actor.id,
            action=action,
            occurred_at=now,
            dossier_reference=item.reference,
            step_kind=item.kind.value if isinstance(item, StepItem) else None,
            status_before=before,
            status_after=after,
            flow_run_id=actor.flow_run_id,
            details=details,
        ),
    )


def _lapse_reason(deadlines: Deadlines, item: StepItem) -> str:
    assert item.supplement_deadline is not None
    closed = deadlines.calendar.to_local(item.supplement_deadline).date().isoformat()
    return (
        f"refused: the applicant did not supplement the dossier within the statutory "
        f"{deadlines.limits.supplement_window} working days of the request for "
        f"supplementation (window closed at the end of {closed})"
    )


def refuse_lapsed(container: Container, items: Iterable[StepItem], actor: Actor) -> list[str]:
    """Refuse each lapsed dossier in its own transaction; returns the references refused.

    The step's status and the window are checked again inside the transaction, and a
    supplement recorded concurrently wins (optimistic locking): such a dossier is left alone.
    """
    refused = []
    for item in items:
        now = container.clock.now()
        try:
            with container.unit_of_work() as uow:
                dossier = uow.dossiers.get(item.reference)
                step = next(s for s in dossier.steps if s.id == item.step_id)
                if step.status != StepStatus.AWAITING_SUPPLEMENT or step.finished_at is None:
                    continue
                deadline = container.deadlines.supplement_deadline(step.finished_at)
                if deadline >= now:
                    continue
                details = {
                    "requested_at": step.finished_at.isoformat(),
                    "supplement_deadline": deadline.isoformat(),
                    "missing_items": step.missing_items,
                }
                _audit(
                    uow.session,
                    actor,
                    item,
                    action="supplement_window_lapsed",
                    now=now,
                    before=dossier.status.value,
                    after=DossierStatus.REFUSED.value,
                    details=details,
                )
                ledger.refuse_unsupplemented(
                    uow.session,
                    dossier,
                    step,
                    reason=_lapse_reason(container.deadlines, item),
                    details=details,
                    actor=actor,
                    now=now,
                )
                uow.commit()
                refused.append(item.reference)
        except StaleDataError:
            logger.info("dossier %s changed while being refused; left alone", item.reference)
    return refused


def _notice_payload(item: StepItem, event: str, now: datetime) -> dict[str, object]:
    return {
        "event": event,
        "dossier_reference": item.reference,
        "chain": item.chain.value,
        "commune_code": item.commune_code,
        "step": item.kind.value,
        "performed_by": item.agency.value,
        "status": item.status.value,
        "due_at": item.due_at.isoformat() if item.due_at else None,
        "occurred_at": now.isoformat(),
    }


def _chain_notice_payload(item: DossierItem, now: datetime) -> dict[str, object]:
    return {
        "event": "dossier.overdue",
        "dossier_reference": item.reference,
        "chain": item.chain.value,
        "commune_code": item.commune_code,
        "status": item.status.value,
        "received_at": item.received_at.isoformat(),
        "due_at": item.due_at.isoformat() if item.due_at else None,
        "occurred_at": now.isoformat(),
    }


Planned = tuple[str, str, Agency, StepItem | DossierItem]


def _planned_notices(findings: Findings, local_day: str) -> list[Planned]:
    """(dedupe key, event type, agency, item) for every notice the findings call for."""
    planned: list[Planned] = []
    for item in findings.overdue:
        for agency in dict.fromkeys((item.agency, Agency.COMMUNE)):
            key = f"overdue:{item.step_id}:{agency.value}:{local_day}"
            planned.append((key, "step.overdue", agency, item))
    for item in findings.due_soon:
        key = f"due_soon:{item.step_id}:{item.agency.value}:{local_day}"
        planned.append((key, "step.due_soon", item.agency, item))
    for chain_item in findings.overdue_chains:
        key = f"dossier_overdue:{chain_item.dossier_id}:{Agency.COMMUNE.value}:{local_day}"
        planned.append((key, "dossier.overdue", Agency.COMMUNE, chain_item))
    return planned


_NOTICE_ACTIONS = {
    "step.overdue": "overdue_notified",
    "step.due_soon": "due_soon_notified",
    "dossier.overdue": "chain_overdue_notified",
}


def queue_notices(container: Container, findings: Findings, actor: Actor) -> int:
    """Queue the day's notices that are not queued yet; returns how many were queued.

    One transaction; on PostgreSQL an advisory lock makes a second sweep wait, on SQLite
    the immediate transaction does, so "not queued yet" cannot race.
    """
    now = container.clock.now()
    local_day = container.deadlines.calendar.to_local(now).date().isoformat()
    planned = _planned_notices(findings, local_day)
    if not planned:
        return 0
    with container.unit_of_work() as uow:
        session = uow.session
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _NOTICE_LOCK_KEY})
        keys = [key for key, *_ in planned]
        queued = set(
            session.scalars(
                select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys))
            )
        )
        fresh = [p for p in planned if p[0] not in queued]
        for key, event_type, agency, item in fresh:
            ledger.enqueue_notification(
                session,
                agency=agency,
                event_type=event_type,
                dedupe_key=key,
                dossier_reference=item.reference,
                step_kind=item.kind if isinstance(item, StepItem) else None,
                payload=(
                    _notice_payload(item, event_type, now)
                    if isinstance(item, StepItem)
                    else _chain_notice_payload(item, now)
                ),
                now=now,
            )
            _audit(
                session,
                actor,
                item,
                action=_NOTICE_ACTIONS[event_type],
                now=now,
                before=item.status.value,
                after=item.status.value,
                details={
                    "agency": agency.value,
                    "dedupe_key": key,
                    "due_at": item.due_at.isoformat() if item.due_at else None,
                },
            )
        uow.commit()
        return len(fresh)


def resume_requests(findings: Findings) -> list[ResumeRequest]:
    """One request per stuck or never-started dossier (stuck steps share one chain run)."""
    items: list[StepItem | DossierItem] = [*findings.stuck, *findings.not_started]
    by_reference = {
        i.reference: ResumeRequest(
            i.reference,
            i.chain,
            [
                f"chain:{i.chain.value}",
                f"commune:{i.commune_code}",
                f"province:{i.province_code}",
                "sweep",
            ],
        )
        for i in items
    }
    return list(by_reference.values())


def record_resumes(
    container: Container, findings: Findings, outcomes: Mapping[str, str], actor: Actor
) -> None:
    """Audit each resumed stuck step (``stuck_step_resumed``) and each dossier started
    after it was never started (``stalled_dossier_started``), with the run's outcome."""
    now = container.clock.now()
    done: list[tuple[str, StepItem | DossierItem]] = [
        *(("stuck_step_resumed", i) for i in findings.stuck),
        *(("stalled_dossier_started", d) for d in findings.not_started),
    ]
    with container.unit_of_work() as uow:
        for action, item in done:
            if item.reference not in outcomes:
                continue
            _audit(
                uow.session,
                actor,
                item,
                action=action,
                now=now,
                before=item.status.value,
                details={"outcome": outcomes[item.reference]},
            )
        uow.commit()


async def sweep(
    container: Container,
    resume: Resume,
    options: SweepOptions | None = None,
    actor: Actor | None = None,
) -> SweepReport:
    """One pass of the sweep (see the module docstring)."""
    options = options or SweepOptions()
    actor = actor or Actor(ledger.SYSTEM_ACTOR)
    at = container.clock.now()
    findings = await asyncio.to_thread(find_work, container, options)
    refused = await asyncio.to_thread(refuse_lapsed, container, findings.lapsed, actor)
    notices = await asyncio.to_thread(queue_notices, container, findings, actor)
    resumed: Mapping[str, str] = {}
    if options.resume and (findings.stuck or findings.not_started):
        resumed = await resume(resume_requests(findings))
        await asyncio.to_thread(record_resumes, container, findings, resumed, actor)
    delivery = await deliver_due(container)
    return SweepReport(at, findings, refused, notices, resumed, delivery)
