"""Ask agencies for the decisions whose callbacks are overdue (the fallback path).

A callback can be lost (the agency's side gave up, our API was down); the agency's status
endpoint still knows. A wait is polled once its callback is overdue by the grace period
(``models.waits``); what the poll finds is recorded exactly like a callback.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from lienthong.adapters.errors import AgencyError
from lienthong.models.waits import WaitingDecision
from lienthong.services.container import Container
from lienthong.services.decisions import (
    DecisionReceipt,
    DecisionSource,
    record_decision,
)

logger = logging.getLogger(__name__)


def overdue_callbacks(container: Container, grace: timedelta) -> list[WaitingDecision]:
    """Steps awaiting a decision whose callback should have come by now."""
    now = container.clock.now()
    with container.unit_of_work() as uow:
        waits = uow.dossiers.waiting_decisions()
    return [w for w in waits if w.callback_overdue(now, grace)]


async def poll_decision(container: Container, wait: WaitingDecision) -> DecisionReceipt | None:
    """Ask the agency about one receipt and record what it says; None if it could not say."""
    client = container.agency_clients.get().for_agency(wait.agency)
    try:
        notice = await client.decision(wait.receipt_number)
    except AgencyError as exc:
        logger.warning(
            "could not poll %s for dossier %s: %s", wait.agency.value, wait.reference, exc
        )
        return None
    return await asyncio.to_thread(
        record_decision, container, wait.agency, notice, DecisionSource.POLL
    )


async def poll_overdue_decisions(container: Container) -> list[DecisionReceipt]:
    """Poll every wait whose callback is overdue; what each poll recorded."""
    grace = timedelta(seconds=container.settings.api.callback_grace_seconds)
    waits = await asyncio.to_thread(overdue_callbacks, container, grace)
    found = [await poll_decision(container, wait) for wait in waits]
    return [receipt for receipt in found if receipt is not None]
