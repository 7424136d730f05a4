"""Recording what an applicant brings after a request for supplementation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from lienthong import ledger
from lienthong.bootstrap import Container
from lienthong.ledger import Actor
from models.status import DossierStatus, StepStatus
from models.tables import Supplement
from models.validation import parse_dossier


class NotAwaitingSupplement(ValueError):
    def __init__(self, reference: str, status: DossierStatus) -> None:
        super().__init__(f"dossier {reference} is {status.value}, not awaiting supplementation")


def merged_payload(payload: Mapping[str, Any], supplement: Mapping[str, Any]) -> dict[str, Any]:
    """The dossier with the supplied sections replacing its own, section by section."""
    merged = dict(payload)
    for section, value in supplement.items():
        if isinstance(value, Mapping) and isinstance(merged.get(section), Mapping):
            merged[section] = {**merged[section], **value}
        else:
            merged[section] = value
    return merged


def record_supplement(
    container: Container, reference: str, supplement: Mapping[str, Any], actor: Actor
) -> str:
    """Validate the supplemented dossier, keep the supplement, and reopen the waiting step.

    Raises ``DossierInvalid`` (nothing changes) when the result would not be a valid
    dossier. Returns the reopened step's kind.
    """
    now = container.clock.now()
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        if dossier.status != DossierStatus.AWAITING_SUPPLEMENT:
            raise NotAwaitingSupplement(reference, dossier.status)
        step = next(s for s in dossier.steps if s.status == StepStatus.AWAITING_SUPPLEMENT)
        updated = parse_dossier(merged_payload(dossier.payload, supplement))
        uow.session.add(
            Supplement(
                dossier_id=dossier.id,
                step_kind=step.kind,
                received_at=now,
                actor=actor.id,
                payload=dict(supplement),
            )
        )
        dossier.payload = updated.model_dump(mode="json")
        rounds = uow.session.scalar(
            select(func.count())
            .select_from(Supplement)
            .where(Supplement.dossier_id == dossier.id, Supplement.step_kind == step.kind)
        )
        ledger.accept_supplement(
            uow.session,
            dossier,
            step,
            round_=int(rounds or 0),
            deadlines=container.deadlines,
            actor=actor,
            now=now,
        )
        uow.commit()
        return step.kind.value
