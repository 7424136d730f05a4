"""Every status change of the record, each with its audit event and outbox rows.

These functions work inside the caller's unit of work and never commit: the status change,
the audit event that describes it and the notifications it causes are one transaction
(DESIGN.md, "Data flows one way").
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from lienthong.audit import AuditRecord, append_event
from lienthong.deadlines import Deadlines
from models.chains import StepPlan, agencies_to_notify
from models.status import (
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
from models.tables import AuditEvent, Dossier, Notification, NotificationStatus, Step

SYSTEM_ACTOR = "system"
# The local day that "once a day" means for repeated failure notices.
NOTICE_TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class Actor:
    """Who causes a change: an operator id, ``system``, or an agency code."""

    id: str
    flow_run_id: str | None = None


def idempotency_key(reference: str, kind: StepKind, round_: int = 0) -> str:
    """The key sent with every call of one step: same dossier, step and round, same key.

    A supplement changes what is sent, so it opens a new round with a new key.
    """
    return f"{reference}:{kind.value}:r{round_}"


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    now: datetime,
    dossier: Dossier,
    *,
    step: Step | None = None,
    before: str | None = None,
    after: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return append_event(
        session,
        AuditRecord(
            actor=actor.id,
            action=action,
            occurred_at=now,
            dossier_reference=dossier.reference,
            step_kind=step.kind.value if step else None,
            status_before=before,
            status_after=after,
            reason=reason,
            flow_run_id=actor.flow_run_id,
            details=details,
        ),
    )


def enqueue_notification(
    session: Session,
    *,
    agency: Agency,
    event_type: str,
    dedupe_key: str,
    dossier_reference: str,
    step_kind: StepKind | None,
    payload: dict[str, Any],
    now: datetime,
) -> Notification:
    notification = Notification(
        event_id=str(uuid.uuid4()),
        dedupe_key=dedupe_key,
        agency=agency,
        event_type=event_type,
        dossier_reference=dossier_reference,
        step_kind=step_kind,
        payload=payload,
        status=NotificationStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(notification)
    return notification


def receive_dossier(
    session: Session,
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
    actor: Actor,
    now: datetime,
) -> Dossier:
    """Store a valid dossier with its planned steps; its statutory clock starts now."""
    dossier = Dossier(
        reference=reference,
        chain=chain,
        status=DossierStatus.RECEIVED,
        province_code=province_code,
        commune_code=commune_code,
        received_at=received_at,
        clock_started_at=received_at,
        due_at=deadlines.chain_due_at(
            chain, received_at, steps=[p.kind for p in plan if not p.skip_reason]
        ),
        late_filing=late_filing,
        payload=payload,
        steps=[
            Step(
                kind=step_plan.kind,
                agency=step_plan.agency,
                position=step_plan.position,
                status=StepStatus.PENDING,
                attempts=0,
                idempotency_key=idempotency_key(reference, step_plan.kind),
                updated_at=now,
            )
            for step_plan in plan
        ],
    )
    _store_new(
        session,
        dossier,
        actor,
        now,
        "dossier_received",
        details={"late_filing": late_filing, "steps": [p.kind.value for p in plan]},
    )
    for step, step_plan in zip(dossier.steps, plan, strict=True):
        if step_plan.skip_reason:
            _change_step(
                session, dossier, step, StepStatus.SKIPPED, actor, now, reason=step_plan.skip_reason
            )
    return dossier


def reject_dossier(
    session: Session,
    *,
    reference: str,
    chain: Chain | None,
    province_code: str,
    commune_code: str,
    received_at: datetime,
    payload: dict[str, Any],
    problems: list[dict[str, str]],
    actor: Actor,
    now: datetime,
) -> Dossier:
    """Keep an invalid dossier as rejected, with every reason, so nothing is lost."""
    dossier = Dossier(
        reference=reference,
        chain=chain,
        status=DossierStatus.REJECTED,
        province_code=province_code,
        commune_code=commune_code,
        received_at=received_at,
        late_filing=False,
        payload=payload,
        rejection_reasons=problems,
    )
    reason = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
    return _store_new(session, dossier, actor, now, "dossier_rejected", reason=reason)


def _store_new(
    session: Session,
    dossier: Dossier,
    actor: Actor,
    now: datetime,
    action: str,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> Dossier:
    """Insert a new dossier and the audit event of its first status."""
    dossier.created_at = dossier.updated_at = now
    session.add(dossier)
    session.flush()
    _audit(
        session, actor, action, now, dossier, after=dossier.status, reason=reason, details=details
    )
    return dossier


def _set_dossier_status(
    session: Session,
    dossier: Dossier,
    after: DossierStatus,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
) -> None:
    before = dossier.status
    if before == after:
        return
    check_dossier_transition(before, after)
    dossier.status = after
    dossier.updated_at = now
    if after == DossierStatus.COMPLETED:
        dossier.completed_at = now
        dossier.on_time = dossier.due_at is None or now <= dossier.due_at
    _audit(
        session,
        actor,
        "dossier_status_changed",
        now,
        dossier,
        before=before,
        after=after,
        reason=reason,
    )


def _derived_dossier_status(dossier: Dossier) -> DossierStatus:
    statuses = {step.status for step in dossier.steps}
    if StepStatus.REFUSED in statuses:
        return DossierStatus.REFUSED
    if StepStatus.AWAITING_SUPPLEMENT in statuses:
        return DossierStatus.AWAITING_SUPPLEMENT
    if statuses <= DONE_STEP_STATUSES:
        return DossierStatus.COMPLETED
    return DossierStatus.IN_PROGRESS


def _notice_key(step: Step, event: AuditEvent, agency: Agency, now: datetime) -> str:
    """One notice per status change; a step that keeps failing is told once a local day.

    The sweep resumes failed steps every half hour: without this, an agency that stays
    down would hear of the same failure twenty times a day.
    """
    if step.status in STOPPED_STEP_STATUSES:
        day = now.astimezone(NOTICE_TIMEZONE).date().isoformat()
        return f"{step.status.value}:{step.id}:{agency.value}:{day}"
    return f"audit:{event.id}:{agency.value}"


def _queued(session: Session, dedupe_key: str) -> bool:
    found = session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key))
    return found is not None


def _notify_step(
    session: Session, dossier: Dossier, step: Step, event: AuditEvent, now: datetime
) -> None:
    later = [s.agency for s in dossier.steps if s.position > step.position]
    payload = {
        "event": f"step.{step.status.value}",
        "dossier_reference": dossier.reference,
        "chain": dossier.chain.value if dossier.chain else None,
        "commune_code": dossier.commune_code,
        "step": step.kind.value,
        "performed_by": step.agency.value,
        "status": step.status.value,
        "agency_reference": step.agency_reference,
        "reason": step.reason,
        "missing_items": step.missing_items,
        "result": step.result if step.status == StepStatus.SUCCEEDED else None,
        "occurred_at": now.isoformat(),
    }
    for agency in agencies_to_notify(step.agency, later, step.status):
        dedupe_key = _notice_key(step, event, agency, now)
        if step.status in STOPPED_STEP_STATUSES and _queued(session, dedupe_key):
            continue
        enqueue_notification(
            session,
            agency=agency,
            event_type=f"step.{step.status.value}",
            dedupe_key=dedupe_key,
            dossier_reference=dossier.reference,
            step_kind=step.kind,
            payload=payload,
            now=now,
        )


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


def _change_step(
    session: Session,
    dossier: Dossier,
    step: Step,
    after: StepStatus,
    actor: Actor,
    now: datetime,
    *,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    before = step.status
    check_step_transition(before, after)
    step.status = after
    step.updated_at = now
    event = _audit(
        session,
        actor,
        "step_status_changed",
        now,
        dossier,
        step=step,
        before=before,
        after=after,
        reason=reason,
        details=details,
    )
    if after in NOTIFIED_STEP_STATUSES:
        _notify_step(session, dossier, step, event, now)
    return event


def _require_open(dossier: Dossier, step: Step, after: StepStatus) -> None:
    """A closed dossier (completed, refused, withdrawn, rejected) takes no more changes."""
    if dossier.status in TERMINAL_DOSSIER_STATUSES:
        raise IllegalTransition(
            "step", step.status, after, f"dossier {dossier.reference} is {dossier.status.value}"
        )


def _require_turn(dossier: Dossier, step: Step) -> None:
    """Steps run in their chain's order: each builds on the outcome of the one before."""
    waiting = [
        s.kind.value
        for s in dossier.steps
        if s.position < step.position and s.status not in DONE_STEP_STATUSES
    ]
    if waiting:
        raise IllegalTransition(
            "step",
            step.status,
            StepStatus.IN_PROGRESS,
            f"{step.kind.value} starts after {', '.join(waiting)}",
        )


