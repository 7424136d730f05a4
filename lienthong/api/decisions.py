"""Agencies' decisions: the signed callback, and the poller that asks when one is overdue.

A decision is recorded first (services/decisions.py: idempotent, the record decides), then
the dossier's chain continues (flows/continuation.py) after the answer is sent: the agency
waits for our record, never for the chain.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from lienthong.flows.continuation import continue_dossier
from lienthong.models.contract.decisions import CALLBACK_PATH, DecisionNotice
from lienthong.models.contract.http import CALLED_AGENCIES, agency_slug
from lienthong.models.contract.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    InvalidSignature,
    verify,
)
from lienthong.models.lifecycle import ConcurrentChange
from lienthong.models.status import Agency
from lienthong.services.container import Container
from lienthong.services.decisions import (
    DecisionReceipt,
    DecisionSource,
    Recorded,
    record_decision,
)
from lienthong.services.poll_decisions import poll_overdue_decisions

logger = logging.getLogger(__name__)
AGENCIES_BY_SLUG = {agency_slug(agency): agency for agency in CALLED_AGENCIES}


def record_once_more_on_conflict(
    container: Container, agency: Agency, notice: DecisionNotice, source: DecisionSource
) -> DecisionReceipt:
    """Record; if a concurrent writer (the poller, a duplicate) won the row, read again:
    the second try finds the step decided and changes nothing."""
    try:
        return record_decision(container, agency, notice, source)
    except ConcurrentChange:
        return record_decision(container, agency, notice, source)


async def continue_after(container: Container, receipt: DecisionReceipt) -> None:
    """Continue the dossier's chain after a decision (never raises: the sweep catches up)."""
    if receipt.recorded is not Recorded.DECIDED or receipt.reference is None:
        return
    deploy = container.settings.api.run_chains_with_deployments
    try:
        how = await continue_dossier(container, receipt.reference, deploy=deploy)
        logger.info("dossier %s continued: %s", receipt.reference, how.value)
    except Exception:
        logger.exception(
            "dossier %s: decision recorded but its chain could not be continued; "
            "`lienthong run %s` or the sweep will",
            receipt.reference,
            receipt.reference,
        )


def build_router(container: Container) -> APIRouter:
    router = APIRouter(tags=["agency decisions"])

    @router.post(CALLBACK_PATH + "/{slug}")
    async def receive_decision(
        slug: str, request: Request, background: BackgroundTasks
    ) -> dict[str, Any]:
        """An agency's signed decision on one of its receipts (docs/agency-api.md).

        401: bad or stale signature; 400: unreadable notice; 404: unknown agency or
        receipt. A repeated, late or out-of-order decision is acknowledged (200) and changes
        nothing.
        """
        agency = AGENCIES_BY_SLUG.get(slug)
        if agency is None:
            raise HTTPException(404, f"no agency {slug!r}")
        body = await request.body()
        secret = container.settings.endpoint(agency).webhook_secret.get_secret_value()
        try:
            verify(
                secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(EVENT_ID_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                body,
                now=time.time(),
            )
        except InvalidSignature as exc:
            logger.warning("refused a %s decision callback: %s", agency.value, exc)
            raise HTTPException(401, f"invalid signature: {exc}") from exc
        try:
            notice = DecisionNotice.model_validate_json(body)
        except ValidationError as exc:
            raise HTTPException(400, "the body is not a decision notice") from exc
        receipt = await run_in_threadpool(
            record_once_more_on_conflict, container, agency, notice, DecisionSource.CALLBACK
        )
        if receipt.recorded is Recorded.UNKNOWN_RECEIPT:
            raise HTTPException(404, f"no step awaits receipt {notice.receipt_number!r}")
        background.add_task(continue_after, container, receipt)
        return {"receipt_number": notice.receipt_number, "recorded": receipt.recorded.value}

    return router


async def poll_once(container: Container) -> list[DecisionReceipt]:
    """Poll the overdue decisions once and continue the decided dossiers."""
    receipts = await poll_overdue_decisions(container)
    for receipt in receipts:
        await continue_after(container, receipt)
    return receipts


async def poll_forever(container: Container, interval: float) -> None:
    """The API's fallback for lost callbacks: poll every ``interval`` seconds (0: never)."""
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await poll_once(container)
        except Exception:
            logger.exception("polling for overdue decisions failed; trying again")
