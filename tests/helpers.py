"""Test helpers shared by several modules: bringing a stored dossier to a given state."""

from __future__ import annotations

from lienthong import ledger
from lienthong.bootstrap import Container
from lienthong.ledger import Actor
from models.status import StepKind, StepStatus


def request_supplement_at(
    container: Container, reference: str, waiting: StepKind, actor: Actor
) -> None:
    """Run the dossier's steps in order: earlier ones succeed, ``waiting`` asks for more."""
    now = container.clock.now()
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        for step in dossier.steps:
            if step.status == StepStatus.SKIPPED:
                continue
            ledger.start_step(
                uow.session, dossier, step, deadlines=container.deadlines, actor=actor, now=now
            )
            if step.kind == waiting:
                ledger.finish_step(
                    uow.session,
                    dossier,
                    step,
                    StepStatus.AWAITING_SUPPLEMENT,
                    actor=actor,
                    now=now,
                    reason="missing",
                    missing_items=["missing"],
                )
                break
            ledger.finish_step(
                uow.session,
                dossier,
                step,
                StepStatus.SUCCEEDED,
                actor=actor,
                now=now,
                agency_reference=f"AG-{step.kind.value}",
            )
        else:
            raise AssertionError(f"{reference} has no {waiting} step")
        uow.commit()