def start_step(
    session: Session,
    dossier: Dossier,
    step: Step,
    *,
    deadlines: Deadlines,
    actor: Actor,
    now: datetime,
) -> None:
    """Mark a step as being worked on, counting the attempt.

    A step found already in progress was interrupted (the process died mid-call): it is
    resumed, not restarted, and the agency call is repeated under the same key.
    """
    _require_open(dossier, step, StepStatus.IN_PROGRESS)
    _require_turn(dossier, step)
    step.attempts += 1
    if step.status == StepStatus.IN_PROGRESS:
        step.updated_at = now
        _audit(
            session,
            actor,
            "step_resumed",
            now,
            dossier,
            step=step,
            before=step.status,
            after=step.status,
            details={"attempt": step.attempts},
        )
    else:
        if step.started_at is None or step.status == StepStatus.PENDING:
            step.started_at = now
            step.due_at = deadlines.step_due_at(step.kind, now)
        _change_step(
            session,
            dossier,
            step,
            StepStatus.IN_PROGRESS,
            actor,
            now,
            details={"attempt": step.attempts},
        )
    _set_dossier_status(session, dossier, DossierStatus.IN_PROGRESS, actor, now)


def _skip_after_refusal(
    session: Session, dossier: Dossier, refused: Step, actor: Actor, now: datetime
) -> None:
    """A refusal ends the chain: the steps that would have built on it are skipped."""
    for later in dossier.steps:
        if later.position > refused.position and later.status == StepStatus.PENDING:
            _change_step(
                session,
                dossier,
                later,
                StepStatus.SKIPPED,
                actor,
                now,
                reason=f"{refused.kind.value} was refused",
            )


