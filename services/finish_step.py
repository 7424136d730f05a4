"""Record a step's outcome, with its audit event and notices; the dossier follows its steps."""

from __future__ import annotations

from lienthong.models.status import StepKind, StepStatus
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor
from lienthong.services.step_outcomes import StepOutcome
from lienthong.services.views import DossierView, view_of


def finish_step(
    container: Container, reference: str, kind: StepKind, outcome: StepOutcome, actor: Actor
) -> DossierView:
    now = container.clock.now()
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        if outcome.status == StepStatus.AWAITING_DECISION:
            changes = dossier.await_decision(
                kind,
                receipt_number=outcome.receipt_number or "",
                expected_at=outcome.expected_at,
                now=now,
            )
        else:
            changes = dossier.finish_step(
                kind,
                outcome.status,
                now=now,
                agency_reference=outcome.agency_reference,
                result=outcome.result,
                reason=outcome.reason,
                missing_items=outcome.missing_items,
            )
        ledger.record(uow, dossier, changes, actor, now, container.deadlines.calendar)
        uow.commit()
        return view_of(dossier, container.settings.calendar.timezone, now)
