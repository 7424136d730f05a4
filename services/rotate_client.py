"""Give a client a new secret: the old one stops working at once (shown once, kept hashed)."""

from __future__ import annotations

from lienthong.models.client_secrets import credential, hash_secret, new_secret
from lienthong.services.container import Container
from lienthong.services.create_client import Issued, UnknownClient


def rotate_client(container: Container, client_id: str) -> Issued:
    """Raises :class:`UnknownClient` for an unknown or revoked client."""
    secret = new_secret()
    with container.unit_of_work() as uow:
        client = uow.clients.find(client_id)
        if client is None or not client.active:
            raise UnknownClient(client_id)
        client.secret_hash = hash_secret(secret, container.settings.api.client_secret_cost)
        client.rotated_at = container.clock.now()
        uow.clients.save(client)
        uow.commit()
    return Issued(client, credential(client.client_id, secret))
