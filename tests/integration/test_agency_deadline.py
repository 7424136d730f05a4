"""The overall deadline of an agency call, against a real server that drips its answer.

httpx's timeout is per read: an agency sending a byte every 0.2 s never trips a 1 s read
timeout. The call's own deadline ends it as a transient fault, on every attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from lienthong.adapters.agency_clients import build_agency_clients
from lienthong.adapters.errors import TransientAgencyError
from lienthong.models.status import Agency
from lienthong.settings import RetrySettings, Settings
from tests.unit.test_adapters import BIRTH

DRIP_INTERVAL_SECONDS = 0.2
# The whole answer would take 200 × 0.2 s = 40 s to arrive.
DRIPPED_BYTES = 200


class DrippingAgency:
    """An HTTP server that answers 200 and then sends its body one byte at a time."""

    def __init__(self) -> None:
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {DRIPPED_BYTES}\r\n\r\n".encode()
            )
            for _ in range(DRIPPED_BYTES):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(DRIP_INTERVAL_SECONDS)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up: what the test expects
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"


@pytest.fixture
async def dripping_agency() -> AsyncIterator[DrippingAgency]:
    agency = DrippingAgency()
    agency.server = await asyncio.start_server(agency.handle, "127.0.0.1", 0)
    try:
        yield agency
    finally:
        agency.server.close()


async def test_a_dripping_answer_is_cut_at_the_deadline_and_retried_as_transient(
    dripping_agency: DrippingAgency,
) -> None:
    retry = RetrySettings(
        max_attempts=2,
        max_seconds=30,
        initial_backoff_seconds=0,
        max_backoff_seconds=0,
        request_timeout_seconds=1.0,  # each byte comes well within it
        call_deadline_seconds=0.6,
    )
    settings = Settings(retry=retry, justice={"base_url": f"{dripping_agency.url}/justice"})
    clients = build_agency_clients(settings)
    started = time.monotonic()
    try:
        with pytest.raises(TransientAgencyError) as raised:
            await clients.justice.register_birth(BIRTH, "birth:HS-1")
    finally:
        await clients.aclose()
    elapsed = time.monotonic() - started

    assert raised.value.agency == Agency.JUSTICE
    assert "0.6 s deadline" in raised.value.message
    assert dripping_agency.requests == 2
    # Two attempts cut at 0.6 s each, not the 40 s the answer takes to drip: a bound with a
    # wide margin for a loaded machine, not a timing target.
    assert elapsed < DRIPPED_BYTES * DRIP_INTERVAL_SECONDS / 4
