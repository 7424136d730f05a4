"""What we send to the agencies' systems, and the problem body they answer decisions with.

Requests are flat and self-contained: the lead's tasks map a dossier to one request per
step, and nothing here reaches back into our own tables. Every mutating call also carries an
``Idempotency-Key`` header (see docs/agency-api.md); the key is not part of the body.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from lienthong.models.identifiers import Sex
from lienthong.models.status import FuneralPayerBasis

PROVINCE_CODE = r"^\d{3}$"
PERSONAL_ID = r"^\d{12}$"


class AgencyRequest(BaseModel):
    """Base for every request: immutable, unknown fields refused (they would be silent typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dossier_reference: str = Field(min_length=1, max_length=64)


class BirthRegistrationRequest(AgencyRequest):
    province_code: str = Field(pattern=PROVINCE_CODE)
    commune_code: str = Field(min_length=1)
    child_full_name: str = Field(min_length=1)
    child_sex: Sex
    child_date_of_birth: date
    child_place_of_birth: str = Field(min_length=1)
    child_ethnicity: str = Field(min_length=1)
    child_nationality: str = "Việt Nam"
    mother_full_name: str | None = None
    mother_personal_id: str | None = Field(None, pattern=PERSONAL_ID)
    father_full_name: str | None = None
    father_personal_id: str | None = Field(None, pattern=PERSONAL_ID)
    medical_birth_certificate_number: str = Field(min_length=1)
    medical_birth_certificate_issuer: str = Field(min_length=1)
    medical_birth_certificate_date: date


class ResidenceRegistrationRequest(AgencyRequest):
    personal_id: str = Field(pattern=PERSONAL_ID)
    full_name: str = Field(min_length=1)
    date_of_birth: date
    address: str = Field(min_length=1)
    household_head_personal_id: str = Field(pattern=PERSONAL_ID)
    household_head_consent: bool


class ChildHealthCardRequest(AgencyRequest):
    personal_id: str = Field(pattern=PERSONAL_ID)
    full_name: str = Field(min_length=1)
    sex: Sex
    date_of_birth: date
    address: str = Field(min_length=1)
    facility_code: str = Field(min_length=1)
    facility_name: str = Field(min_length=1)


class DeathRegistrationRequest(AgencyRequest):
    province_code: str = Field(pattern=PROVINCE_CODE)
    commune_code: str = Field(min_length=1)
    deceased_full_name: str = Field(min_length=1)
    deceased_personal_id: str = Field(pattern=PERSONAL_ID)
    deceased_sex: Sex
    deceased_date_of_birth: date
    time_of_death: datetime
    place_of_death: str = Field(min_length=1)
    cause_of_death: str = Field(min_length=1)
    death_notice_number: str = Field(min_length=1)
    death_notice_issuer: str = Field(min_length=1)
    death_notice_date: date
    declarant_full_name: str = Field(min_length=1)
    declarant_personal_id: str | None = Field(None, pattern=PERSONAL_ID)
    declarant_relationship: str = Field(min_length=1)


class ResidenceRemovalRequest(AgencyRequest):
    personal_id: str = Field(pattern=PERSONAL_ID)
    full_name: str = Field(min_length=1)
    date_of_death: date
    death_registration_number: str = Field(min_length=1)


class FuneralAllowanceRequest(AgencyRequest):
    """Sent to social insurance (allowance) or social affairs (support), by ``basis``."""

    deceased_personal_id: str = Field(pattern=PERSONAL_ID)
    deceased_full_name: str = Field(min_length=1)
    date_of_death: date
    basis: FuneralPayerBasis
    # Months of compulsory contributions; social insurance needs it when basis is INSURED.
    contribution_months: int | None = Field(None, ge=0)
    claimant_full_name: str = Field(min_length=1)
    claimant_personal_id: str | None = Field(None, pattern=PERSONAL_ID)


class SurvivorBenefitsRequest(AgencyRequest):
    deceased_personal_id: str = Field(pattern=PERSONAL_ID)
    deceased_full_name: str = Field(min_length=1)
    date_of_death: date
    basis: FuneralPayerBasis
    contribution_months: int = Field(ge=0)
    claimant_full_name: str = Field(min_length=1)
    claimant_personal_id: str = Field(pattern=PERSONAL_ID)
    claimant_relationship: str = Field(min_length=1)


class ProblemOutcome(StrEnum):
    """The ``outcome`` field of an error body. Only the first two are agency decisions."""

    REFUSED = "refused"
    SUPPLEMENT_REQUIRED = "supplement_required"
    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED = "unauthorized"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    SERVER_ERROR = "server_error"


class AgencyProblem(BaseModel):
    """Body of every non-2xx answer from an agency system."""

    outcome: ProblemOutcome
    reason: str
    missing_items: list[str] = Field(default_factory=list)
