"""The composition root: production defaults built once, overridable by tests.

:func:`build_container` wires the SQL unit of work, the agency and webhook clients, the
deadlines and the clock from settings. Prefect calls tasks with plain parameters (a dossier
reference), so tasks and flows ask :func:`current_container` for their dependencies: the
container installed for the current context with :func:`use_container` (the CLI, the demo,
tests), or else one built from the environment once per process (a worker or ``lienthong
serve`` running a flow run in a fresh process).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import httpx

from lienthong.adapters.agency_clients import build_agency_clients
from lienthong.adapters.database import make_engine, make_session_factory
from lienthong.adapters.notifier import WebhookNotifier
from lienthong.adapters.sql_unit_of_work import SqlUnitOfWork
from lienthong.adapters.system_clock import SystemClock
from lienthong.models.clock import Clock
from lienthong.models.deadlines import Deadlines
from lienthong.services.container import Container, PerLoop
from lienthong.settings import Settings

T = TypeVar("T")
_installed: ContextVar[Container | None] = ContextVar("lienthong_container", default=None)


def build_container(
    settings: Settings | None = None,
    clock: Clock | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> Container:
    """The application on ``settings`` (default: the environment).

    ``http_transport`` (e.g. ``httpx.MockTransport``) replaces the network for every client.
    """
    settings = settings or Settings()
    engine = make_engine(settings.resolved_database_url())
    session_factory = make_session_factory(engine)
    return Container(
        settings=settings,
        unit_of_work=lambda: SqlUnitOfWork(session_factory),
        deadlines=Deadlines.from_settings(settings.calendar),
        clock=clock or SystemClock(),
        agency_clients=PerLoop(lambda: build_agency_clients(settings, http_transport)),
        webhook_notifier=PerLoop(
            lambda: WebhookNotifier(
                settings.outbox.request_timeout_seconds, transport=http_transport
            )
        ),
        close=engine.dispose,
    )


@functools.cache
def _process_container() -> Container:
    return build_container()


def current_container() -> Container:
    """The container of this context, or the process's own, built on first use."""
    return _installed.get() or _process_container()


def run_async(main: Coroutine[Any, Any, T], container: Container | None = None) -> T:
    """``asyncio.run(main)``, closing the container's clients of that loop at the end.

    For entry points that run flows or services in this process (the CLI, the demo).
    """
    return asyncio.run(_closing(main, container or current_container()))


async def _closing(main: Coroutine[Any, Any, T], container: Container) -> T:
    try:
        return await main
    finally:
        await container.aclose_clients()


@contextlib.contextmanager
def use_container(container: Container) -> Iterator[Container]:
    """Make ``container`` the current one inside the block (and the tasks it runs)."""
    token = _installed.set(container)
    try:
        yield container
    finally:
        _installed.reset(token)
