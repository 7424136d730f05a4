"""The per-dossier run guard: at most one run calls agencies for a dossier at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from lienthong.services.container import Container


def _from_now(container: Container) -> tuple[datetime, timedelta]:
    """Now, and a lease's life (``lease_seconds``): when a lease taken or renewed now ends."""
    return container.clock.now(), timedelta(seconds=container.settings.lease_seconds)


def acquire_lease(container: Container, reference: str, owner: str) -> bool:
    """Take the dossier's lease for ``owner``; False while another run holds it.

    A lease left by a dead process expires after ``lease_seconds``.
    """
    with container.unit_of_work() as uow:
        taken = uow.dossiers.acquire_lease(reference, owner, *_from_now(container))
        uow.commit()
        return taken


def renew_lease(container: Container, reference: str, owner: str) -> bool:
    """Extend ``owner``'s lease by ``lease_seconds``; False if it holds it no more."""
    with container.unit_of_work() as uow:
        renewed = uow.dossiers.renew_lease(reference, owner, *_from_now(container))
        uow.commit()
        return renewed


def release_lease(container: Container, reference: str, owner: str) -> None:
    with container.unit_of_work() as uow:
        uow.dossiers.release_lease(reference, owner)
        uow.commit()
