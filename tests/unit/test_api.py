"""Our API's decision callback, on the fake unit of work: what it refuses before reading,
and what it answers for notices that change nothing (services/decisions.py decides)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from lienthong.api import create_app
from lienthong.models.clock import ManualClock
from lienthong.models.contract.decisions import CALLBACK_PATH, DecisionNotice
from lienthong.models.contract.http import development_webhook_secret
from lienthong.models.contract.signing import signed_headers, webhook_secret
from lienthong.models.status import Agency, StepKind, StepStatus
from lienthong.services.agency_calls import AgencyOutcome
from lienthong.services.begin_step import begin_step
from lienthong.services.container import Container
from lienthong.services.decisions import DecisionSource, Recorded, record_decision
from lienthong.services.finish_step import finish_step
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.step_outcomes import StepOutcome, granted
from lienthong.settings import ApiSettings, Settings
from tests.fakes import FakeStore, fake_container
from tests.helpers import example

NOTICE = {
    "receipt_number": "BN-POLICE-00000001",
    "dossier_reference": "HT-2026-001001",
    "outcome": "granted",
    "result": {"registration_number": "TT-1"},
}
SECRET = development_webhook_secret(Agency.POLICE)
Waiting = tuple[httpx.AsyncClient, FakeStore, dict[str, object], Container]


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, FakeStore]]:
    settings = Settings(api=ApiSettings(poll_interval_seconds=0))
    container, store = fake_container(settings=settings)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, store


async def post(
    client: httpx.AsyncClient,
    body: bytes,
    secret: str = SECRET,
    slug: str = "police",
    event_id: str = "event-1",
) -> int:
    headers = signed_headers([secret], event_id, int(time.time()), body)
    response = await client.post(f"{CALLBACK_PATH}/{slug}", content=body, headers=headers)
    return response.status_code


async def test_a_forged_or_unsigned_callback_is_refused(
    api: tuple[httpx.AsyncClient, FakeStore],
) -> None:
    client, store = api
    body = json.dumps(NOTICE).encode()

    stranger = webhook_secret(b"not-the-police-secret-at-all")
    assert await post(client, body, secret=stranger) == 401
    assert (await client.post(f"{CALLBACK_PATH}/police", content=body)).status_code == 401
    assert store.audit == []


async def test_an_agency_posting_as_another_is_refused_and_audited(
    api: tuple[httpx.AsyncClient, FakeStore],
) -> None:
    client, store = api
    body = json.dumps(NOTICE).encode()

    assert await post(client, body, secret=development_webhook_secret(Agency.JUSTICE)) == 403
    assert [(e.record.actor, e.record.action) for e in store.audit] == [
        ("agency:justice", "access_refused")
    ]


async def test_unknown_agencies_unreadable_notices_and_unknown_receipts(
    api: tuple[httpx.AsyncClient, FakeStore],
) -> None:
    client, store = api

    assert await post(client, json.dumps(NOTICE).encode(), slug="commune") == 404
    assert await post(client, b'{"outcome": "granted"}') == 400
    assert await post(client, json.dumps(NOTICE).encode()) == 404, "no step holds this receipt"
    assert store.audit == []
    assert (await client.get("/health")).json() == {"status": "ok"}


@pytest.fixture
async def waiting_api(
    clock: ManualClock,
) -> AsyncIterator[Waiting]:
    """The police step of a dossier awaits a decision; the notice that grants it."""
    settings = Settings(api=ApiSettings(poll_interval_seconds=0, start_chains=False))
    container, store = fake_container(settings=settings, clock=clock)
    reference = "HT-2026-001001"
    assert receive(container, example(f"demo/{reference}"), Actor("operator-1")).accepted
    run = Actor("system", "run-1")
    begin_step(container, reference, StepKind.BIRTH_REGISTRATION, run)
    finish_step(
        container, reference, StepKind.BIRTH_REGISTRATION, granted(AgencyOutcome("KS-1", {})), run
    )
    begin_step(container, reference, StepKind.RESIDENCE_REGISTRATION, run)
    waiting = StepOutcome(StepStatus.AWAITING_DECISION, receipt_number="BN-POLICE-00000001")
    finish_step(container, reference, StepKind.RESIDENCE_REGISTRATION, waiting, run)
    result = {
        "dossier_reference": reference,
        "registration_number": "TT-00000042",
        "personal_id": "079226000123",
        "address": "12 Lê Lợi, Phường Bến Nghé",
        "registered_at": "2026-11-24T03:00:00Z",
    }
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, store, {**NOTICE, "result": result}, container


async def test_a_replayed_webhook_id_is_refused_and_changes_nothing(
    waiting_api: Waiting,
) -> None:
    client, store, notice, container = waiting_api
    body = json.dumps(notice).encode()
    # Accepted once (straight through the service: no chain to continue in a unit test).
    first = record_decision(
        container,
        Agency.POLICE,
        DecisionNotice.model_validate(notice),
        DecisionSource.CALLBACK,
        webhook_id="msg-7",
    )
    assert first.recorded is Recorded.DECIDED
    audit, commits = len(store.audit), store.commits

    assert await post(client, body, event_id="msg-7") == 409
    refused = json.dumps({**notice, "outcome": "refused", "reason": "x"}).encode()
    assert await post(client, refused, event_id="msg-7") == 409
    assert (len(store.audit), store.commits) == (audit, commits)
    step = store.dossiers["HT-2026-001001"].step(StepKind.RESIDENCE_REGISTRATION)
    assert step.status == StepStatus.SUCCEEDED


async def test_a_stale_callback_is_refused_and_changes_nothing(
    waiting_api: Waiting,
) -> None:
    client, store, notice, _ = waiting_api
    body = json.dumps(notice).encode()
    audit = len(store.audit)
    headers = signed_headers([SECRET], "msg-old", int(time.time()) - 301, body)

    response = await client.post(f"{CALLBACK_PATH}/police", content=body, headers=headers)

    assert response.status_code == 401
    assert len(store.audit) == audit
