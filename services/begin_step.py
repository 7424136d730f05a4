"""Start (or resume) a step: count the attempt, start its clock, hand back what to send."""

from __future__ import annotations

from lienthong.models.agency_requests import StepCall
from lienthong.models.status import StepKind
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor


def begin_step(container: Container, reference: str, kind: StepKind, actor: Actor) -> StepCall:
    now = container.clock.now()
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        changes = dossier.start_step(kind, deadlines=container.deadlines, now=now)
        ledger.record(uow, dossier, changes, actor, now, container.deadlines.calendar)
        step = dossier.step(kind)
        call = StepCall(
            reference=reference,
            kind=kind,
            agency=step.agency,
            idempotency_key=step.idempotency_key,
            dossier=dict(dossier.payload),
            earlier_results=dossier.earlier_results(step),
        )
        uow.commit()
        return call
