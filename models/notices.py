"""What the agencies and the commune are told, and the key that keeps each notice single.

Every notification row has a unique dedupe key, so nothing is queued twice:

- a status change is told once per audit event and agency (:func:`event_key`);
- what may repeat (a step that keeps failing, an overdue step, an overdue chain) is told at
  most once per local day (:func:`daily_key`), the day in the calendar's time zone;
- a province's late work is summarised at most once per province and local day
  (:func:`province_daily_key`, models/province_digest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lienthong.models.lifecycle import Dossier, Step
from lienthong.models.status import Agency, StepKind, StepStatus


def event_key(audit_event_id: int, agency: Agency) -> str:
    return f"audit:{audit_event_id}:{agency.value}"


def daily_key(subject: str, item_id: int, agency: Agency, local_day: date) -> str:
    """``subject`` names what is told (a step status, ``overdue``, ``due_soon``,
    ``dossier_overdue``); ``item_id`` the step or dossier it is about."""
    return f"{subject}:{item_id}:{agency.value}:{local_day.isoformat()}"


def province_daily_key(subject: str, province_code: str, local_day: date) -> str:
    """``subject`` names the summary (``late_work``); one per province and local day."""
    return f"province_{subject}:{province_code}:{local_day.isoformat()}"


def step_notice(dossier: Dossier, step: Step, now: datetime) -> dict[str, Any]:
    """The body of a notice about ``step``'s new status (personal data: the result only)."""
    return {
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


@dataclass(frozen=True)
class Notice:
    """A notification to queue for ``agency`` (it is sent later, signed, until acknowledged)."""

    agency: Agency
    event_type: str
    dedupe_key: str
    dossier_reference: str
    step_kind: StepKind | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Told:
    """Tell-Us-Once, as the citizen sees it: which agency was told what, and when."""

    agency: Agency
    event_type: str
    step_kind: StepKind | None
    queued_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class OutgoingNotice:
    """A queued notification claimed for one delivery attempt."""

    id: int
    agency: Agency
    event_id: str
    payload: dict[str, Any]
    attempts: int
