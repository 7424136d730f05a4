"""Revoke a client: its credential is refused from now on; the record stays for the audit."""

from __future__ import annotations

from lienthong.models.clients import Client
from lienthong.services.container import Container
from lienthong.services.create_client import UnknownClient


def revoke_client(container: Container, client_id: str) -> Client:
    """Raises :class:`UnknownClient`; revoking a revoked client changes nothing."""
    with container.unit_of_work() as uow:
        client = uow.clients.find(client_id)
        if client is None:
            raise UnknownClient(client_id)
        if client.active:
            client.revoked_at = container.clock.now()
            uow.clients.save(client)
            uow.commit()
        return client
