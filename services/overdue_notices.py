"""Tell agencies and communes what is overdue or due soon, at most once a local day each,
and each province its late work in one notice per working day (models/province_digest.py)."""

from __future__ import annotations

from datetime import date, datetime

from lienthong.models.notice_text import summaries
from lienthong.models.notices import Notice, daily_key, province_daily_key
from lienthong.models.overdue import DossierItem, Findings, StepItem
from lienthong.models.province_digest import EVENT as LATE_WORK
from lienthong.models.province_digest import ProvinceLateWork, late_work_by_province
from lienthong.models.status import Agency, StepStatus
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor
from lienthong.services.unit_of_work import UnitOfWork


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
        # A working day late: escalated to the commune, at most once a local day; the
        # province hears of it in its day's summary (:func:`_late_work`).
        key = daily_key("decision_escalation", item.step_id, Agency.COMMUNE, local_day)
        planned.append((key, "decision.escalated", Agency.COMMUNE, item))
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
LATE_WORK_NOTIFIED = "province_late_work_notified"


def _late_work(container: Container, findings: Findings, local_day: date) -> list[ProvinceLateWork]:
    """Each province's late work, on a working day only: supervisors are told on the days
    they work, the first working day after a weekend or a holiday covering it."""
    if not container.deadlines.calendar.is_working_day(local_day):
        return []
    return late_work_by_province(findings, local_day)


def _summary_reference(province_code: str) -> str:
    """What a province's summary is about, in the outbox and the audit trail: no dossier."""
    return f"province:{province_code}"


def _queue_late_work(
    uow: UnitOfWork, actor: Actor, now: datetime, work: ProvinceLateWork, key: str
) -> None:
    reference = _summary_reference(work.province_code)
    payload = work.payload(now)
    uow.outbox.add(Notice(Agency.PROVINCE, LATE_WORK, key, reference, None, payload), now)
    ledger.audit(
        uow,
        actor,
        LATE_WORK_NOTIFIED,
        now,
        reference,
        details={
            "agency": Agency.PROVINCE.value,
            "dedupe_key": key,
            **{name: payload[name] for name in SUMMARY_TOTALS},
        },
    )


SUMMARY_TOTALS = ("overdue_steps", "escalated_decisions", "overdue_chains")


def queue_notices(container: Container, findings: Findings, actor: Actor) -> int:
    """Queue the day's notices that are not queued yet; returns how many were queued.

    One transaction; the outbox's lock (on PostgreSQL an advisory lock; on SQLite the
    immediate transaction) makes a second sweep wait, so "not queued yet" cannot race.
    """
    now = container.clock.now()
    local_day = container.deadlines.calendar.to_local(now).date()
    planned = _planned_notices(findings, local_day)
    provinces = {
        province_daily_key("late_work", work.province_code, local_day): work
        for work in _late_work(container, findings, local_day)
    }
    if not planned and not provinces:
        return 0
    with container.unit_of_work() as uow:
        uow.outbox.lock()
        queued = uow.outbox.queued([*(key for key, *_ in planned), *provinces])
        fresh = [p for p in planned if p[0] not in queued]
        fresh_provinces = {key: work for key, work in provinces.items() if key not in queued}
        for key, work in fresh_provinces.items():
            _queue_late_work(uow, actor, now, work, key)
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
        return len(fresh) + len(fresh_provinces)
