"""Send a step's request to the agency that performs it, through that agency's client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from lienthong.adapters.agency_clients import AgencyClients
from lienthong.models import agency_requests as build
from lienthong.models.agency_requests import StepCall
from lienthong.models.contract import results
from lienthong.models.contract.decisions import AgencyReceipt
from lienthong.models.status import Agency, StepKind


@dataclass(frozen=True)
class AgencyOutcome:
    agency_reference: str
    result: dict[str, Any]


@dataclass(frozen=True)
class Accepted:
    """The agency acknowledged the request and decides later (202 and a receipt)."""

    receipt: AgencyReceipt


Send = Callable[[AgencyClients, Any, str], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Route:
    build: Callable[[StepCall], BaseModel]
    send: Send
    reference_field: str
    # What a grant carries, in the 200 answer or in a later decision notice.
    result_type: type[results.AgencyResult]


ROUTES: dict[tuple[StepKind, Agency], Route] = {
    (StepKind.BIRTH_REGISTRATION, Agency.JUSTICE): Route(
        build.birth_registration,
        lambda c, r, k: c.justice.register_birth(r, k),
        "registration_number",
        results.BirthRegistrationResult,
    ),
    (StepKind.RESIDENCE_REGISTRATION, Agency.POLICE): Route(
        build.residence_registration,
        lambda c, r, k: c.police.register_residence(r, k),
        "registration_number",
        results.ResidenceRegistrationResult,
    ),
    (StepKind.CHILD_HEALTH_CARD, Agency.SOCIAL_INSURANCE): Route(
        build.child_health_card,
        lambda c, r, k: c.social_insurance.issue_child_health_card(r, k),
        "card_number",
        results.HealthCardResult,
    ),
    (StepKind.DEATH_REGISTRATION, Agency.JUSTICE): Route(
        build.death_registration,
        lambda c, r, k: c.justice.register_death(r, k),
        "registration_number",
        results.DeathRegistrationResult,
    ),
    (StepKind.RESIDENCE_REMOVAL, Agency.POLICE): Route(
        build.residence_removal,
        lambda c, r, k: c.police.remove_residence(r, k),
        "removal_number",
        results.ResidenceRemovalResult,
    ),
    (StepKind.FUNERAL_ALLOWANCE, Agency.SOCIAL_INSURANCE): Route(
        build.funeral_allowance,
        lambda c, r, k: c.social_insurance.pay_funeral_allowance(r, k),
        "decision_number",
        results.AllowanceDecision,
    ),
    (StepKind.FUNERAL_ALLOWANCE, Agency.SOCIAL_AFFAIRS): Route(
        build.funeral_allowance,
        lambda c, r, k: c.social_affairs.pay_funeral_support(r, k),
        "decision_number",
        results.AllowanceDecision,
    ),
    (StepKind.SURVIVOR_BENEFITS, Agency.SOCIAL_INSURANCE): Route(
        build.survivor_benefits,
        lambda c, r, k: c.social_insurance.grant_survivor_benefits(r, k),
        "decision_number",
        results.SurvivorBenefitsDecision,
    ),
}


async def call_agency(clients: AgencyClients, call: StepCall) -> AgencyOutcome | Accepted:
    """Send the step's request under its idempotency key; raise the adapter's errors as they are.

    A 202 comes back as :class:`Accepted`: the decision follows later.
    """
    route = ROUTES[(call.kind, call.agency)]
    request = route.build(call)
    answer = await route.send(clients, request, call.idempotency_key)
    if isinstance(answer, AgencyReceipt):
        return Accepted(answer)
    return granted_outcome(route, answer)


def granted_outcome(route: Route, result: BaseModel) -> AgencyOutcome:
    dumped = result.model_dump(mode="json")
    return AgencyOutcome(str(dumped[route.reference_field]), dumped)


def read_granted(kind: StepKind, agency: Agency, result: dict[str, Any]) -> AgencyOutcome:
    """A grant delivered later (callback or poll), read as the step's result model.

    Raises pydantic's ``ValidationError`` when the result does not match the contract.
    """
    route = ROUTES[(kind, agency)]
    return granted_outcome(route, route.result_type.model_validate(result))
