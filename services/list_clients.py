"""The systems allowed to call our API, for the administrator (no secrets, no hashes shown)."""

from __future__ import annotations

from lienthong.models.clients import Client
from lienthong.services.container import Container


def list_clients(container: Container) -> list[Client]:
    with container.unit_of_work() as uow:
        return uow.clients.all()
