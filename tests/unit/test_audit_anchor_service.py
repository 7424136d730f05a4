"""Anchoring the audit head: only a verified trail is anchored; the anchor is sent signed
to the province, as a duplicate when it is sent again."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from lienthong.adapters.notifier import WebhookNotifier
from lienthong.models.audit import Anchor
from lienthong.models.clock import ManualClock
from lienthong.models.contract.signing import ID_HEADER, verify, webhook_secret
from lienthong.services.audit_anchor import (
    AnchorNotDelivered,
    AuditTrailNotIntact,
    send_anchor,
    verified_anchor,
)
from lienthong.services.container import Container, PerLoop
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.settings import AuditAnchorSettings, Settings
from tests.fakes import FakeStore, fake_container
from tests.helpers import example

SECRET = webhook_secret(b"the-province-anchor-key")
PROVINCE = AuditAnchorSettings(url="https://province.example/anchors", secret=SecretStr(SECRET))


def _with_a_dossier(
    settings: Settings | None = None, transport: httpx.MockTransport | None = None
) -> tuple[Container, FakeStore]:
    changes = {}
    if transport is not None:
        changes["webhook_notifier"] = PerLoop(lambda: WebhookNotifier(5, transport=transport))
    clock = ManualClock(datetime.now(UTC))  # after the example's receipt
    container, store = fake_container(clock, settings=settings, **changes)
    assert receive(container, example("birth-valid"), Actor("operator-1")).accepted
    return container, store


def test_the_anchor_is_the_verified_head() -> None:
    container, store = _with_a_dossier()

    payload = verified_anchor(container, None)

    head = store.audit[-1]
    assert payload == {
        "event_id": head.id,
        "head": head.hash,
        "events": len(store.audit),
        "anchored_at": container.clock.now().isoformat(),
    }
    assert verified_anchor(container, Anchor(head.hash, head.id))["head"] == head.hash


def test_a_trail_that_lost_the_last_anchor_or_differs_from_the_rows_is_not_anchored() -> None:
    container, store = _with_a_dossier()
    with pytest.raises(AuditTrailNotIntact, match="no longer in the chain"):
        verified_anchor(container, Anchor("f" * 64, 99))

    store.dossiers.clear()  # rows gone, events kept
    with pytest.raises(AuditTrailNotIntact, match="1 difference between"):
        verified_anchor(container, None)


async def test_the_anchor_is_sent_signed_with_the_anchored_event_as_its_id() -> None:
    received: list[httpx.Request] = []

    def province(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    settings = Settings(audit_anchor=PROVINCE)
    container, _ = _with_a_dossier(settings, httpx.MockTransport(province))
    payload = verified_anchor(container, None)

    assert await send_anchor(container, payload) is True

    (request,) = received
    assert str(request.url) == PROVINCE.url
    assert json.loads(request.content) == payload
    assert request.headers[ID_HEADER] == f"audit-anchor-{payload['event_id']}"
    now = int(request.headers["webhook-timestamp"])
    assert verify([SECRET], request.headers, request.content, now=now)
    await container.webhook_notifier.aclose()


async def test_an_unacknowledged_anchor_raises_for_the_flow_to_retry() -> None:
    settings = Settings(audit_anchor=PROVINCE)
    container, _ = _with_a_dossier(settings, httpx.MockTransport(lambda _: httpx.Response(503)))

    with pytest.raises(AnchorNotDelivered, match="HTTP 503"):
        await send_anchor(container, verified_anchor(container, None))
    await container.webhook_notifier.aclose()


async def test_without_a_province_url_nothing_is_sent() -> None:
    container, _ = _with_a_dossier()

    assert await send_anchor(container, verified_anchor(container, None)) is False
