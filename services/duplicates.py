"""Dossiers held at intake as potential duplicates: list them, show one, decide on one.

Intake holds a dossier sharing a match key with one on record (services/intake.py,
models/duplicates.py); no agency hears of it until a person decides here. "Distinct"
returns it to received: its chain starts (the caller continues it, as `lienthong duplicates
resolve` does, or the sweep starts it as a dossier never started). "Merge" and "reject"
close it as rejected with the decision as its reason. Each decision is one transaction:
the hold, the dossier's status change and its audit event (actor, decision, reason).

For the desk and the worklist: :func:`held_dossiers` (a scope's held dossiers, longest
held first) and :func:`resolve`; :func:`duplicate_figures` for the report.
"""

from __future__ import annotations

from dataclasses import dataclass

from lienthong.models.duplicates import (
    CannotResolve,
    Decision,
    DuplicateFigures,
    DuplicateHold,
    MatchRule,
)
from lienthong.models.lifecycle import Dossier, DossierNotFound
from lienthong.models.report import Period, Scope
from lienthong.models.status import Chain, DossierStatus
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor
from lienthong.services.unit_of_work import UnitOfWork
from lienthong.services.views import local_time

__all__ = ["CannotResolve", "Decision", "DossierNotFound", "NotHeld"]


class NotHeld(LookupError):
    """The dossier was never held as a potential duplicate."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"dossier {reference} was not held as a potential duplicate")
        self.reference = reference


@dataclass(frozen=True)
class MatchedDossier:
    """A dossier a held one may repeat: its reference, where and how it stands, the rules."""

    reference: str
    status: DossierStatus
    commune_code: str
    received_at: str | None
    rules: tuple[MatchRule, ...]


@dataclass(frozen=True)
class HeldDossier:
    """A hold as an operator sees it: references, codes, statuses; no personal data."""

    reference: str
    chain: Chain | None
    status: DossierStatus
    province_code: str
    commune_code: str
    held_at: str | None
    matches: tuple[MatchedDossier, ...]
    decision: Decision | None
    decided_at: str | None
    decided_by: str | None
    merged_into: str | None
    reason: str | None


def _view(uow: UnitOfWork, hold: DuplicateHold, timezone: str) -> HeldDossier:
    dossier = uow.dossiers.get(hold.reference)
    matched = []
    for reference in hold.references:
        other = uow.dossiers.get(reference)
        rules = tuple(sorted(m.rule for m in hold.matches if m.reference == reference))
        matched.append(
            MatchedDossier(
                reference,
                other.status,
                other.commune_code,
                local_time(other.received_at, timezone),
                rules,
            )
        )
    return HeldDossier(
        reference=hold.reference,
        chain=dossier.chain,
        status=dossier.status,
        province_code=dossier.province_code,
        commune_code=dossier.commune_code,
        held_at=local_time(hold.held_at, timezone),
        matches=tuple(matched),
        decision=hold.decision,
        decided_at=local_time(hold.decided_at, timezone),
        decided_by=hold.decided_by,
        merged_into=hold.merged_into,
        reason=hold.reason,
    )


def held_dossiers(container: Container, scope: Scope | None = None) -> list[HeldDossier]:
    """The dossiers held now (awaiting a decision) in ``scope``, longest held first."""
    timezone = container.settings.calendar.timezone
    with container.unit_of_work() as uow:
        return [_view(uow, hold, timezone) for hold in uow.duplicates.held(scope or Scope())]


def held_dossier(container: Container, reference: str) -> HeldDossier:
    """One dossier's hold, decided or not; :class:`NotHeld` if it never was held."""
    timezone = container.settings.calendar.timezone
    with container.unit_of_work() as uow:
        uow.dossiers.get(reference)  # an unknown reference is DossierNotFound
        hold = uow.duplicates.find_hold(reference)
        if hold is None:
            raise NotHeld(reference)
        return _view(uow, hold, timezone)


def resolve(
    container: Container,
    reference: str,
    decision: Decision,
    *,
    reason: str,
    actor: Actor,
    into: str | None = None,
) -> HeldDossier:
    """Apply a person's decision on a held dossier, audited; :class:`CannotResolve` (or
    :class:`NotHeld`, :class:`DossierNotFound`) changes nothing.

    Distinct returns the dossier to received: the caller continues its chain
    (flows/continuation.continue_dossier), or the sweep starts it.
    """
    now = container.clock.now()
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        hold = uow.duplicates.find_hold(reference)
        if hold is None:
            raise NotHeld(reference)
        if hold.decision is None and dossier.status != DossierStatus.HELD:
            raise CannotResolve(f"dossier {reference} is {dossier.status.value}: nothing to decide")
        hold.decide(decision, by=actor.id, reason=reason, now=now, into=into)
        if into is not None:
            _require_open(uow.dossiers.get(into), reference)
        changes = dossier.resolve_duplicate(hold, now)
        uow.duplicates.save_hold(hold)
        ledger.record(uow, dossier, changes, actor, now, container.deadlines.calendar)
        decided = _view(uow, hold, container.settings.calendar.timezone)
        uow.commit()
        return decided


def _require_open(target: Dossier, reference: str) -> None:
    """A merge keeps the dossier merged into: it must not be closed without effect itself."""
    if target.status in (DossierStatus.REJECTED, DossierStatus.WITHDRAWN, DossierStatus.REFUSED):
        raise CannotResolve(
            f"dossier {reference} cannot be merged into {target.reference}: it is "
            f"{target.status.value}; merge it into a dossier that carries on, or reject it"
        )


def duplicate_figures(
    container: Container, period: Period, scope: Scope | None = None
) -> DuplicateFigures:
    """The report's duplicate figures: held in the period, decided in it (distinct, merged,
    rejected), and still held at its end."""
    with container.unit_of_work() as uow:
        return uow.duplicates.figures(period, scope or Scope())
