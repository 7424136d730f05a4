"""The per-dossier guard: at most one run calls agencies for a dossier at a time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from lienthong.bootstrap import Container
from tasks import records

logger = logging.getLogger(__name__)
_POLL_SECONDS = 0.5


class DossierBusy(RuntimeError):
    """Another run holds the dossier and did not let go in time."""

    def __init__(self, reference: str, waited: float) -> None:
        super().__init__(
            f"dossier {reference} is being processed by another run "
            f"(waited {waited:.0f} s); try again when it has finished"
        )


async def _renew_forever(container: Container, reference: str, owner: str) -> None:
    while True:
        await asyncio.sleep(container.settings.lease_seconds / 3)
        renewed = await asyncio.to_thread(records.acquire_lease, container, reference, owner)
        if not renewed:  # pragma: no cover - only if the database clock jumps past the lease
            logger.error("lost the lease on dossier %s", reference)
            return


@contextlib.asynccontextmanager
async def dossier_lease(container: Container, reference: str, owner: str) -> AsyncIterator[None]:
    """Hold the dossier's lease for the block, renewing it; wait for another holder first.

    A run killed mid-chain stops renewing, so its lease lapses after ``lease_seconds``.
    """
    started = time.monotonic()
    while not await asyncio.to_thread(records.acquire_lease, container, reference, owner):
        waited = time.monotonic() - started
        if waited >= container.settings.lease_wait_seconds:
            raise DossierBusy(reference, waited)
        await asyncio.sleep(_POLL_SECONDS)
    renewer = asyncio.create_task(_renew_forever(container, reference, owner))
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        await asyncio.to_thread(records.release_lease, container, reference, owner)
