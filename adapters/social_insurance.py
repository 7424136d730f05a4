"""Social insurance (BHXH): child health cards, funeral allowance, survivor benefits."""

from __future__ import annotations

from lienthong.adapters.agency_http import AgencyClient
from lienthong.models.contract.decisions import AgencyReceipt
from lienthong.models.contract.messages import (
    ChildHealthCardRequest,
    FuneralAllowanceRequest,
    SurvivorBenefitsRequest,
)
from lienthong.models.contract.results import (
    AllowanceDecision,
    HealthCardResult,
    SurvivorBenefitsDecision,
)
from lienthong.models.status import Agency


class SocialInsuranceClient(AgencyClient):
    agency = Agency.SOCIAL_INSURANCE

    async def issue_child_health_card(
        self, request: ChildHealthCardRequest, idempotency_key: str
    ) -> HealthCardResult | AgencyReceipt:
        return await self._post("child-health-cards", request, idempotency_key, HealthCardResult)

    async def pay_funeral_allowance(
        self, request: FuneralAllowanceRequest, idempotency_key: str
    ) -> AllowanceDecision | AgencyReceipt:
        return await self._post("funeral-allowances", request, idempotency_key, AllowanceDecision)

    async def grant_survivor_benefits(
        self, request: SurvivorBenefitsRequest, idempotency_key: str
    ) -> SurvivorBenefitsDecision | AgencyReceipt:
        return await self._post(
            "survivor-benefits", request, idempotency_key, SurvivorBenefitsDecision
        )
