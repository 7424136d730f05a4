"""A hospital's electronic birth certificate or death notice (models/hospital.py): kept once
per certificate, the commune told, and the dossier it prefills started when the family
has consented and nothing is missing; otherwise it waits for the family.

The same certificate posted again is the same notification (its first answer); a
different body under the same number is refused (:class:`DifferentNotification`). The
family completes a waiting one through the submit path under the reference it was given
(:func:`prefilled` then :func:`mark_started`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from lienthong.models.hospital import (
    CERTIFICATE_SECTION,
    COMMUNE_EVENT,
    MAX_CERTIFICATE_NUMBER,
    CertificateConflict,
    HospitalRecord,
    HospitalStatus,
    certificate_number,
    completed,
    digest,
    family_consents,
    hospital_problems,
    hospital_reference,
    waiting_for,
)
from lienthong.models.lifecycle import ConcurrentChange
from lienthong.models.notices import Notice
from lienthong.models.status import Agency, Chain
from lienthong.models.validation import DossierInvalid, Problem, parse_dossier, storable
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor
from lienthong.services.submit_once import submit_once

RECEIVED = "hospital_notification_received"
STARTED = "hospital_notification_started"
# A placeholder that passes the reference check while the draft is validated.
_PROVISIONAL_REFERENCE = hospital_reference(2026, 0)


class DifferentNotification(ValueError):
    def __init__(self, number: str) -> None:
        super().__init__(
            f"a different notification for certificate {number} is already on record; "
            "a correction goes through the commune"
        )


@dataclass(frozen=True)
class HospitalAnswer:
    reference: str
    status: HospitalStatus
    waiting_for: list[str]
    replayed: bool


def _invalid(path: str, message: str) -> DossierInvalid:
    return DossierInvalid([Problem(path=path, message=message)])


def _chain(raw: Mapping[str, Any]) -> Chain:
    try:
        return Chain(str(raw.get("chain")))
    except ValueError:
        raise _invalid("chain", "must be birth or death") from None


def _problems(container: Container, draft: Mapping[str, Any]) -> list[Problem]:
    try:
        parse_dossier(draft, now=container.clock.now(), limits=container.settings.limits)
    except DossierInvalid as invalid:
        return list(invalid.problems)
    return []


def notify(container: Container, raw: Mapping[str, Any], actor: Actor) -> HospitalAnswer:
    """Keep the hospital's notification, tell the commune, start the chain if it may.

    Raises :class:`DossierInvalid` when the hospital's own part (chain, commune,
    certificate) has problems, :class:`DifferentNotification` for another body under a
    certificate number on record. The same certificate posted twice at once is one
    notification: the second finds the first once it is stored.
    """
    try:
        return _notify(container, raw, actor)
    except ConcurrentChange:
        return _notify(container, raw, actor)


def _notify(container: Container, raw: Mapping[str, Any], actor: Actor) -> HospitalAnswer:
    chain = _chain(raw)
    if "reference" in raw:
        raise _invalid("reference", "is ours to give: leave it out")
    number = certificate_number(chain, raw)
    if number is None:
        raise _invalid(
            f"{CERTIFICATE_SECTION[chain]}.number",
            f"the certificate's number, 1 to {MAX_CERTIFICATE_NUMBER} characters",
        )
    now = container.clock.now()
    draft = storable({"received_at": now.isoformat(), **raw}, container.settings.limits)
    problems = _problems(container, {**draft, "reference": _PROVISIONAL_REFERENCE})
    if own := hospital_problems(chain, problems):
        raise DossierInvalid(own)
    consents = family_consents(chain, draft)
    missing = waiting_for(chain, problems, consents)
    with container.unit_of_work() as uow:
        existing = uow.hospitals.find(chain, number)
        if existing is None:
            record = _record(chain, number, raw, draft, missing, actor, now)
            record.reference = hospital_reference(now.year, uow.hospitals.add(record))
            record.draft = {**draft, "reference": record.reference}
            uow.hospitals.save(record)
            details = {"certificate": CERTIFICATE_SECTION[chain], "waiting_for": missing}
            event = ledger.audit(uow, actor, RECEIVED, now, record.reference, details=details)
            uow.outbox.add(_commune_notice(record, event), now)
            uow.commit()
    if existing is not None:
        if existing.body_digest != digest(raw):
            raise DifferentNotification(number)
        if existing.status is HospitalStatus.AWAITING_FAMILY and not existing.waiting_for:
            # Kept complete, but the start did not happen (a failure in between): now.
            return replace(_start(container, existing, actor), replayed=True)
        return HospitalAnswer(existing.reference, existing.status, existing.waiting_for, True)
    if not missing:
        return _start(container, record, actor)
    return HospitalAnswer(record.reference, record.status, missing, False)


def _record(
    chain: Chain,
    number: str,
    raw: Mapping[str, Any],
    draft: dict[str, Any],
    missing: list[str],
    actor: Actor,
    now: datetime,
) -> HospitalRecord:
    place = draft["jurisdiction"]
    return HospitalRecord(
        chain=chain,
        certificate_number=number,
        hospital=actor.id,
        body_digest=digest(raw),
        province_code=place["province_code"],
        commune_code=place["commune_code"],
        draft=draft,
        waiting_for=missing,
        status=HospitalStatus.AWAITING_FAMILY,
        received_at=now,
        updated_at=now,
    )


def _commune_notice(record: HospitalRecord, audit_event_id: int) -> Notice:
    """What the commune is told: the certificate's kind, number and issuer, the dossier's
    reference and what the family must still give (no names, no ID numbers)."""
    section = record.draft[CERTIFICATE_SECTION[record.chain]]
    return Notice(
        agency=Agency.COMMUNE,
        event_type=COMMUNE_EVENT[record.chain],
        dedupe_key=f"hospital:{record.chain.value}:{record.id}:{Agency.COMMUNE.value}",
        dossier_reference=record.reference,
        step_kind=None,
        payload={
            "event": COMMUNE_EVENT[record.chain],
            "dossier_reference": record.reference,
            "chain": record.chain.value,
            "commune_code": record.commune_code,
            "certificate": {
                "kind": CERTIFICATE_SECTION[record.chain],
                "number": record.certificate_number,
                "issuer": section.get("issuer"),
                "issued_on": section.get("issued_on"),
            },
            "status": record.status.value,
            "waiting_for": record.waiting_for,
            "audit_event_id": audit_event_id,
        },
    )


def _start(container: Container, record: HospitalRecord, actor: Actor) -> HospitalAnswer:
    """Receive the completed dossier (idempotent) and mark the notification started."""
    submitted = submit_once(container, record.draft, actor)
    if not submitted.result.accepted:
        problems = [p.path for p in submitted.result.problems]
        return HospitalAnswer(record.reference, record.status, problems, False)
    mark_started(container, record.reference, actor)
    return HospitalAnswer(record.reference, HospitalStatus.STARTED, [], False)


def prefilled(container: Container, raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """A dossier submitted under a waiting notification's reference, completed with the
    hospital's draft; any other dossier as it is. Raises :class:`DossierInvalid` when it
    contradicts the hospital's certificate."""
    reference = raw.get("reference")
    if not isinstance(reference, str):
        return raw
    with container.unit_of_work() as uow:
        record = uow.hospitals.by_reference(reference)
    if record is None or record.status is not HospitalStatus.AWAITING_FAMILY:
        return raw
    try:
        return completed(record.draft, raw)
    except CertificateConflict as conflict:
        raise _invalid("", str(conflict)) from None


def mark_started(container: Container, reference: str, actor: Actor) -> None:
    """The dossier of this reference was accepted: its notification no longer waits."""
    now = container.clock.now()
    with container.unit_of_work() as uow:
        record = uow.hospitals.by_reference(reference)
        if record is None or record.status is HospitalStatus.STARTED:
            return
        record.status, record.waiting_for, record.updated_at = HospitalStatus.STARTED, [], now
        uow.hospitals.save(record)
        ledger.audit(uow, actor, STARTED, now, reference)
        uow.commit()
