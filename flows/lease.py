"""The per-dossier guard around a chain run: at most one run calls agencies for a dossier.

The one write a flow makes outside a task: the lease is the run's guard, not a step's work
(a task per renewal would put one in the UI every few seconds); it goes through the lease
service like every other write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from lienthong.adapters.database import DatabaseUnavailable
from lienthong.flows.outage import through_outage
from lienthong.services.container import Container
from lienthong.services.leases import acquire_lease, release_lease, renew_lease
from lienthong.tasks.steps import in_database

logger = logging.getLogger(__name__)
# How often a waiting run asks again: often enough to notice within a fraction of a lease.
_MAX_POLL_SECONDS = 0.5


class DossierBusy(RuntimeError):
    """Another run holds the dossier and did not let go in time."""

    def __init__(self, reference: str, waited: float) -> None:
        super().__init__(
            f"dossier {reference} is being processed by another run "
            f"(waited {waited:.0f} s); try again when it has finished"
        )


class LeaseLost(RuntimeError):
    """Another run may hold the dossier now: this run stopped calling agencies."""

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"lost the lease on dossier {reference} (renewal failed or came too late); "
            "the run stopped and its step resumes safely on the next run"
        )


async def _renew_until_lost(container: Container, reference: str, owner: str) -> None:
    """Renew the lease every third of its life; return when it could not be renewed.

    Renewal fails when the lease lapsed meanwhile (the event loop or the database stalled
    longer than the lease, or the hosts' clocks disagree) and another run took it.
    """
    lease_seconds = container.settings.lease_seconds
    renewed_at = time.monotonic()
    while True:
        await asyncio.sleep(lease_seconds / 3)
        try:
            renewed = await in_database(renew_lease, container, reference, owner)
        except DatabaseUnavailable:
            # Not lost yet: nobody else can take a lease that has not lapsed. Try again until
            # it would have (a database restart of a few seconds must not stop every run).
            if time.monotonic() - renewed_at + lease_seconds / 3 < lease_seconds:
                logger.warning("could not renew the lease on dossier %s yet", reference)
                continue
            logger.exception("could not renew the lease on dossier %s", reference)
            return
        except Exception:
            logger.exception("could not renew the lease on dossier %s", reference)
            return
        if not renewed:
            return
        renewed_at = time.monotonic()


@contextlib.asynccontextmanager
async def dossier_lease(container: Container, reference: str, owner: str) -> AsyncIterator[None]:
    """Hold the dossier's lease for the block, renewing it; wait for another holder first.

    A run killed mid-chain stops renewing, so its lease lapses after ``lease_seconds``. If
    this run loses the lease, the block is cancelled and LeaseLost raised: two runs never
    call agencies for one dossier at once.
    """
    started = time.monotonic()
    while not await through_outage(container, acquire_lease, container, reference, owner):
        waited = time.monotonic() - started
        if waited >= container.settings.lease_wait_seconds:
            raise DossierBusy(reference, waited)
        await asyncio.sleep(min(_MAX_POLL_SECONDS, container.settings.lease_seconds / 6))
    holder = asyncio.current_task()
    lost = False

    def stop_holder(renewer: asyncio.Task[None]) -> None:
        nonlocal lost
        if not renewer.cancelled() and holder is not None:
            lost = True
            holder.cancel()

    renewer = asyncio.create_task(_renew_until_lost(container, reference, owner))
    renewer.add_done_callback(stop_holder)
    try:
        yield
    except asyncio.CancelledError:
        if lost and holder is not None:
            holder.uncancel()
            raise LeaseLost(reference) from None
        raise
    finally:
        renewer.remove_done_callback(stop_holder)
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        if not lost:
            await through_outage(container, release_lease, container, reference, owner)
