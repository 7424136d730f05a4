"""Delivering the outbox: signed webhooks to each agency, retried with backoff until a 2xx.

Notices are claimed before sending (their next attempt is pushed past the send's timeout),
so two dispatchers running at once do not post the same notification together; should a
post still repeat (a lost acknowledgement), receivers drop it by its event id.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from lienthong.adapters.notifier import DeliveryOutcome
from lienthong.models.notices import OutgoingNotice
from lienthong.services.container import Container
from lienthong.settings import OutboxSettings

# A chain run tries its own notifications a few times; what is left waits for the sweep.
IN_RUN_PASSES = 4
MAX_WAIT_BETWEEN_PASSES = 5.0


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    failed: int
    pending: int
    next_attempt_at: datetime | None


def backoff(settings: OutboxSettings, attempts: int) -> timedelta:
    """Exponential: initial, 2x, 4x ... capped at the maximum."""
    seconds = settings.initial_backoff_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.max_backoff_seconds))


def _claim(container: Container, reference: str | None) -> list[OutgoingNotice]:
    now = container.clock.now()
    settings = container.settings.outbox
    claim_until = now + timedelta(seconds=2 * settings.request_timeout_seconds)
    with container.unit_of_work() as uow:
        claimed = uow.outbox.claim_due(now, claim_until, settings.batch_size, reference)
        uow.commit()
        return claimed


def _record(container: Container, results: list[tuple[OutgoingNotice, DeliveryOutcome]]) -> None:
    now = container.clock.now()
    settings = container.settings.outbox
    retry_at = [now + backoff(settings, notice.attempts + 1) for notice, _ in results]
    with container.unit_of_work() as uow:
        uow.outbox.record_attempts(results, now, retry_at)
        uow.commit()


def _pending(container: Container, reference: str | None) -> tuple[int, datetime | None]:
    with container.unit_of_work() as uow:
        return uow.outbox.pending(reference)


async def _send(container: Container, notice: OutgoingNotice) -> DeliveryOutcome:
    endpoint = container.settings.endpoint(notice.agency)
    return await container.webhook_notifier.get().deliver(
        endpoint.webhook_url,
        endpoint.webhook_secrets(),
        notice.event_id,
        notice.payload,
    )


async def deliver_due(container: Container, reference: str | None = None) -> DeliveryReport:
    """One pass: send every notification that is due (of one dossier, or all)."""
    claimed = await asyncio.to_thread(_claim, container, reference)
    outcomes = await asyncio.gather(*(_send(container, notice) for notice in claimed))
    results = list(zip(claimed, outcomes, strict=True))
    if results:
        await asyncio.to_thread(_record, container, results)
    pending, earliest = await asyncio.to_thread(_pending, container, reference)
    delivered = sum(1 for o in outcomes if o.delivered)
    return DeliveryReport(delivered, len(outcomes) - delivered, pending, earliest)


async def deliver_with_patience(
    container: Container, reference: str | None, passes: int
) -> DeliveryReport:
    """Deliver what is due, waiting for failed ones' next attempt, up to ``passes`` times."""
    report = await deliver_due(container, reference)
    for _ in range(passes - 1):
        if report.pending == 0 or report.next_attempt_at is None:
            break
        wait = (report.next_attempt_at - container.clock.now()).total_seconds()
        await asyncio.sleep(min(max(wait, 0.0), MAX_WAIT_BETWEEN_PASSES))
        report = await deliver_due(container, reference)
    return report
