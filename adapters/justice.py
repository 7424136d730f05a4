"""Justice / civil status (Tư pháp - Hộ tịch): births and deaths."""

from __future__ import annotations

from lienthong.adapters.agency_http import AgencyClient
from lienthong.models.contract.decisions import AgencyReceipt
from lienthong.models.contract.messages import BirthRegistrationRequest, DeathRegistrationRequest
from lienthong.models.contract.results import BirthRegistrationResult, DeathRegistrationResult
from lienthong.models.status import Agency


class JusticeClient(AgencyClient):
    agency = Agency.JUSTICE

    async def register_birth(
        self, request: BirthRegistrationRequest, idempotency_key: str
    ) -> BirthRegistrationResult | AgencyReceipt:
        """Register the birth; the result carries the child's 12-digit personal ID."""
        return await self._post("births", request, idempotency_key, BirthRegistrationResult)

    async def register_death(
        self, request: DeathRegistrationRequest, idempotency_key: str
    ) -> DeathRegistrationResult | AgencyReceipt:
        return await self._post("deaths", request, idempotency_key, DeathRegistrationResult)
