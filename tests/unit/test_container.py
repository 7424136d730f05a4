"""The composition root's per-event-loop clients and the current container."""

from __future__ import annotations

import asyncio

import httpx

from lienthong.adapters.agency_clients import AgencyClients, build_agency_clients
from lienthong.bootstrap import current_container, run_async, use_container
from lienthong.services.container import PerLoop
from tests.fakes import fake_container


class Client:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def test_one_client_per_loop_reused_within_it_and_closed_at_its_end() -> None:
    made: list[Client] = []

    def make() -> Client:
        made.append(Client())
        return made[-1]

    clients = PerLoop(make)

    async def use_twice() -> bool:
        first = clients.get()
        same = clients.get() is first
        await clients.aclose()
        return same

    assert asyncio.run(use_twice())
    assert asyncio.run(use_twice())
    assert len(made) == 2, "a new loop gets a client of its own"
    assert all(client.closed for client in made)


def test_run_async_closes_the_clients_of_its_loop() -> None:
    container, _ = fake_container()
    made: list[AgencyClients] = []

    def make() -> AgencyClients:
        made.append(
            build_agency_clients(
                container.settings, httpx.MockTransport(lambda request: httpx.Response(200))
            )
        )
        return made[-1]

    container.agency_clients = PerLoop(make)

    async def call_an_agency() -> str:
        container.agency_clients.get()
        return "done"

    assert run_async(call_an_agency(), container) == "done"
    assert len(made) == 1
    assert made[0].justice._http.is_closed


def test_the_installed_container_is_current_inside_the_block_and_its_tasks() -> None:
    container, _ = fake_container()

    async def seen_by_a_task() -> object:
        return await asyncio.create_task(asyncio.to_thread(current_container))

    with use_container(container):
        assert current_container() is container
        assert asyncio.run(seen_by_a_task()) is container
