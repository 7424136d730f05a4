"""The applicant withdraws a dossier (the chain is opt-in, and stays so)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from lienthong import ledger
from lienthong.bootstrap import Container
from lienthong.ledger import Actor, CannotWithdraw


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
        if not ledger.acquire_lease(uow.session, reference, owner, now, ttl):
            raise CannotWithdraw(
                f"dossier {reference} is being processed by a chain run; "
                "withdraw it when the run has finished"
            )
        ledger.withdraw_dossier(uow.session, dossier, reason=reason, actor=actor, now=now)
        ledger.release_lease(uow.session, reference, owner)
        uow.commit()
