"""The applicant withdraws a dossier (the chain is opt-in, and stays so)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from lienthong.models.lifecycle import CannotWithdraw
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor


def withdraw(container: Container, reference: str, reason: str, actor: Actor) -> None:
    """Withdraw every undecided step and the dossier, unless a run is working on it.

    Holding the dossier's lease for the transaction keeps a chain run from starting a step
    while the steps are being withdrawn.
    """
    now = container.clock.now()
    owner = f"withdraw-{uuid.uuid4()}"
    ttl = timedelta(seconds=container.settings.lease_seconds)
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        if not uow.dossiers.acquire_lease(reference, owner, now, ttl):
            raise CannotWithdraw(
                f"dossier {reference} is being processed by a chain run; "
                "withdraw it when the run has finished"
            )
        changes = dossier.withdraw(reason=reason, now=now)
        ledger.record(uow, dossier, changes, actor, now, container.deadlines.calendar)
        uow.dossiers.release_lease(reference, owner)
        uow.commit()
