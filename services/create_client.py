"""Register a system allowed to call our API; its secret is returned once, kept hashed."""

from __future__ import annotations

from dataclasses import dataclass

from lienthong.models.client_secrets import credential, hash_secret, new_client_id, new_secret
from lienthong.models.clients import Client, Role
from lienthong.services.container import Container


class UnknownClient(LookupError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"no client {client_id!r}; `lienthong clients list` shows them")
        self.client_id = client_id


@dataclass(frozen=True)
class Issued:
    """A client and the credential to give it: ``token`` is shown once and never stored."""

    client: Client
    token: str


def create_client(container: Container, name: str, role: Role) -> Issued:
    secret = new_secret()
    client = Client(
        client_id=new_client_id(),
        name=name,
        role=role,
        secret_hash=hash_secret(secret, container.settings.api.client_secret_cost),
        created_at=container.clock.now(),
    )
    with container.unit_of_work() as uow:
        uow.clients.add(client)
        uow.commit()
    return Issued(client, credential(client.client_id, secret))