def finish_step(
    session: Session,
    dossier: Dossier,
    step: Step,
    after: StepStatus,
    *,
    actor: Actor,
    now: datetime,
    agency_reference: str | None = None,
    result: dict[str, Any] | None = None,
    reason: str | None = None,
    missing_items: list[str] | None = None,
) -> None:
    """Record a step's outcome and bring the dossier's status in line with its steps."""
    _require_open(dossier, step, after)
    step.agency_reference = agency_reference or step.agency_reference
    step.result = result
    step.reason = reason
    step.missing_items = missing_items
    if after in STOPPED_STEP_STATUSES:
        step.last_error = reason
    else:
        step.finished_at = now
        step.on_time = step.due_at is None or now <= step.due_at
    _change_step(
        session,
        dossier,
        step,
        after,
        actor,
        now,
        reason=reason,
        details={"agency_reference": step.agency_reference} if agency_reference else None,
    )
    if after == StepStatus.REFUSED:
        _skip_after_refusal(session, dossier, step, actor, now)
    _set_dossier_status(
        session,
        dossier,
        _derived_dossier_status(dossier),
        actor,
        now,
        reason=reason if after == StepStatus.REFUSED else None,
    )


def accept_supplement(
    session: Session,
    dossier: Dossier,
    step: Step,
    *,
    round_: int,
    deadlines: Deadlines,
    actor: Actor,
    now: datetime,
) -> None:
    """The applicant supplied what was missing: the step is sent again, the clock restarts.

    The statutory limit counts from the day the dossier is complete, so both the step's
    and the chain's due times are recomputed from the supplement's arrival.
    """
    _require_open(dossier, step, StepStatus.PENDING)
    step.idempotency_key = idempotency_key(dossier.reference, step.kind, round_)
    step.missing_items = None
    _change_step(
        session,
        dossier,
        step,
        StepStatus.PENDING,
        actor,
        now,
        reason="supplement received",
        details={"round": round_},
    )
    dossier.clock_started_at = now
    if dossier.chain is not None:
        dossier.due_at = deadlines.chain_due_at(
            dossier.chain,
            now,
            steps=[s.kind for s in dossier.steps if s.status != StepStatus.SKIPPED],
        )
    _set_dossier_status(
        session, dossier, DossierStatus.IN_PROGRESS, actor, now, reason="supplement received"
    )


