"""Delivering the outbox: signed webhooks to each agency, retried with backoff until a 2xx.

Rows are claimed before sending (their next attempt is pushed past the send's timeout), so
two dispatchers running at once do not post the same notification together; should a
post still repeat (a lost acknowledgement), receivers drop it by its event id.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from adapters.notifier import DeliveryOutcome, WebhookNotifier
from lienthong.bootstrap import Container
from lienthong.settings import OutboxSettings
from models.status import Agency
from models.tables import Notification, NotificationAttempt, NotificationStatus


@dataclass(frozen=True)
class Claimed:
    id: int
    agency: Agency
    event_id: str
    payload: dict[str, Any]


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


def _claim(container: Container, reference: str | None) -> list[Claimed]:
    now = container.clock.now()
    settings = container.settings.outbox
    with container.unit_of_work() as uow:
        query = (
            select(Notification)
            .where(
                Notification.status == NotificationStatus.PENDING,
                Notification.next_attempt_at <= now,
            )
            .order_by(Notification.id)
            .limit(settings.batch_size)
            .with_for_update(skip_locked=True)
        )
        if reference is not None:
            query = query.where(Notification.dossier_reference == reference)
        rows = list(uow.session.scalars(query))
        claim_until = now + timedelta(seconds=2 * settings.request_timeout_seconds)
        for row in rows:
            row.next_attempt_at = claim_until
        uow.commit()
        return [Claimed(r.id, r.agency, r.event_id, dict(r.payload)) for r in rows]


def _record(container: Container, results: list[tuple[Claimed, DeliveryOutcome]]) -> None:
    now = container.clock.now()
    with container.unit_of_work() as uow:
        for claimed, outcome in results:
            row = uow.session.get_one(Notification, claimed.id)
            row.attempts += 1
            uow.session.add(
                NotificationAttempt(
                    notification_id=row.id,
                    attempted_at=now,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=round(outcome.duration_seconds * 1000),
                )
            )
            if outcome.delivered:
                row.status = NotificationStatus.DELIVERED
                row.delivered_at = now
                row.last_error = None
            else:
                row.last_error = outcome.error
                row.next_attempt_at = now + backoff(container.settings.outbox, row.attempts)
        uow.commit()


def _pending(container: Container, reference: str | None) -> tuple[int, datetime | None]:
    with container.unit_of_work() as uow:
        query = select(func.count(), func.min(Notification.next_attempt_at)).where(
            Notification.status == NotificationStatus.PENDING
        )
        if reference is not None:
            query = query.where(Notification.dossier_reference == reference)
        count, earliest = uow.session.execute(query).one()
        return int(count), earliest


async def _send(
    container: Container, notifier: WebhookNotifier, claimed: Claimed
) -> DeliveryOutcome:
    endpoint = container.settings.endpoint(claimed.agency)
    return await notifier.deliver(
        endpoint.webhook_url,
        endpoint.webhook_secret.get_secret_value(),
        claimed.event_id,
        claimed.payload,
    )


async def deliver_due(container: Container, reference: str | None = None) -> DeliveryReport:
    """One pass: send every notification that is due (of one dossier, or all)."""
    claimed = await asyncio.to_thread(_claim, container, reference)
    notifier = WebhookNotifier(
        container.settings.outbox.request_timeout_seconds, transport=container.http_transport
    )
    try:
        outcomes = await asyncio.gather(*(_send(container, notifier, c) for c in claimed))
    finally:
        await notifier.aclose()
    results = list(zip(claimed, outcomes, strict=True))
    await asyncio.to_thread(_record, container, results)
    pending, earliest = await asyncio.to_thread(_pending, container, reference)
    delivered = sum(1 for o in outcomes if o.delivered)
    return DeliveryReport(delivered, len(outcomes) - delivered, pending, earliest)
