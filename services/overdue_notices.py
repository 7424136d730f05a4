"""Tell agencies, communes and provinces what is overdue or due soon, at most once a local
day each."""

from __future__ import annotations

from datetime import date, datetime

from lienthong.models.notice_text import summaries
from lienthong.models.notices import Notice, daily_key
from lienthong.models.overdue import DossierItem, Findings, StepItem
from lienthong.models.status import Agency, StepStatus
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor


def _notice_payload(item: StepItem, event: str, now: datetime, timezone: str) -> dict[str, object]:
    words = summaries(
        item.reference,
        event=event,
        chain=item.chain,
        step=item.kind,
        status=item.status,
        agency=item.agency,
        due_at=item.due_at,
        timezone=timezone,
    )
    return {
        **words,
        "event": event,
        "dossier_reference": item.reference,
        "chain": item.chain.value,
        "commune_code": item.commune_code,
        "province_code": item.province_code,
        "step": item.kind.value,
        "performed_by": item.agency.value,
        "status": item.status.value,
        "due_at": item.due_at.isoformat() if item.due_at else None,
        "occurred_at": now.isoformat(),
    }


def _chain_notice_payload(item: DossierItem, now: datetime, timezone: str) -> dict[str, object]:
    words = summaries(
        item.reference,
        event="dossier.overdue",
        chain=item.chain,
        status=item.status,
        due_at=item.due_at,
        timezone=timezone,
    )
    return {
        **words,
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
# Who hears of an agency's decision a working day late (issue 9: commune and province).
ESCALATED_TO = (Agency.COMMUNE, Agency.PROVINCE)


def _planned_notices(findings: Findings, local_day: date) -> list[Planned]:
    """(dedupe key, event type, agency, item) for every notice the findings call for."""
    planned: list[Planned] = []
    for item in findings.overdue:
        if item.status == StepStatus.AWAITING_DECISION:
            # The agency has the dossier and is late deciding: remind it.
            key = daily_key("decision_reminder", item.step_id, item.agency, local_day)
            planned.append((key, "decision.reminder", item.agency, item))
            continue
        for agency in dict.fromkeys((item.agency, Agency.COMMUNE)):
            key = daily_key("overdue", item.step_id, agency, local_day)
            planned.append((key, "step.overdue", agency, item))
    for item in findings.escalated:
        # A working day late: escalated to the commune and to the province (its payload
        # names the province), each at most once a local day.
        for receiver in ESCALATED_TO:
            key = daily_key("decision_escalation", item.step_id, receiver, local_day)
            planned.append((key, "decision.escalated", receiver, item))
    for item in findings.due_soon:
        key = daily_key("due_soon", item.step_id, item.agency, local_day)
        planned.append((key, "step.due_soon", item.agency, item))
    for chain_item in findings.overdue_chains:
        key = daily_key("dossier_overdue", chain_item.dossier_id, Agency.COMMUNE, local_day)
        planned.append((key, "dossier.overdue", Agency.COMMUNE, chain_item))
    return planned


_NOTICE_ACTIONS = {
    "step.overdue": "overdue_notified",
    "decision.reminder": "decision_reminder_sent",
    "decision.escalated": "decision_escalated",
    "step.due_soon": "due_soon_notified",
    "dossier.overdue": "chain_overdue_notified",
}


def queue_notices(container: Container, findings: Findings, actor: Actor) -> int:
    """Queue the day's notices that are not queued yet; returns how many were queued.

    One transaction; the outbox's lock (on PostgreSQL an advisory lock; on SQLite the
    immediate transaction) makes a second sweep wait, so "not queued yet" cannot race.
    """
    now = container.clock.now()
    planned = _planned_notices(findings, container.deadlines.calendar.to_local(now).date())
    if not planned:
        return 0
    with container.unit_of_work() as uow:
        uow.outbox.lock()
        queued = uow.outbox.queued([key for key, *_ in planned])
        fresh = [p for p in planned if p[0] not in queued]
        for key, event_type, agency, item in fresh:
            step_kind = item.kind if isinstance(item, StepItem) else None
            timezone = container.settings.calendar.timezone
            payload = (
                _notice_payload(item, event_type, now, timezone)
                if isinstance(item, StepItem)
                else _chain_notice_payload(item, now, timezone)
            )
            uow.outbox.add(Notice(agency, event_type, key, item.reference, step_kind, payload), now)
            ledger.audit(
                uow,
                actor,
                _NOTICE_ACTIONS[event_type],
                now,
                item.reference,
                step_kind=step_kind.value if step_kind else None,
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
