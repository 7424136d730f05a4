"""What the services need to run, wired once per process by the composition root.

The container is built by :func:`lienthong.bootstrap.build_container` (production defaults:
the SQL unit of work, real HTTP, the system clock); tests build one over fakes
(tests/fakes.py). HTTP clients are made once per event loop and reused: an asyncio client
cannot outlive the loop it first ran on, and a serving process runs one loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from lienthong.adapters.agency_clients import AgencyClients
from lienthong.adapters.notifier import WebhookNotifier
from lienthong.models.clock import Clock
from lienthong.models.deadlines import Deadlines
from lienthong.services.unit_of_work import UnitOfWork
from lienthong.settings import Settings


class Closeable(Protocol):
    async def aclose(self) -> None: ...


ClientT = TypeVar("ClientT", bound=Closeable)


class PerLoop(Generic[ClientT]):
    """One ``make()`` per running event loop, made on first use, reused, closed with
    :meth:`aclose` before the loop ends (``bootstrap.run_async`` does)."""

    def __init__(self, make: Callable[[], ClientT]) -> None:
        self._make = make
        self._made: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClientT] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> ClientT:
        loop = asyncio.get_running_loop()
        client = self._made.get(loop)
        if client is None:
            client = self._made[loop] = self._make()
        return client

    async def aclose(self) -> None:
        """Close and forget the running loop's client, if one was made."""
        client = self._made.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


@dataclass
class Container:
    """The application's dependencies. Swap parts with ``dataclasses.replace``."""

    settings: Settings
    unit_of_work: Callable[[], UnitOfWork]
    deadlines: Deadlines
    clock: Clock
    agency_clients: PerLoop[AgencyClients]
    webhook_notifier: PerLoop[WebhookNotifier]
    # Releases what the composition root opened (the database engine).
    close: Callable[[], None] = field(default=lambda: None)

    async def aclose_clients(self) -> None:
        """Close the HTTP clients of the running event loop (before it ends)."""
        await self.agency_clients.aclose()
        await self.webhook_notifier.aclose()
