"""Webhook receivers, one per agency slug: verify (Standard Webhooks), de-duplicate by
webhook-id, record.

A body is read up to ``max_body_bytes`` and no further (413 past it) before its signature is
checked: an unauthenticated sender must not make the receiver hold megabytes. A signed body
that is not UTF-8 JSON is the sender's mistake (400), never the receiver's (500).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lienthong.models.contract.http import agency_slug
from lienthong.models.contract.messages import ProblemOutcome
from lienthong.models.contract.signing import TIMESTAMP_HEADER, InvalidSignature, verify
from lienthong.models.limits import DEFAULT_MAX_WEBHOOK_BODY_BYTES
from lienthong.models.status import Agency
from lienthong.simulator.protocol import ProblemError, invalid_request
from lienthong.simulator.settings import AgencyCredentials
from lienthong.simulator.store import SimulatorStore


async def read_capped_body(request: Request, max_bytes: int) -> bytes:
    """The request's body, refused with 413 as soon as it is longer than ``max_bytes``."""
    declared = request.headers.get("content-length", "")
    too_large = ProblemError(
        413, ProblemOutcome.INVALID_REQUEST, f"the body is larger than {max_bytes} bytes"
    )
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


def build_router(
    store: SimulatorStore,
    credentials: Mapping[Agency, AgencyCredentials],
    max_body_bytes: int = DEFAULT_MAX_WEBHOOK_BODY_BYTES,
) -> APIRouter:
    secrets = {agency_slug(agency): credentials[agency].webhook_secret for agency in Agency}
    router = APIRouter(tags=["webhooks"])

    def secret_for(slug: str) -> str:
        if slug not in secrets:
            raise ProblemError(404, ProblemOutcome.INVALID_REQUEST, f"no receiver {slug!r}")
        return secrets[slug]

    @router.post("/{slug}")
    async def receive(slug: str, request: Request) -> JSONResponse:
        """Accept a signed notification once; a repeated event id is acknowledged, not kept."""
        secret = secret_for(slug)
        body = await read_capped_body(request, max_body_bytes)
        headers = request.headers
        try:
            # Standard Webhooks: the signature covers the webhook-id, so a captured request
            # replayed under a new id does not verify, and cannot pass as a new notification.
            event_id = verify([secret], headers, body, now=time.time())
        except InvalidSignature as exc:
            raise ProblemError(401, ProblemOutcome.UNAUTHORIZED, str(exc)) from exc
        try:
            json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise invalid_request("the body is not UTF-8") from exc
        except (ValueError, RecursionError) as exc:
            raise invalid_request("the body is not JSON") from exc
        timestamp = int(headers[TIMESTAMP_HEADER])
        new = await run_in_threadpool(store.receive_webhook, slug, event_id, timestamp, body)
        return JSONResponse({"event_id": event_id, "duplicate": not new})

    @router.get("/{slug}/received")
    async def received(slug: str) -> list[dict[str, Any]]:
        """Every notification received, in arrival order, each event id once."""
        secret_for(slug)
        return await run_in_threadpool(store.received_webhooks, slug)

    return router
