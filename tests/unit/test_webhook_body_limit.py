"""The simulator's webhook receiver reads a body only up to its limit (issue 10, point 3):
an endless body sent without a length is stopped there, before any signature check."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.types import Message

from lienthong.simulator.protocol import ProblemError
from lienthong.simulator.webhooks import read_capped_body

CHUNK = 64 * 1024


class EndlessUpload:
    """ASGI ``receive``: body chunks forever, counting how many were taken."""

    def __init__(self) -> None:
        self.taken = 0

    async def __call__(self) -> Message:
        self.taken += 1
        return {"type": "http.request", "body": b" " * CHUNK, "more_body": True}


def request(receive: EndlessUpload, headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers or []}
    return Request(scope, receive)


async def test_an_endless_body_is_read_up_to_the_limit_and_refused() -> None:
    upload = EndlessUpload()
    with pytest.raises(ProblemError) as caught:
        await read_capped_body(request(upload), 256 * 1024)
    assert caught.value.status_code == 413
    assert upload.taken == 256 * 1024 // CHUNK + 1


async def test_a_declared_length_past_the_limit_is_refused_without_reading() -> None:
    upload = EndlessUpload()
    declared = [(b"content-length", str(10**9).encode())]
    with pytest.raises(ProblemError):
        await read_capped_body(request(upload, declared), 256 * 1024)
    assert upload.taken == 0