WITHDRAWABLE_STEPS = frozenset(
    {StepStatus.PENDING, StepStatus.FAILED, StepStatus.ERROR, StepStatus.AWAITING_SUPPLEMENT}
)


class CannotWithdraw(ValueError):
    """The dossier is closed already, or an agency is working on one of its steps."""


def withdraw_dossier(
    session: Session, dossier: Dossier, *, reason: str, actor: Actor, now: datetime
) -> None:
    """The applicant withdraws: every step not yet decided is withdrawn, and the dossier.

    Steps already decided keep their outcome (a registration made stays made). A step in
    progress cannot be withdrawn: its agency call may be registering right now.
    """
    if dossier.status in TERMINAL_DOSSIER_STATUSES:
        raise CannotWithdraw(f"dossier {dossier.reference} is {dossier.status.value} already")
    busy = [s.kind.value for s in dossier.steps if s.status == StepStatus.IN_PROGRESS]
    if busy:
        raise CannotWithdraw(
            f"dossier {dossier.reference}: {', '.join(busy)} is in progress at its agency; "
            "withdraw once it has an outcome"
        )
    for step in dossier.steps:
        if step.status in WITHDRAWABLE_STEPS:
            step.finished_at = now
            _change_step(session, dossier, step, StepStatus.WITHDRAWN, actor, now, reason=reason)
    _set_dossier_status(session, dossier, DossierStatus.WITHDRAWN, actor, now, reason=reason)


def acquire_lease(
    session: Session, reference: str, owner: str, now: datetime, ttl: timedelta
) -> bool:
    """Take the per-dossier guard; only its holder may call agencies for this dossier.

    One conditional UPDATE, so two runs racing for the same dossier cannot both win on
    any backend. A lease left by a dead process expires after ``ttl``.
    """
    taken = session.execute(
        update(Dossier)
        .where(
            Dossier.reference == reference,
            or_(
                Dossier.lease_owner.is_(None),
                Dossier.lease_owner == owner,
                Dossier.lease_expires_at < now,
            ),
        )
        .values(lease_owner=owner, lease_expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(taken, "rowcount", 0))


def release_lease(session: Session, reference: str, owner: str) -> None:
    session.execute(
        update(Dossier)
        .where(Dossier.reference == reference, Dossier.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )


def refuse_unsupplemented(
    session: Session,
    dossier: Dossier,
    step: Step,
    *,
    reason: str,
    details: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> None:
    """The applicant's window to supplement passed: refuse the waiting step and the dossier.

    Unlike an agency's refusal (:func:`finish_step`), what was missing stays on the step so
    the written reason can be read with it, and ``on_time`` keeps the value it got when the
    agency asked: the agency decided then, the applicant's silence is not its delay.
    """
    _require_open(dossier, step, StepStatus.REFUSED)
    step.reason = reason
    step.finished_at = now
    _change_step(
        session, dossier, step, StepStatus.REFUSED, actor, now, reason=reason, details=details
    )
    _skip_after_refusal(session, dossier, step, actor, now)
    _set_dossier_status(session, dossier, DossierStatus.REFUSED, actor, now, reason=reason)
