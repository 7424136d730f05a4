"""Simulated social affairs (LĐ-TB&XH): funeral-cost support."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from lienthong.models.chains import SOCIAL_AFFAIRS_PAYS
from lienthong.models.contract.messages import FuneralAllowanceRequest
from lienthong.models.contract.results import AllowanceDecision
from lienthong.models.legal_tables import NotInForce
from lienthong.models.status import Agency
from lienthong.simulator import rules
from lienthong.simulator.deferred import DeferredDecisions
from lienthong.simulator.protocol import (
    PROBLEM_RESPONSES,
    IdempotencyKey,
    agency_router,
    refused,
    run_idempotent,
)
from lienthong.simulator.store import Ledger, SimulatorStore

AGENCY = Agency.SOCIAL_AFFAIRS.value


def build_router(
    store: SimulatorStore, api_key: str, deferred: DeferredDecisions | None = None
) -> APIRouter:
    router = agency_router(api_key, "social affairs")
    run = partial(run_idempotent, store, AGENCY, deferred=deferred)
    if deferred is not None:
        deferred.register("funeral_support", FuneralAllowanceRequest, _funeral_support)

    @router.post("/funeral-supports", response_model=AllowanceDecision, responses=PROBLEM_RESPONSES)
    def pay_funeral_support(
        request: FuneralAllowanceRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """20 x the standard assistance level at the date of death."""
        return run(
            "funeral_support", "/funeral-supports", idempotency_key, request, _funeral_support
        )

    return router


def _funeral_support(
    ledger: Ledger, request: FuneralAllowanceRequest
) -> tuple[str, AllowanceDecision]:
    if request.basis not in SOCIAL_AFFAIRS_PAYS:
        raise refused(
            "Người chết không thuộc diện hỗ trợ mai táng phí. "
            f"Social affairs does not pay funeral support on basis {request.basis}."
        )
    if (owner := ledger.owner_of("funeral_support", request.deceased_personal_id)) is not None:
        raise refused(f"Đã chi hỗ trợ mai táng ({owner}). Already paid by {owner}.")
    try:
        amount = rules.funeral_support_vnd(request.date_of_death)
        legal_basis = rules.funeral_support_basis(request.date_of_death)
    except NotInForce as error:
        raise refused(
            "Không xác định được mức chuẩn trợ giúp xã hội tại tháng chết. "
            f"No standard assistance level known for the month of death ({error})."
        ) from error
    decision_number = f"MT-LDTBXH-{ledger.next_value('funeral_support'):08d}"
    result = AllowanceDecision(
        dossier_reference=request.dossier_reference,
        decision_number=decision_number,
        payer=Agency.SOCIAL_AFFAIRS,
        deceased_personal_id=request.deceased_personal_id,
        amount_vnd=amount,
        legal_basis=legal_basis,
        decided_at=datetime.now(UTC),
    )
    ledger.claim("funeral_support", request.deceased_personal_id, decision_number)
    return decision_number, result
