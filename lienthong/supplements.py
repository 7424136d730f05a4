"""Recording what an applicant brings after a request for supplementation.

A supplement answers one agency's request, so it may only change the dossier sections that
the waiting step sends (:data:`SUPPLEMENT_SECTIONS`). It can never touch the dossier's
identity (``reference``, ``chain``, ``received_at``, ``jurisdiction``), what the citizen
asked for (``scope``, ``funeral_payer_basis``, ``chain_opt_in``), or data an agency has
already registered in an earlier step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from lienthong import ledger
from lienthong.bootstrap import Container
from lienthong.ledger import Actor
from models.status import DossierStatus, StepKind, StepStatus
from models.tables import Supplement
from models.validation import parse_dossier


class NotAwaitingSupplement(ValueError):
    def __init__(self, reference: str, status: DossierStatus) -> None:
        super().__init__(f"dossier {reference} is {status.value}, not awaiting supplementation")


SUPPLEMENT_SECTIONS: Mapping[StepKind, frozenset[str]] = {
    # Chain A. Nothing is registered before step 1, so everything Justice is sent is open.
    StepKind.BIRTH_REGISTRATION: frozenset(
        {"child", "mother", "father", "medical_birth_certificate", "requester"}
    ),
    # The child's identity is now Justice's; the police only get the residence section.
    StepKind.RESIDENCE_REGISTRATION: frozenset({"residence"}),
    # The card's address is the residence the police registered: only the facility is open.
    StepKind.CHILD_HEALTH_CARD: frozenset({"healthcare_facility"}),
    # Chain B. The requester is the declarant Justice records.
    StepKind.DEATH_REGISTRATION: frozenset({"deceased", "death", "death_notice", "requester"}),
    # The police are sent only what Justice registered (the deceased, the death and its
    # registration number): a supplement can bring papers, never change those data.
    StepKind.RESIDENCE_REMOVAL: frozenset(),
    # Social insurance asks for the contribution record or the claimant (the requester).
    StepKind.FUNERAL_ALLOWANCE: frozenset({"contribution_months", "requester"}),
    StepKind.SURVIVOR_BENEFITS: frozenset({"contribution_months", "requester"}),
}
"""The top-level dossier sections a supplement may change, by the step awaiting it."""


class SupplementNotAllowed(ValueError):
    """The supplement changes sections that do not belong to the step awaiting it."""

    def __init__(self, step: StepKind, sections: list[str]) -> None:
        allowed = sorted(SUPPLEMENT_SECTIONS[step])
        may = (
            f"it may only change {', '.join(allowed)}"
            if allowed
            else "it may not change any dossier section (an empty supplement {} records "
            "that the papers were brought)"
        )
        super().__init__(
            f"a supplement for the {step.value} step cannot change {', '.join(sections)}: "
            f"{may}; nothing was changed"
        )
        self.step = step
        self.sections = sections


def check_supplement(step: StepKind, supplement: Mapping[str, Any]) -> None:
    """Raise :class:`SupplementNotAllowed` if ``supplement`` has sections ``step`` does not own."""
    outside = sorted(
        str(section) for section in supplement if section not in SUPPLEMENT_SECTIONS[step]
    )
    if outside:
        raise SupplementNotAllowed(step, outside)


def merged_payload(
    payload: Mapping[str, Any], supplement: Mapping[str, Any], step: StepKind
) -> dict[str, Any]:
    """The dossier with the supplied sections replacing its own, section by section.

    Raises :class:`SupplementNotAllowed` when a section does not belong to ``step``.
    """
    check_supplement(step, supplement)
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
    dossier, and :class:`SupplementNotAllowed` (nothing changes) when the supplement touches
    a section the waiting step does not send. Returns the reopened step's kind.
    """
    now = container.clock.now()
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        if dossier.status != DossierStatus.AWAITING_SUPPLEMENT:
            raise NotAwaitingSupplement(reference, dossier.status)
        step = next(s for s in dossier.steps if s.status == StepStatus.AWAITING_SUPPLEMENT)
        updated = parse_dossier(merged_payload(dossier.payload, supplement, step.kind))
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
