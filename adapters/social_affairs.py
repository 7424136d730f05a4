"""Social affairs (LĐ-TB&XH): funeral-cost support for beneficiaries and people with merit."""

from __future__ import annotations

from lienthong.adapters.agency_http import AgencyClient
from lienthong.models.contract.decisions import AgencyReceipt
from lienthong.models.contract.messages import FuneralAllowanceRequest
from lienthong.models.contract.results import AllowanceDecision
from lienthong.models.status import Agency


class SocialAffairsClient(AgencyClient):
    agency = Agency.SOCIAL_AFFAIRS

    async def pay_funeral_support(
        self, request: FuneralAllowanceRequest, idempotency_key: str
    ) -> AllowanceDecision | AgencyReceipt:
        return await self._post("funeral-supports", request, idempotency_key, AllowanceDecision)
