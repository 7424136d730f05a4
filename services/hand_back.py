"""The commune hands a dossier's outcome back to the citizen: the result, the written
refusal, or the papers rejected at intake. It leaves the worklist; the audit trail keeps
who did it and when."""

from __future__ import annotations

from lienthong.models.status import DossierStatus
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor


def hand_back(container: Container, reference: str, actor: Actor) -> DossierStatus:
    """Record the hand-back; raises ``CannotHandBack`` (nothing changes) when there is
    nothing to hand back yet or it was handed back already. Returns the dossier's status."""
    now = container.clock.now()
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        changes = dossier.hand_back(now=now)
        ledger.record(uow, dossier, changes, actor, now, container.deadlines.calendar)
        uow.commit()
        return dossier.status
