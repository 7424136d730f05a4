"""One agency call per step: build the step's request from the dossier, send it, keep the answer.

The dossier's own data and the results of earlier steps (the child's personal ID from
birth registration, the death registration number) are all a request needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from adapters.agency_clients import AgencyClients, build_agency_clients
from lienthong.bootstrap import Container
from models.agency_messages import (
    BirthRegistrationRequest,
    ChildHealthCardRequest,
    DeathRegistrationRequest,
    FuneralAllowanceRequest,
    ResidenceRegistrationRequest,
    ResidenceRemovalRequest,
    SurvivorBenefitsRequest,
)
from models.dossier import BirthDossier, DeathDossier
from models.status import Agency, StepKind
from models.validation import parse_dossier
from tasks.records import StepCall


@dataclass(frozen=True)
class AgencyOutcome:
    agency_reference: str
    result: dict[str, Any]


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


Send = Callable[[AgencyClients, Any, str], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Route:
    build: Callable[[StepCall], BaseModel]
    send: Send
    reference_field: str


ROUTES: dict[tuple[StepKind, Agency], Route] = {
    (StepKind.BIRTH_REGISTRATION, Agency.JUSTICE): Route(
        birth_registration, lambda c, r, k: c.justice.register_birth(r, k), "registration_number"
    ),
    (StepKind.RESIDENCE_REGISTRATION, Agency.POLICE): Route(
        residence_registration,
        lambda c, r, k: c.police.register_residence(r, k),
        "registration_number",
    ),
    (StepKind.CHILD_HEALTH_CARD, Agency.SOCIAL_INSURANCE): Route(
        child_health_card,
        lambda c, r, k: c.social_insurance.issue_child_health_card(r, k),
        "card_number",
    ),
    (StepKind.DEATH_REGISTRATION, Agency.JUSTICE): Route(
        death_registration, lambda c, r, k: c.justice.register_death(r, k), "registration_number"
    ),
    (StepKind.RESIDENCE_REMOVAL, Agency.POLICE): Route(
        residence_removal, lambda c, r, k: c.police.remove_residence(r, k), "removal_number"
    ),
    (StepKind.FUNERAL_ALLOWANCE, Agency.SOCIAL_INSURANCE): Route(
        funeral_allowance,
        lambda c, r, k: c.social_insurance.pay_funeral_allowance(r, k),
        "decision_number",
    ),
    (StepKind.FUNERAL_ALLOWANCE, Agency.SOCIAL_AFFAIRS): Route(
        funeral_allowance,
        lambda c, r, k: c.social_affairs.pay_funeral_support(r, k),
        "decision_number",
    ),
    (StepKind.SURVIVOR_BENEFITS, Agency.SOCIAL_INSURANCE): Route(
        survivor_benefits,
        lambda c, r, k: c.social_insurance.grant_survivor_benefits(r, k),
        "decision_number",
    ),
}


async def call_agency(container: Container, call: StepCall) -> AgencyOutcome:
    """Send the step's request under its idempotency key; raise the adapter's errors as they are."""
    route = ROUTES[(call.kind, call.agency)]
    request = route.build(call)
    clients = build_agency_clients(container.settings, container.http_transport)
    try:
        result = await route.send(clients, request, call.idempotency_key)
    finally:
        await clients.aclose()
    dumped = result.model_dump(mode="json")
    return AgencyOutcome(str(dumped[route.reference_field]), dumped)
