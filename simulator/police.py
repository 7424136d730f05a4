"""Simulated Police residence system: permanent residence registration and removal."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from lienthong.models.contract.messages import ResidenceRegistrationRequest, ResidenceRemovalRequest
from lienthong.models.contract.results import ResidenceRegistrationResult, ResidenceRemovalResult
from lienthong.models.status import Agency
from lienthong.simulator.deferred import DeferredDecisions
from lienthong.simulator.protocol import (
    PROBLEM_RESPONSES,
    IdempotencyKey,
    agency_router,
    refused,
    run_idempotent,
    supplement_required,
)
from lienthong.simulator.store import Ledger, SimulatorStore

AGENCY = Agency.POLICE.value
HOUSEHOLD_HEAD_CONSENT = "household head's written consent (ý kiến đồng ý của chủ hộ)"


def build_router(
    store: SimulatorStore, api_key: str, deferred: DeferredDecisions | None = None
) -> APIRouter:
    router = agency_router(api_key, "police")
    run = partial(run_idempotent, store, AGENCY, deferred=deferred)
    if deferred is not None:
        deferred.register("residence_registration", ResidenceRegistrationRequest, _register)
        deferred.register("residence_removal", ResidenceRemovalRequest, _remove)

    @router.post(
        "/residences", response_model=ResidenceRegistrationResult, responses=PROBLEM_RESPONSES
    )
    def register_residence(
        request: ResidenceRegistrationRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Register permanent residence; without the household head's consent, ask for it."""
        return run("residence_registration", "/residences", idempotency_key, request, _register)

    @router.post(
        "/residence-removals", response_model=ResidenceRemovalResult, responses=PROBLEM_RESPONSES
    )
    def remove_residence(
        request: ResidenceRemovalRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        return run("residence_removal", "/residence-removals", idempotency_key, request, _remove)

    return router


def _register(
    ledger: Ledger, request: ResidenceRegistrationRequest
) -> tuple[str, ResidenceRegistrationResult]:
    if not request.household_head_consent:
        raise supplement_required(
            "Cần bổ sung ý kiến đồng ý của chủ hộ. "
            "The household head's written consent is required.",
            [HOUSEHOLD_HEAD_CONSENT],
        )
    if (owner := ledger.owner_of("residence", request.personal_id)) is not None:
        raise refused(
            f"Công dân đã có nơi thường trú ({owner}). "
            f"This citizen already has a permanent residence ({owner})."
        )
    registration_number = f"TT-{ledger.next_value('residence'):08d}"
    result = ResidenceRegistrationResult(
        dossier_reference=request.dossier_reference,
        registration_number=registration_number,
        personal_id=request.personal_id,
        address=request.address,
        registered_at=datetime.now(UTC),
    )
    ledger.claim("residence", request.personal_id, registration_number)
    return registration_number, result


def _remove(ledger: Ledger, request: ResidenceRemovalRequest) -> tuple[str, ResidenceRemovalResult]:
    if (owner := ledger.owner_of("residence_removal", request.personal_id)) is not None:
        raise refused(
            f"Đã xóa đăng ký thường trú ({owner}). "
            f"This permanent residence was already removed ({owner})."
        )
    removal_number = f"XTT-{ledger.next_value('residence_removal'):08d}"
    result = ResidenceRemovalResult(
        dossier_reference=request.dossier_reference,
        removal_number=removal_number,
        personal_id=request.personal_id,
        removed_at=datetime.now(UTC),
    )
    ledger.claim("residence_removal", request.personal_id, removal_number)
    return removal_number, result
