"""Our API's decision callback, on the fake unit of work: what it refuses before reading,
and what it answers for notices that change nothing (services/decisions.py decides)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from lienthong.api import create_app
from lienthong.models.contract.decisions import CALLBACK_PATH
from lienthong.models.contract.http import development_webhook_secret
from lienthong.models.contract.signing import signed_headers
from lienthong.models.status import Agency
from lienthong.settings import ApiSettings, Settings
from tests.fakes import FakeStore, fake_container

NOTICE = {
    "receipt_number": "BN-POLICE-00000001",
    "dossier_reference": "HT-2026-001001",
    "outcome": "granted",
    "result": {"registration_number": "TT-1"},
}
SECRET = development_webhook_secret(Agency.POLICE)


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, FakeStore]]:
    settings = Settings(api=ApiSettings(poll_interval_seconds=0))
    container, store = fake_container(settings=settings)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, store


async def post(
    client: httpx.AsyncClient, body: bytes, secret: str = SECRET, slug: str = "police"
) -> int:
    headers = signed_headers(secret, "event-1", int(time.time()), body)
    response = await client.post(f"{CALLBACK_PATH}/{slug}", content=body, headers=headers)
    return response.status_code


async def test_a_forged_or_unsigned_callback_is_refused(
    api: tuple[httpx.AsyncClient, FakeStore],
) -> None:
    client, store = api
    body = json.dumps(NOTICE).encode()

    assert await post(client, body, secret="not-the-police-secret") == 401
    assert (await client.post(f"{CALLBACK_PATH}/police", content=body)).status_code == 401
    assert await post(client, body, secret=development_webhook_secret(Agency.JUSTICE)) == 401
    assert store.audit == []


async def test_unknown_agencies_unreadable_notices_and_unknown_receipts(
    api: tuple[httpx.AsyncClient, FakeStore],
) -> None:
    client, store = api

    assert await post(client, json.dumps(NOTICE).encode(), slug="commune") == 404
    assert await post(client, b'{"outcome": "granted"}') == 400
    assert await post(client, json.dumps(NOTICE).encode()) == 404, "no step holds this receipt"
    assert store.audit == []
    assert (await client.get("/health")).json() == {"status": "ok"}
