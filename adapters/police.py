"""Police (Công an): permanent residence registration and its removal on death."""

from __future__ import annotations

from lienthong.adapters.agency_http import AgencyClient
from lienthong.models.contract.decisions import AgencyReceipt
from lienthong.models.contract.messages import ResidenceRegistrationRequest, ResidenceRemovalRequest
from lienthong.models.contract.results import ResidenceRegistrationResult, ResidenceRemovalResult
from lienthong.models.status import Agency


class PoliceClient(AgencyClient):
    agency = Agency.POLICE

    async def register_residence(
        self, request: ResidenceRegistrationRequest, idempotency_key: str
    ) -> ResidenceRegistrationResult | AgencyReceipt:
        return await self._post("residences", request, idempotency_key, ResidenceRegistrationResult)

    async def remove_residence(
        self, request: ResidenceRemovalRequest, idempotency_key: str
    ) -> ResidenceRemovalResult | AgencyReceipt:
        return await self._post(
            "residence-removals", request, idempotency_key, ResidenceRemovalResult
        )
