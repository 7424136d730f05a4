"""Composition helper: the four agency clients built from settings, closed together."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from lienthong.adapters.agency_http import AgencyClient, Sleep
from lienthong.adapters.justice import JusticeClient
from lienthong.adapters.police import PoliceClient
from lienthong.adapters.social_affairs import SocialAffairsClient
from lienthong.adapters.social_insurance import SocialInsuranceClient
from lienthong.models.status import Agency
from lienthong.settings import Settings


@dataclass(frozen=True)
class AgencyClients:
    justice: JusticeClient
    police: PoliceClient
    social_insurance: SocialInsuranceClient
    social_affairs: SocialAffairsClient

    def for_agency(self, agency: Agency) -> AgencyClient:
        """The client of ``agency`` (the commune has none)."""
        clients: dict[Agency, AgencyClient] = {
            Agency.JUSTICE: self.justice,
            Agency.POLICE: self.police,
            Agency.SOCIAL_INSURANCE: self.social_insurance,
            Agency.SOCIAL_AFFAIRS: self.social_affairs,
        }
        return clients[agency]

    async def aclose(self) -> None:
        await asyncio.gather(
            self.justice.aclose(),
            self.police.aclose(),
            self.social_insurance.aclose(),
            self.social_affairs.aclose(),
        )


def build_agency_clients(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    sleep: Sleep = asyncio.sleep,
) -> AgencyClients:
    """One client per agency. ``transport`` (e.g. ``httpx.MockTransport``) is shared by all;
    ``sleep`` is the pause between quick retries (tests pass a recorder)."""
    retry = settings.retry
    common: dict[str, Any] = {
        "transport": transport,
        "sleep": sleep,
        "max_answer_bytes": settings.limits.max_agency_answer_bytes,
    }
    return AgencyClients(
        justice=JusticeClient(settings.justice, retry, **common),
        police=PoliceClient(settings.police, retry, **common),
        social_insurance=SocialInsuranceClient(settings.social_insurance, retry, **common),
        social_affairs=SocialAffairsClient(settings.social_affairs, retry, **common),
    )
