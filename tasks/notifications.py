"""Prefect tasks that deliver the outbox: after each chain run, and from the sweep."""

from __future__ import annotations

import asyncio

from prefect import task

from lienthong import runtime
from lienthong.outbox import DeliveryReport, deliver_due

# A chain run tries its own notifications a few times; what is left waits for the sweep.
IN_RUN_PASSES = 4
MAX_WAIT_BETWEEN_PASSES = 5.0


async def deliver_with_patience(reference: str | None, passes: int) -> DeliveryReport:
    """Deliver what is due, waiting for failed ones' next attempt, up to ``passes`` times."""
    container = runtime.container()
    report = await deliver_due(container, reference)
    for _ in range(passes - 1):
        if report.pending == 0 or report.next_attempt_at is None:
            break
        wait = (report.next_attempt_at - container.clock.now()).total_seconds()
        await asyncio.sleep(min(max(wait, 0.0), MAX_WAIT_BETWEEN_PASSES))
        report = await deliver_due(container, reference)
    return report


@task(name="deliver-notifications", task_run_name="notify-{reference}", persist_result=False)
async def deliver_dossier_notifications(reference: str) -> DeliveryReport:
    return await deliver_with_patience(reference, IN_RUN_PASSES)
