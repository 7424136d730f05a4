"""The overdue sweep: find steps due soon, overdue, stuck, or whose supplementation lapsed.

What counts as what (``now`` is ``container.clock.now()``):

- **overdue**: a step an agency is working on (``in_progress``, or ``failed`` = our retries
  ran out) whose ``due_at`` has passed. Pending steps have no running clock; a step
  ``awaiting_supplement`` has a stopped clock (docs/deadlines.md): neither is overdue.
- **due soon**: such a step due by the end of the ``due_soon_working_days``-th working day
  from today (0: by the end of today).
- **stuck**: ``failed``, or ``in_progress`` and untouched for ``stuck_after`` while no run
  holds the dossier's lease (a crashed run). A dossier whose lease is live is never stuck.
- **lapsed**: ``awaiting_supplement`` past the applicant's window
  (``Deadlines.supplement_deadline`` of the request, i.e. of the step's ``finished_at``).

What the sweep does, in this order: refuses lapsed dossiers with the legal reason; queues
one notice per overdue step for its agency and for the commune, and a reminder to the agency
of each step due soon, at most once per item, agency and local day (the outbox's unique
``dedupe_key`` carries the date); resumes stuck dossiers through an injected callable; then
delivers the outbox. Every notice, resume and refusal is audited with actor ``system``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from lienthong import ledger
from lienthong.audit import AuditRecord, append_event
from lienthong.bootstrap import Container
from lienthong.deadlines import Deadlines
from lienthong.ledger import Actor
from lienthong.outbox import DeliveryReport, deliver_due
from models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from models.tables import Dossier, Notification, Step

logger = logging.getLogger(__name__)

# Statuses in which an agency's clock runs (failed: still the agency's step, our retries ran out).
CLOCK_RUNNING = (StepStatus.IN_PROGRESS, StepStatus.FAILED)
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
class Findings:
    due_soon: list[StepItem] = field(default_factory=list)
    overdue: list[StepItem] = field(default_factory=list)
    stuck: list[StepItem] = field(default_factory=list)
    lapsed: list[StepItem] = field(default_factory=list)


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
            f"notices queued: {self.notices}",
            f"dossiers refused (supplementation lapsed): {len(self.refused)}",
            f"dossiers resumed: {len(self.resumed)}",
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
        groups = (
            ("overdue", self.findings.overdue),
            ("due soon", self.findings.due_soon),
            ("stuck", self.findings.stuck),
            ("supplementation lapsed", self.findings.lapsed),
        )
        for label, items in groups:
            rows += [
                f"| {i.kind.value} | {i.reference} | {i.agency.value} | {i.status.value} "
                f"| {i.due_at.isoformat() if i.due_at else '-'} | {label} |"
                for i in items
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
    """The one query that finds every candidate; the benchmark times it.

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
                Step.status == StepStatus.FAILED,
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


def _lease_live(dossier: Dossier, now: datetime) -> bool:
    return dossier.lease_owner is not None and (
        dossier.lease_expires_at is None or dossier.lease_expires_at >= now
    )


def find(session: Session, deadlines: Deadlines, now: datetime, options: SweepOptions) -> Findings:
    """Classify every candidate step; one step may be both overdue and stuck."""
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
        if (step.status == StepStatus.FAILED or crashed) and not _lease_live(dossier, now):
            findings.stuck.append(item)
    return findings


def find_work(container: Container, options: SweepOptions) -> Findings:
    with container.unit_of_work() as uow:
        return find(uow.session, container.deadlines, container.clock.now(), options)


def _audit(
    session: Session,
    actor: Actor,
    item: StepItem,
    *,
    action: str,
    now: datetime,
    before: str,
    after: str | None = None,
    details: Mapping[str, object],
) -> None:
    """Audit what the sweep did about ``item``'s step, as ``actor``."""
    append_event(
        session,
        AuditRecord(
            actor=actor.id,
            action=action,
            occurred_at=now,
            dossier_reference=item.reference,
            step_kind=item.kind.value,
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


def _planned_notices(findings: Findings, local_day: str) -> list[tuple[str, str, Agency, StepItem]]:
    """(dedupe key, event type, agency, item) for every notice the findings call for."""
    planned = []
    for item in findings.overdue:
        for agency in dict.fromkeys((item.agency, Agency.COMMUNE)):
            key = f"overdue:{item.step_id}:{agency.value}:{local_day}"
            planned.append((key, "step.overdue", agency, item))
    for item in findings.due_soon:
        key = f"due_soon:{item.step_id}:{item.agency.value}:{local_day}"
        planned.append((key, "step.due_soon", item.agency, item))
    return planned


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
                step_kind=item.kind,
                payload=_notice_payload(item, event_type, now),
                now=now,
            )
            _audit(
                session,
                actor,
                item,
                action="overdue_notified" if event_type == "step.overdue" else "due_soon_notified",
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
    """One request per stuck dossier (several stuck steps share one chain run)."""
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
        for i in findings.stuck
    }
    return list(by_reference.values())


def record_resumes(
    container: Container, stuck: Iterable[StepItem], outcomes: Mapping[str, str], actor: Actor
) -> None:
    now = container.clock.now()
    with container.unit_of_work() as uow:
        for item in stuck:
            if item.reference not in outcomes:
                continue
            _audit(
                uow.session,
                actor,
                item,
                action="stuck_step_resumed",
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
    if options.resume and findings.stuck:
        resumed = await resume(resume_requests(findings))
        await asyncio.to_thread(record_resumes, container, findings.stuck, resumed, actor)
    delivery = await deliver_due(container)
    return SweepReport(at, findings, refused, notices, resumed, delivery)
