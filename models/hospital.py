"""Hospitals' notifications: an electronic birth certificate (giấy chứng sinh) or death notice
(giấy báo tử) that prefills a dossier before anyone queues at the commune.

A hospital posts a dossier draft in the dossier format (docs/dossiers.md): at least the
chain, the commune that must be told (``jurisdiction``) and the certificate's section
(``medical_birth_certificate`` or ``death_notice``). What the family gave at the hospital
(the requester, the residence, its choice) may come with it. The chain starts only when the
family has consented and nothing is missing; otherwise the dossier waits for the family.

The family's choice is respected (DOMAIN.md: the chain is opt-in): without its consent no
agency is called. Consent is the citizen's own answer in the dossier: ``chain_opt_in: true``
for a birth, the ``scope`` of procedures asked for a death.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from lienthong.models.dossier import BirthDossier, DeathDossier
from lienthong.models.status import Chain
from lienthong.models.validation import Problem

# The section holding the certificate each chain starts from.
CERTIFICATE_SECTION = {Chain.BIRTH: "medical_birth_certificate", Chain.DEATH: "death_notice"}
# The event the commune is told of.
COMMUNE_EVENT = {Chain.BIRTH: "hospital.birth_certificate", Chain.DEATH: "hospital.death_notice"}
# The family's own answer that is its consent to the interconnected procedure.
CONSENT_FIELD = {Chain.BIRTH: "chain_opt_in", Chain.DEATH: "scope"}
_DOSSIERS: dict[Chain, type[BirthDossier | DeathDossier]] = {
    Chain.BIRTH: BirthDossier,
    Chain.DEATH: DeathDossier,
}
# The reference a hospital's dossier is given: BV (bệnh viện), the year, our sequence.
REFERENCE_PREFIX = "BV"


class HospitalStatus(StrEnum):
    # Kept with its draft; the family's consent or some data is still missing.
    AWAITING_FAMILY = "awaiting_family"
    # Complete and consented: the dossier is on record and its chain started.
    STARTED = "started"


# A certificate's number, as kept (hospitals' numbers are short: GCS-2026-004512).
MAX_CERTIFICATE_NUMBER = 64


def certificate_number(chain: Chain, draft: Mapping[str, Any]) -> str | None:
    """The certificate's number as the hospital wrote it, if it wrote one that fits."""
    section = draft.get(CERTIFICATE_SECTION[chain])
    number = section.get("number") if isinstance(section, Mapping) else None
    if not isinstance(number, str) or not 0 < len(number.strip()) <= MAX_CERTIFICATE_NUMBER:
        return None
    return number.strip()


def hospital_reference(year: int, sequence: int) -> str:
    """The dossier reference reserved for a hospital's notification: ``BV-2026-00000042``."""
    return f"{REFERENCE_PREFIX}-{year}-{sequence:08d}"


def family_consents(chain: Chain, draft: Mapping[str, Any]) -> bool:
    """Whether the draft holds the family's consent (its own answer, never presumed)."""
    value = draft.get(CONSENT_FIELD[chain])
    if chain is Chain.BIRTH:
        return value is True
    return isinstance(value, int) and not isinstance(value, bool)


def hospital_problems(chain: Chain, problems: Sequence[Problem]) -> list[Problem]:
    """The problems that are the hospital's to fix (the notification is then refused): in
    the chain, the commune to tell, the certificate itself, or a field no dossier has. The
    rest is the family's to give."""
    own = {"chain", "jurisdiction", CERTIFICATE_SECTION[chain]}
    known = set(_DOSSIERS[chain].model_fields.keys())
    return [p for p in problems if (top := p.path.split(".")[0]) in own or top not in known]


def waiting_for(chain: Chain, problems: Sequence[Problem], consents: bool) -> list[str]:
    """What the family must still give, as fields: its consent first, then the rest."""
    missing = [] if consents else [CONSENT_FIELD[chain]]
    missing += [p.path for p in problems if p.path and p.path not in missing]
    return missing


def digest(draft: Mapping[str, Any]) -> str:
    """A digest of the body as posted: the same notification twice has the same digest."""
    # ASCII: any text, lone surrogates too, has one encoding.
    canonical = json.dumps(draft, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class CertificateConflict(ValueError):
    """A completion contradicts the hospital's certificate."""


def completed(draft: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The dossier a completion makes: the hospital's draft, section by section, with what
    the family or the operator now gives. The chain, the commune and the certificate are
    the hospital's: given again, they must be the same (:class:`CertificateConflict`)."""
    chain = Chain(draft["chain"])
    for kept in ("chain", "reference", "jurisdiction", CERTIFICATE_SECTION[chain]):
        if kept in given and given[kept] != draft.get(kept):
            raise CertificateConflict(
                f"{kept} differs from the hospital's notification: leave it out, or send "
                "it as the hospital did"
            )
    return {**draft, **given}


@dataclass
class HospitalRecord:
    """A hospital's notification as kept: the draft it prefills, and where it stands."""

    chain: Chain
    certificate_number: str
    hospital: str
    body_digest: str
    province_code: str
    commune_code: str
    draft: dict[str, Any]
    waiting_for: list[str]
    status: HospitalStatus
    received_at: datetime
    updated_at: datetime
    reference: str = ""
    id: int | None = None
