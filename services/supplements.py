"""Record what an applicant brings after a request for supplementation, and reopen the step.

What a supplement may change is the rule of :mod:`lienthong.models.supplements`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lienthong.models.status import DossierStatus
from lienthong.models.supplements import merged_payload
from lienthong.models.validation import parse_dossier
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor


class NotAwaitingSupplement(ValueError):
    def __init__(self, reference: str, status: DossierStatus) -> None:
        super().__init__(f"dossier {reference} is {status.value}, not awaiting supplementation")


def record_supplement(
    container: Container, reference: str, supplement: Mapping[str, Any], actor: Actor
) -> str:
    """Validate the supplemented dossier, keep the supplement, and reopen the waiting step.

    Raises ``DossierInvalid`` (nothing changes) when the result would not be a valid
    dossier, and ``SupplementNotAllowed`` (nothing changes) when the supplement touches a
    section the waiting step does not send. Returns the reopened step's kind.
    """
    now = container.clock.now()
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        if dossier.status != DossierStatus.AWAITING_SUPPLEMENT:
            raise NotAwaitingSupplement(reference, dossier.status)
        step = dossier.waiting_step()
        merged = merged_payload(dossier.payload, supplement, step.kind)
        updated = parse_dossier(merged, limits=container.settings.limits)
        round_ = uow.supplements.add(dossier, step.kind, now, actor.id, dict(supplement))
        changes = dossier.accept_supplement(
            step.kind,
            payload=updated.model_dump(mode="json"),
            round_=round_,
            deadlines=container.deadlines,
            now=now,
        )
        ledger.record(uow, dossier, changes, actor, now, container.deadlines.calendar)
        uow.commit()
        return step.kind.value
