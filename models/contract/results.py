"""What an agency's system answers when a step succeeds: one result model per step.

Decisions that are not successes (refusal, request for supplementation) are not results;
the adapters raise them as :class:`adapters.errors.AgencyDecision`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from lienthong.models.identifiers import Sex
from lienthong.models.status import Agency

PERSONAL_ID = r"^\d{12}$"


class AgencyResult(BaseModel):
    """Base for every result. Unknown fields are ignored so agencies can add some."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    dossier_reference: str


class BirthRegistrationResult(AgencyResult):
    registration_number: str
    personal_id: str = Field(pattern=PERSONAL_ID)
    e_certificate_id: str
    registered_at: datetime


class DeathRegistrationResult(AgencyResult):
    registration_number: str
    deceased_personal_id: str = Field(pattern=PERSONAL_ID)
    e_certificate_id: str
    registered_at: datetime


class ResidenceRegistrationResult(AgencyResult):
    registration_number: str
    personal_id: str = Field(pattern=PERSONAL_ID)
    address: str
    registered_at: datetime


class ResidenceRemovalResult(AgencyResult):
    removal_number: str
    personal_id: str = Field(pattern=PERSONAL_ID)
    removed_at: datetime


class HealthCardResult(AgencyResult):
    """The under-6 card: what DOMAIN.md lists as card data, and its validity."""

    card_number: str = Field(pattern=r"^\d{10}$")
    personal_id: str = Field(pattern=PERSONAL_ID)
    full_name: str
    sex: Sex
    date_of_birth: date
    address: str
    valid_from: date
    valid_to: date
    benefit_level_percent: int = Field(ge=0, le=100)
    facility_code: str
    facility_name: str
    issued_at: datetime


class AllowanceDecision(AgencyResult):
    """Funeral allowance (social insurance) or funeral-cost support (social affairs)."""

    decision_number: str
    payer: Agency
    deceased_personal_id: str = Field(pattern=PERSONAL_ID)
    amount_vnd: int = Field(ge=0)
    legal_basis: str
    decided_at: datetime


class SurvivorBenefitKind(StrEnum):
    MONTHLY = "monthly"
    LUMP_SUM = "lump_sum"


class SurvivorBenefitsDecision(AgencyResult):
    decision_number: str
    deceased_personal_id: str = Field(pattern=PERSONAL_ID)
    claimant_personal_id: str = Field(pattern=PERSONAL_ID)
    benefit_kind: SurvivorBenefitKind
    # Per month for MONTHLY, once for LUMP_SUM.
    amount_vnd: int = Field(ge=0)
    legal_basis: str
    decided_at: datetime
