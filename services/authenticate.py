"""Who is calling: the active client whose secret matches the credential, or nobody."""

from __future__ import annotations

from lienthong.models.client_secrets import secret_matches, split_credential
from lienthong.models.clients import Client
from lienthong.services.container import Container


def authenticate(container: Container, token: str) -> Client | None:
    """The client for ``<client id>.<secret>``; None if unknown, revoked or wrong."""
    parts = split_credential(token)
    if parts is None:
        return None
    client_id, secret = parts
    with container.unit_of_work() as uow:
        client = uow.clients.find(client_id[:32])
    if client is None or not client.active or not secret_matches(secret, client.secret_hash):
        return None
    return client


def active_client(container: Container, client_id: str) -> Client | None:
    """The client ``client_id`` if it is still active (a desk session names it, each request)."""
    with container.unit_of_work() as uow:
        client = uow.clients.find(client_id[:32])
    return client if client is not None and client.active else None
