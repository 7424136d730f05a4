"""Intake at the one-stop shop: validate a dossier and store it, valid or not.

A valid dossier is stored with its planned steps, ready for its chain. An invalid one is
stored too, as rejected with every reason, so nothing the citizen handed in is lost: any
JSON object ends one way or the other, however hostile (NaN, NUL, lone surrogates, deep
nesting, megabytes of text: ``models.validation.storable`` makes a copy both databases keep).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lienthong.models.chains import StepPlan, birth_plan, death_plan
from lienthong.models.dossier import EARLIEST_YEAR, LATEST_YEAR, BirthDossier, DeathDossier
from lienthong.models.duplicates import DuplicateHold, Match, MatchKey, match_keys
from lienthong.models.lifecycle import Change, ConcurrentChange, Dossier
from lienthong.models.status import Chain, DossierStatus
from lienthong.models.validation import DossierInvalid, Problem, parse_dossier, storable
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor


class DuplicateReference(ValueError):
    """The reference is already on record (and was not rejected at intake): nothing to
    submit; the message names the one command that shows what to do with it."""

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"a dossier with reference {reference} is already on record: "
            f"`lienthong status {reference}` shows what it waits for"
        )
        self.reference = reference


@dataclass(frozen=True)
class IntakeResult:
    reference: str
    chain: Chain | None
    accepted: bool
    problems: tuple[Problem, ...] = ()
    late_filing_reason: str | None = None
    # Held as a potential duplicate of these dossiers, for a person's decision.
    held_for: tuple[Match, ...] = ()
    # It corrected a dossier rejected at intake under the same reference.
    resubmitted: bool = False


def plan_for(dossier: BirthDossier | DeathDossier) -> list[StepPlan]:
    if isinstance(dossier, BirthDossier):
        return birth_plan()
    return death_plan(dossier.scope, dossier.funeral_payer_basis)


def _text(raw: Mapping[str, Any], *path: str) -> str:
    value: Any = raw
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) else ""


def _received_at(raw: Mapping[str, Any], now: datetime) -> datetime:
    """When a rejected dossier was received: its own ``received_at`` if usable, else ``now``.

    A ``received_at`` in the future (one reason to reject), or outside the years a dossier
    may name, is not kept as the record's time.
    """
    try:
        parsed = datetime.fromisoformat(_text(raw, "received_at").strip())
    except ValueError:
        return now
    if parsed.tzinfo is None or not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return now
    return parsed if parsed <= now else now


def receive(container: Container, raw: Mapping[str, Any], actor: Actor) -> IntakeResult:
    """Validate and store one dossier. Raises DuplicateReference for a known reference,
    unless that dossier was rejected at intake: then this is its corrected version, which
    replaces it (resubmitted; the rejection stays in the audit trail)."""
    now = container.clock.now()
    try:
        dossier = parse_dossier(raw, now=now, limits=container.settings.limits)
    except DossierInvalid as invalid:
        return _store_rejected(container, raw, invalid, actor, now)
    stored, changes = Dossier.receive(
        reference=dossier.reference,
        chain=dossier.chain,
        province_code=dossier.province_code,
        commune_code=dossier.commune_code,
        received_at=dossier.received_at,
        late_filing=dossier.late_filing,
        payload=dossier.model_dump(mode="json"),
        plan=plan_for(dossier),
        deadlines=container.deadlines,
        now=now,
    )
    resubmitted, held_for = _store(container, stored, changes, actor, now, match_keys(dossier))
    return IntakeResult(
        dossier.reference,
        dossier.chain,
        True,
        late_filing_reason=dossier.late_filing_reason,
        held_for=held_for,
        resubmitted=resubmitted,
    )


def _store(
    container: Container,
    dossier: Dossier,
    changes: list[Change],
    actor: Actor,
    now: datetime,
    keys: tuple[MatchKey, ...] = (),
) -> tuple[bool, tuple[Match, ...]]:
    """Store a new dossier with the audit events (and notices) of its first changes; or, in
    place of one rejected at intake under its reference, its corrected (or still invalid)
    version. It is indexed by its match ``keys``. Returns whether it replaced a rejected
    one, and the dossiers it is held for, if any.

    The dossiers on record sharing a key (models/duplicates.py) are looked up in the same
    transaction, under a lock per key, so two copies received at once cannot miss each
    other: the later one is held, before any agency is called.

    A concurrent intake of the same reference that won the race becomes
    :class:`DuplicateReference`; any other conflict (the audit chain's head) is re-raised as
    it is: it is a fault to investigate, not a duplicate to report to the operator.
    """
    with container.unit_of_work() as uow:
        stored = uow.dossiers.find(dossier.reference)
        if stored is not None and not _rejected_at_intake(stored):
            raise DuplicateReference(dossier.reference)
        try:
            uow.duplicates.lock(keys)
            matches = tuple(uow.duplicates.matching(keys))
            if stored is None:
                uow.dossiers.add(dossier)
            elif dossier.status == DossierStatus.REJECTED:
                changes = stored.reject_again(
                    payload=dossier.payload, problems=dossier.rejection_reasons or [], now=now
                )
            else:
                changes = stored.resubmit(dossier, changes)
            kept = stored or dossier
            if matches:
                changes = changes + kept.hold_as_duplicate(matches, now)
                hold = DuplicateHold(kept.reference, matches, held_at=now)
                uow.duplicates.add_hold(kept, hold)
            uow.duplicates.add_keys(kept, keys)
            ledger.record(uow, kept, changes, actor, now, container.deadlines.calendar)
            uow.commit()
            return stored is not None, matches
        except ConcurrentChange as exc:
            uow.rollback()
            if uow.dossiers.find(dossier.reference) is None:
                raise
            raise DuplicateReference(dossier.reference) from exc


def _rejected_at_intake(stored: Dossier) -> bool:
    """Rejected by intake's checks, so a corrected version may replace it; not a dossier a
    person closed as a duplicate (rejected too, but it had passed intake)."""
    return stored.status == DossierStatus.REJECTED and not stored.closed_as_duplicate


def _store_rejected(
    container: Container,
    raw: Mapping[str, Any],
    invalid: DossierInvalid,
    actor: Actor,
    now: datetime,
) -> IntakeResult:
    reference = invalid.reference or f"REJ-{now:%Y%m%d}-{uuid.uuid4().hex[:8].upper()}"
    kept = storable(raw, container.settings.limits)
    dossier, changes = Dossier.reject(
        reference=reference,
        chain=invalid.chain,
        province_code=_text(kept, "jurisdiction", "province_code")[:8],
        commune_code=_text(kept, "jurisdiction", "commune_code")[:16],
        received_at=_received_at(kept, now),
        payload=kept,
        problems=[p.model_dump() for p in invalid.problems],
        now=now,
    )
    resubmitted, _ = _store(container, dossier, changes, actor, now)
    return IntakeResult(
        reference, invalid.chain, False, tuple(invalid.problems), resubmitted=resubmitted
    )
