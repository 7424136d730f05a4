"""The Prefect task that delivers a dossier's notifications at the end of its chain run."""

from __future__ import annotations

from prefect import task

from lienthong.bootstrap import current_container
from lienthong.services.outbox import IN_RUN_PASSES, DeliveryReport, deliver_with_patience


@task(name="deliver-notifications", task_run_name="notify-{reference}", persist_result=False)
async def deliver_dossier_notifications(reference: str) -> DeliveryReport:
    return await deliver_with_patience(current_container(), reference, IN_RUN_PASSES)
