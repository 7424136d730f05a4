"""Agencies' decisions: the signed callback, and the poller that asks when one is overdue.

A callback is a Standard Webhook (models/contract/signing.py) signed with the agency's
secret: the secret is the agency system's identity. A signature made with another agency's
secret, or a decision on another agency's receipt, is that agency acting outside its own
decisions: a 403, kept on the audit trail. A replayed webhook-id is refused (409).

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

from lienthong.api.bodies import read_bounded
from lienthong.flows.continuation import continue_dossier
from lienthong.models.contract.decisions import CALLBACK_PATH, DecisionNotice
from lienthong.models.contract.http import CALLED_AGENCIES, agency_slug
from lienthong.models.contract.signing import InvalidSignature, verify
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
from lienthong.services.refusals import record_refused

logger = logging.getLogger(__name__)
AGENCIES_BY_SLUG = {agency_slug(agency): agency for agency in CALLED_AGENCIES}


def record_once_more_on_conflict(
    container: Container,
    agency: Agency,
    notice: DecisionNotice,
    source: DecisionSource,
    webhook_id: str | None = None,
) -> DecisionReceipt:
    """Record; if a concurrent writer (the poller, a duplicate) won the row, read again:
    the second try finds the step decided and changes nothing."""
    try:
        return record_decision(container, agency, notice, source, webhook_id)
    except ConcurrentChange:
        return record_decision(container, agency, notice, source, webhook_id)


def signer(
    container: Container, claimed: Agency, headers: Any, body: bytes
) -> tuple[Agency, str] | None:
    """Which agency's active secrets signed this callback, and its webhook-id; None if none
    did (or it is stale). The agency the callback claims to be is tried first."""
    for agency in sorted(CALLED_AGENCIES, key=lambda a: a is not claimed):
        secrets = container.settings.endpoint(agency).webhook_secrets()
        try:
            return agency, verify(secrets, headers, body, now=time.time())
        except InvalidSignature:
            continue
    return None


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

    async def refuse(agency: Agency, reason: str, reference: str) -> None:
        """403, kept on the audit trail with the agency system as the actor."""
        actor = f"agency:{agency.value}"
        await run_in_threadpool(record_refused, container, actor, reason, reference)
        raise HTTPException(403, f"agency {agency.value} may post only its own decisions")

    @router.post(CALLBACK_PATH + "/{slug}")
    async def receive_decision(
        slug: str, request: Request, background: BackgroundTasks
    ) -> dict[str, Any]:
        """An agency's decision on one of its receipts, a Standard Webhook signed with the
        agency's secret (docs/agency-api.md).

        401: no valid, fresh signature; 403 (audited): signed by another agency, or a
        decision on another agency's receipt; 409: this webhook-id was accepted before (a
        replay); 400: unreadable notice; 404: unknown agency or receipt; 413: body too
        large. A repeated, late or out-of-order decision under a new webhook-id is
        acknowledged (200) and changes nothing.
        """
        agency = AGENCIES_BY_SLUG.get(slug)
        if agency is None:
            raise HTTPException(404, f"no agency {slug!r}")
        body = await read_bounded(request, container.settings.limits.max_webhook_body_bytes)
        signed = signer(container, agency, request.headers, body)
        if signed is None:
            logger.warning("refused a %s decision callback: no valid signature", agency.value)
            raise HTTPException(401, "no valid Standard Webhooks signature (or a stale one)")
        sender, webhook_id = signed
        if sender is not agency:
            await refuse(sender, f"signed by {sender.value}, posted as {agency.value}", "")
        try:
            notice = DecisionNotice.model_validate_json(body)
        except ValidationError as exc:
            raise HTTPException(400, "the body is not a decision notice") from exc
        receipt = await run_in_threadpool(
            record_once_more_on_conflict,
            container,
            agency,
            notice,
            DecisionSource.CALLBACK,
            webhook_id,
        )
        if receipt.recorded is Recorded.REPLAYED:
            raise HTTPException(409, f"webhook-id {webhook_id} was accepted before: a replay")
        if receipt.recorded is Recorded.NOT_ITS_OWN:
            reason = f"{agency.value} decided receipt {notice.receipt_number}, not its own"
            await refuse(agency, reason, notice.dossier_reference)
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
