"""Composition helper: the four agency clients built from settings, closed together."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from lienthong.adapters.agency_http import Sleep
from lienthong.adapters.justice import JusticeClient
from lienthong.adapters.police import PoliceClient
from lienthong.adapters.social_affairs import SocialAffairsClient
from lienthong.adapters.social_insurance import SocialInsuranceClient
from lienthong.settings import Settings


@dataclass(frozen=True)
class AgencyClients:
    justice: JusticeClient
    police: PoliceClient
    social_insurance: SocialInsuranceClient
    social_affairs: SocialAffairsClient

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
    cap = settings.limits.max_agency_answer_bytes
    return AgencyClients(
        justice=JusticeClient(
            settings.justice, retry, transport=transport, sleep=sleep, max_answer_bytes=cap
        ),
        police=PoliceClient(
            settings.police, retry, transport=transport, sleep=sleep, max_answer_bytes=cap
        ),
        social_insurance=SocialInsuranceClient(
            settings.social_insurance, retry, transport=transport, sleep=sleep, max_answer_bytes=cap
        ),
        social_affairs=SocialAffairsClient(
            settings.social_affairs, retry, transport=transport, sleep=sleep, max_answer_bytes=cap
        ),
    )
