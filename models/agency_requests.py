"""What each agency is sent for a step: its request, built from the dossier alone.

The dossier's own data and the results of earlier steps (the child's personal ID from
birth registration, the death registration number) are all a request needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lienthong.models.contract.messages import (
    BirthRegistrationRequest,
    ChildHealthCardRequest,
    DeathRegistrationRequest,
    FuneralAllowanceRequest,
    ResidenceRegistrationRequest,
    ResidenceRemovalRequest,
    SurvivorBenefitsRequest,
)
from lienthong.models.dossier import BirthDossier, DeathDossier
from lienthong.models.status import Agency, StepKind
from lienthong.models.validation import parse_dossier


@dataclass(frozen=True)
class StepCall:
    """Everything one agency call needs: the dossier, the results of earlier steps, the key."""

    reference: str
    kind: StepKind
    agency: Agency
    idempotency_key: str
    dossier: dict[str, Any]
    earlier_results: dict[StepKind, dict[str, Any]]


def _birth(call: StepCall) -> BirthDossier:
    dossier = parse_dossier(call.dossier)
    assert isinstance(dossier, BirthDossier), "intake planned birth steps for a birth dossier"
    return dossier


def _death(call: StepCall) -> DeathDossier:
    dossier = parse_dossier(call.dossier)
    assert isinstance(dossier, DeathDossier), "intake planned death steps for a death dossier"
    return dossier


def _earlier(call: StepCall, kind: StepKind, field: str) -> str:
    value = call.earlier_results.get(kind, {}).get(field)
    if not isinstance(value, str):
        raise LookupError(f"{call.kind.value} needs {field} from {kind.value}, which has none")
    return value


def birth_registration(call: StepCall) -> BirthRegistrationRequest:
    d = _birth(call)
    return BirthRegistrationRequest(
        dossier_reference=call.reference,
        province_code=d.province_code,
        commune_code=d.commune_code,
        child_full_name=d.child.full_name,
        child_sex=d.child.sex,
        child_date_of_birth=d.child.date_of_birth,
        child_place_of_birth=d.child.place_of_birth,
        child_ethnicity=d.child.ethnicity,
        child_nationality=d.child.nationality,
        mother_full_name=d.mother.full_name if d.mother else None,
        mother_personal_id=d.mother.personal_id if d.mother else None,
        father_full_name=d.father.full_name if d.father else None,
        father_personal_id=d.father.personal_id if d.father else None,
        medical_birth_certificate_number=d.medical_birth_certificate.number,
        medical_birth_certificate_issuer=d.medical_birth_certificate.issuer,
        medical_birth_certificate_date=d.medical_birth_certificate.issued_on,
    )


def residence_registration(call: StepCall) -> ResidenceRegistrationRequest:
    d = _birth(call)
    return ResidenceRegistrationRequest(
        dossier_reference=call.reference,
        personal_id=_earlier(call, StepKind.BIRTH_REGISTRATION, "personal_id"),
        full_name=d.child.full_name,
        date_of_birth=d.child.date_of_birth,
        address=d.residence.address,
        household_head_personal_id=d.residence.household_head_personal_id,
        household_head_consent=d.residence.household_head_consent,
    )


def child_health_card(call: StepCall) -> ChildHealthCardRequest:
    d = _birth(call)
    return ChildHealthCardRequest(
        dossier_reference=call.reference,
        personal_id=_earlier(call, StepKind.BIRTH_REGISTRATION, "personal_id"),
        full_name=d.child.full_name,
        sex=d.child.sex,
        date_of_birth=d.child.date_of_birth,
        address=_earlier(call, StepKind.RESIDENCE_REGISTRATION, "address"),
        facility_code=d.healthcare_facility.code,
        facility_name=d.healthcare_facility.name,
    )


def death_registration(call: StepCall) -> DeathRegistrationRequest:
    d = _death(call)
    return DeathRegistrationRequest(
        dossier_reference=call.reference,
        province_code=d.province_code,
        commune_code=d.commune_code,
        deceased_full_name=d.deceased.full_name,
        deceased_personal_id=d.deceased.personal_id,
        deceased_sex=d.deceased.sex,
        deceased_date_of_birth=d.deceased.date_of_birth,
        time_of_death=d.death.occurred_at,
        place_of_death=d.death.place,
        cause_of_death=d.death.cause,
        death_notice_number=d.death_notice.number,
        death_notice_issuer=d.death_notice.issuer,
        death_notice_date=d.death_notice.issued_on,
        declarant_full_name=d.requester.full_name,
        declarant_personal_id=d.requester.personal_id,
        declarant_relationship=d.requester.relationship,
    )


def residence_removal(call: StepCall) -> ResidenceRemovalRequest:
    d = _death(call)
    return ResidenceRemovalRequest(
        dossier_reference=call.reference,
        personal_id=d.deceased.personal_id,
        full_name=d.deceased.full_name,
        date_of_death=d.date_of_death,
        death_registration_number=_earlier(
            call, StepKind.DEATH_REGISTRATION, "registration_number"
        ),
    )


def funeral_allowance(call: StepCall) -> FuneralAllowanceRequest:
    d = _death(call)
    return FuneralAllowanceRequest(
        dossier_reference=call.reference,
        deceased_personal_id=d.deceased.personal_id,
        deceased_full_name=d.deceased.full_name,
        date_of_death=d.date_of_death,
        basis=d.funeral_payer_basis,
        contribution_months=d.contribution_months,
        claimant_full_name=d.requester.full_name,
        claimant_personal_id=d.requester.personal_id,
    )


def survivor_benefits(call: StepCall) -> SurvivorBenefitsRequest:
    d = _death(call)
    return SurvivorBenefitsRequest(
        dossier_reference=call.reference,
        deceased_personal_id=d.deceased.personal_id,
        deceased_full_name=d.deceased.full_name,
        date_of_death=d.date_of_death,
        basis=d.funeral_payer_basis,
        contribution_months=d.contribution_months or 0,
        claimant_full_name=d.requester.full_name,
        claimant_personal_id=d.requester.personal_id,
        claimant_relationship=d.requester.relationship,
    )
