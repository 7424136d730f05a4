"""Fault injection: an ASGI middleware in front of the agency and webhook endpoints.

What it can do to a POST, drawn per request from :class:`SimulatorFaultSettings`:
latency, 429 with Retry-After, 500, 503, a hang ("timeout", processed afterwards), a dropped
connection before processing, and the nasty one: processed and committed, then the
connection dropped so the caller never learns the outcome and must retry with the same
idempotency key. Outage windows answer 503 with Retry-After until the window ends.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lienthong.models.contract.http import WEBHOOKS_PREFIX
from lienthong.simulator.settings import FaultProfile, SimulatorFaultSettings


class Fault(StrEnum):
    NONE = "none"
    OUTAGE = "outage"
    RATE_LIMIT = "rate_limit"
    ERROR_500 = "error_500"
    ERROR_503 = "error_503"
    TIMEOUT = "timeout"
    DROP = "drop"
    PROCESSED_THEN_DROP = "processed_then_drop"


@dataclass(frozen=True)
class Draw:
    fault: Fault
    latency_seconds: float
    retry_after_seconds: int
    hang_seconds: float


class FaultController:
    """The current fault settings and the seeded random source. Used on the event loop only."""

    def __init__(self, settings: SimulatorFaultSettings) -> None:
        # How many of each fault were injected since start, per "agencies"/"webhooks".
        self.injected: Counter[str] = Counter()
        self.replace(settings)

    @property
    def settings(self) -> SimulatorFaultSettings:
        return self._settings

    def replace(self, settings: SimulatorFaultSettings) -> None:
        """Install new settings; resets the random source and the ``fail_first`` counters."""
        self._settings = settings
        self._rng = random.Random(settings.seed)
        self._fail_first = {
            "agencies": settings.agencies.fail_first,
            "webhooks": settings.webhooks.fail_first,
        }

    def draw(self, scope_kind: str, slug: str, now: datetime) -> Draw:
        profile: FaultProfile = getattr(self._settings, scope_kind)
        latency = (profile.latency_ms + self._rng.uniform(0, profile.latency_jitter_ms)) / 1000
        for window in self._settings.outages:
            applies = not window.agencies or slug in window.agencies
            if applies and window.start <= now < window.end:
                retry_after = math.ceil((window.end - now).total_seconds())
                self.injected[f"{scope_kind}.{Fault.OUTAGE}"] += 1
                return Draw(Fault.OUTAGE, latency, retry_after, 0.0)
        fault = self._pick(scope_kind, profile)
        self.injected[f"{scope_kind}.{fault}"] += 1
        return Draw(fault, latency, profile.retry_after_seconds, profile.timeout_seconds)

    def _pick(self, scope_kind: str, profile: FaultProfile) -> Fault:
        if self._fail_first[scope_kind] > 0:
            self._fail_first[scope_kind] -= 1
            return Fault.ERROR_503
        roll = self._rng.random()
        for fault, rate in (
            (Fault.RATE_LIMIT, profile.rate_limit_rate),
            (Fault.ERROR_500, profile.error_500_rate),
            (Fault.ERROR_503, profile.error_503_rate),
            (Fault.TIMEOUT, profile.timeout_rate),
            (Fault.DROP, profile.drop_rate),
            (Fault.PROCESSED_THEN_DROP, profile.processed_then_drop_rate),
        ):
            if roll < rate:
                return fault
            roll -= rate
        return Fault.NONE


class FaultMiddleware:
    def __init__(self, app: ASGIApp, controller: FaultController, agency_slugs: set[str]) -> None:
        self._app = app
        self._controller = controller
        self._agency_slugs = agency_slugs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self._target(scope)
        if target is None:
            await self._app(scope, receive, send)
            return
        draw = self._controller.draw(*target, now=datetime.now(UTC))
        if draw.latency_seconds:
            await asyncio.sleep(draw.latency_seconds)
        match draw.fault:
            case Fault.NONE:
                await self._app(scope, receive, send)
            case Fault.OUTAGE | Fault.ERROR_503:
                await _problem(send, 503, "unavailable", "simulated outage", draw)
            case Fault.RATE_LIMIT:
                await _problem(send, 429, "rate_limited", "simulated rate limit", draw)
            case Fault.ERROR_500:
                await _problem(send, 500, "server_error", "simulated server error", None)
            case Fault.TIMEOUT:
                await self._hang_then_process(scope, receive, draw.hang_seconds)
            case Fault.DROP:
                await _drop(send)
            case Fault.PROCESSED_THEN_DROP:
                await self._app(scope, receive, _discard)
                await _drop(send)

    def _target(self, scope: Scope) -> tuple[str, str] | None:
        """("agencies"|"webhooks", slug) for a POST that faults apply to, else None."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        parts = scope["path"].strip("/").split("/")
        if parts[0] in self._agency_slugs:
            return "agencies", parts[0]
        if parts[0] == WEBHOOKS_PREFIX.strip("/") and len(parts) > 1:
            return "webhooks", parts[1]
        return None

    async def _hang_then_process(self, scope: Scope, receive: Receive, seconds: float) -> None:
        """Read the request, hang past the caller's patience, then process it for real
        (a slow back end: the caller times out but the registration still happens)."""
        body = await _read_body(receive)
        await asyncio.sleep(seconds)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, replay, _discard)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _discard(_: Message) -> None:
    """A ``send`` that throws the answer away."""


async def _drop(send: Send) -> None:
    """Start a response that promises a body, then stop: the server closes the connection
    and the client sees it dropped mid-answer, without a usable response."""
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
    )


async def _problem(send: Send, status: int, outcome: str, reason: str, draw: Draw | None) -> None:
    body = json.dumps({"outcome": outcome, "reason": reason, "missing_items": []}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if draw is not None:
        headers.append((b"retry-after", str(draw.retry_after_seconds).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
