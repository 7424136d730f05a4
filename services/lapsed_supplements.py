"""Refuse dossiers whose applicant did not supplement them within the statutory window."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from lienthong.models.deadlines import Deadlines
from lienthong.models.lifecycle import ConcurrentChange
from lienthong.models.overdue import StepItem
from lienthong.models.status import DossierStatus, StepStatus
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor

logger = logging.getLogger(__name__)


def _lapse_reason(deadlines: Deadlines, requested_at: datetime, deadline: datetime) -> str:
    closed = deadlines.calendar.to_local(deadline).date().isoformat()
    return (
        f"refused: the applicant did not supplement the dossier within the statutory "
        f"{deadlines.supplement_window(requested_at)} working days of the request for "
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
                step = dossier.step(item.kind)
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
                ledger.audit(
                    uow,
                    actor,
                    "supplement_window_lapsed",
                    now,
                    item.reference,
                    step_kind=item.kind.value,
                    before=dossier.status.value,
                    after=DossierStatus.REFUSED.value,
                    details=details,
                )
                changes = dossier.refuse_unsupplemented(
                    step.kind,
                    reason=_lapse_reason(container.deadlines, step.finished_at, deadline),
                    details=details,
                    now=now,
                )
                ledger.record(uow, dossier, changes, actor, now, container.deadlines.calendar)
                uow.commit()
                refused.append(item.reference)
        except ConcurrentChange:
            logger.info("dossier %s changed while being refused; left alone", item.reference)
    return refused
