"""Deliver one webhook, signed as Standard Webhooks specify. No retrying here: the outbox
owns retries and records every attempt, so each call reports exactly what happened on this
one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from lienthong.adapters.tls import shared_ssl_context
from lienthong.models.contract.signing import signed_headers


@dataclass(frozen=True)
class DeliveryOutcome:
    """One attempt: the HTTP status we got, or the transport error, and how long it took."""

    status_code: int | None
    error: str | None
    duration_seconds: float

    @property
    def delivered(self) -> bool:
        """Acknowledged: the receiver answered 2xx (a duplicate is acknowledged too)."""
        return self.status_code is not None and 200 <= self.status_code < 300


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Canonical JSON: the bytes signed are exactly the bytes sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


class WebhookNotifier:
    def __init__(
        self,
        timeout_seconds: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._http = httpx.AsyncClient(
            transport=transport, verify=shared_ssl_context(), timeout=timeout_seconds
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def deliver(
        self, url: str, secrets: Sequence[str], event_id: str, payload: Mapping[str, Any]
    ) -> DeliveryOutcome:
        """POST ``payload`` to ``url`` signed with each of ``secrets`` (the receiver's active
        ones, newest first). Never raises for HTTP trouble.

        ``event_id`` (``webhook-id``) must be the same on every attempt for one
        notification: receivers use it to drop duplicates. It is signed with the timestamp
        and the body (see :mod:`lienthong.models.contract.signing`), so it must match
        ``EVENT_ID_PATTERN`` (a UUID does).
        """
        body = encode_payload(payload)
        headers = signed_headers(secrets, event_id, int(self._clock()), body)
        headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return DeliveryOutcome(None, f"{type(exc).__name__}: {exc}", _since(started))
        error = None if response.is_success else f"HTTP {response.status_code}"
        return DeliveryOutcome(response.status_code, error, _since(started))


def _since(started: float) -> float:
    return time.monotonic() - started
