"""Keeping what a lifecycle operation changed: each change's audit event and the notices it
calls for, in the caller's unit of work (never committed here).

The status change (applied to the domain objects by :mod:`lienthong.models.lifecycle`), the
audit event that describes it and the notifications it causes are one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lienthong.models.audit import AuditRecord
from lienthong.models.calendar import WorkingCalendar
from lienthong.models.chains import agencies_to_notify
from lienthong.models.history import clock_events
from lienthong.models.lifecycle import (
    NOTIFIED_STEP_STATUSES,
    STEP_STATUS_CHANGED,
    Change,
    Dossier,
    Step,
)
from lienthong.models.notice_text import summaries
from lienthong.models.notices import Notice, daily_key, event_key, step_notice
from lienthong.models.status import STOPPED_STEP_STATUSES, StepStatus
from lienthong.services.unit_of_work import UnitOfWork

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Actor:
    """Who causes a change: an operator id, ``system``, or an agency code."""

    id: str
    flow_run_id: str | None = None


def audit(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    now: datetime,
    reference: str,
    *,
    step_kind: str | None = None,
    before: str | None = None,
    after: str | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append one audit event about dossier ``reference``; returns its id."""
    return uow.audit.append(
        AuditRecord(
            actor=actor.id,
            action=action,
            occurred_at=now,
            dossier_reference=reference,
            step_kind=step_kind,
            status_before=before,
            status_after=after,
            reason=reason,
            flow_run_id=actor.flow_run_id,
            details=details,
        )
    )


def record(
    uow: UnitOfWork,
    dossier: Dossier,
    changes: Iterable[Change],
    actor: Actor,
    now: datetime,
    calendar: WorkingCalendar,
) -> None:
    """Audit every change in order, keep the clock events it makes (the reports' history),
    and queue the notices of each step status told."""
    for change in changes:
        uow.clocks.add(clock_events(dossier, change, now))
        step = change.step
        event_id = audit(
            uow,
            actor,
            change.action,
            now,
            dossier.reference,
            step_kind=step.kind.value if step else None,
            before=change.before,
            after=change.after,
            reason=change.reason,
            details=change.details,
        )
        if step is None or change.action != STEP_STATUS_CHANGED or change.after is None:
            continue
        status = StepStatus(change.after)
        if status in NOTIFIED_STEP_STATUSES:
            _notify(uow, dossier, step, status, event_id, now, calendar)


def _notify(
    uow: UnitOfWork,
    dossier: Dossier,
    step: Step,
    status: StepStatus,
    event_id: int,
    now: datetime,
    calendar: WorkingCalendar,
) -> None:
    """One notice per status change; a step that keeps failing is told once a local day.

    The sweep resumes failed steps every half hour: without this, an agency that stays
    down would hear of the same failure twenty times a day.
    """
    words = summaries(
        dossier.reference,
        event=f"step.{status.value}",
        chain=dossier.chain,
        step=step.kind,
        status=status,
        agency=step.agency,
        timezone=str(calendar.timezone),
    )
    payload = {**step_notice(dossier, step, now), **words}
    local_day = calendar.to_local(now).date()
    for agency in agencies_to_notify(step.agency, dossier.later_agencies(step), status):
        if status in STOPPED_STEP_STATUSES:
            assert step.id is not None, "a stored step has an id"
            key = daily_key(status.value, step.id, agency, local_day)
            if uow.outbox.queued([key]):
                continue
        else:
            key = event_key(event_id, agency)
        uow.outbox.add(
            Notice(agency, f"step.{status.value}", key, dossier.reference, step.kind, payload),
            now,
        )
