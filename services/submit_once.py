"""Intake for callers that may retry (the API): the same dossier twice is one dossier.

A dossier is identified by its reference. Submitting the very dossier on record again
(the same validated content, or the same rejected data) answers as the first time and
changes nothing; different content under a reference on record is refused
(:class:`DifferentDossier`): a correction is a supplement, or a new reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lienthong.models.duplicates import DuplicateHold
from lienthong.models.lifecycle import Dossier
from lienthong.models.status import DossierStatus
from lienthong.models.validation import DossierInvalid, Problem, parse_dossier, storable
from lienthong.services.container import Container
from lienthong.services.intake import DuplicateReference, IntakeResult, receive
from lienthong.services.ledger import Actor


class DifferentDossier(ValueError):
    def __init__(self, reference: str) -> None:
        super().__init__(
            f"a different dossier with reference {reference} is already on record; "
            "send a supplement to correct it, or use a new reference"
        )
        self.reference = reference


@dataclass(frozen=True)
class Submitted:
    result: IntakeResult
    replayed: bool


def submit_once(container: Container, raw: Mapping[str, Any], actor: Actor) -> Submitted:
    """Receive ``raw`` (services/intake.py), or recognise it as the dossier on record."""
    try:
        return Submitted(receive(container, raw, actor), replayed=False)
    except DuplicateReference as duplicate:
        with container.unit_of_work() as uow:
            existing = uow.dossiers.get(duplicate.reference)
            hold = uow.duplicates.find_hold(duplicate.reference)
        return Submitted(_same_as(container, raw, existing, hold), replayed=True)


def _same_as(
    container: Container, raw: Mapping[str, Any], existing: Dossier, hold: DuplicateHold | None
) -> IntakeResult:
    """The first answer for ``existing`` if ``raw`` is the same dossier, else raise.

    A dossier held at intake as a potential duplicate was accepted (and held): so it is
    again, even once a person closed it as a duplicate (rejected, but not by intake).
    """
    limits = container.settings.limits
    try:
        parsed = parse_dossier(raw, now=container.clock.now(), limits=limits)
    except DossierInvalid:
        if existing.status == DossierStatus.REJECTED and storable(raw, limits) == existing.payload:
            problems = tuple(Problem.model_validate(p) for p in existing.rejection_reasons or [])
            return IntakeResult(existing.reference, existing.chain, False, problems)
        raise DifferentDossier(existing.reference) from None
    passed_intake = existing.status != DossierStatus.REJECTED or hold is not None
    if passed_intake and parsed.model_dump(mode="json") == existing.payload:
        return IntakeResult(
            existing.reference,
            existing.chain,
            True,
            late_filing_reason=parsed.late_filing_reason,
            held_for=hold.matches if hold is not None else (),
        )
    raise DifferentDossier(existing.reference)
