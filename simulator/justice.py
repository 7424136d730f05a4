"""Simulated Justice / civil status system: births (with the child's personal ID) and deaths."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from lienthong.models.contract.messages import BirthRegistrationRequest, DeathRegistrationRequest
from lienthong.models.contract.results import BirthRegistrationResult, DeathRegistrationResult
from lienthong.models.identifiers import PROVINCE_CODES, century_sex_digit, make_personal_id
from lienthong.models.status import Agency
from lienthong.simulator.deferred import DeferredDecisions
from lienthong.simulator.protocol import (
    PROBLEM_RESPONSES,
    IdempotencyKey,
    agency_router,
    invalid_request,
    refused,
    run_idempotent,
)
from lienthong.simulator.store import Ledger, SimulatorStore

AGENCY = Agency.JUSTICE.value


def build_router(
    store: SimulatorStore, api_key: str, deferred: DeferredDecisions | None = None
) -> APIRouter:
    router = agency_router(api_key, "justice")
    run = partial(run_idempotent, store, AGENCY, deferred=deferred)
    if deferred is not None:
        deferred.register("birth_registration", BirthRegistrationRequest, _register_birth)
        deferred.register("death_registration", DeathRegistrationRequest, _register_death)

    @router.post("/births", response_model=BirthRegistrationResult, responses=PROBLEM_RESPONSES)
    def register_birth(
        request: BirthRegistrationRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Register a birth and issue the child's personal ID and e-birth certificate."""
        if request.province_code not in PROVINCE_CODES:
            raise invalid_request(f"unknown province_code {request.province_code}")
        return run("birth_registration", "/births", idempotency_key, request, _register_birth)

    @router.post("/deaths", response_model=DeathRegistrationResult, responses=PROBLEM_RESPONSES)
    def register_death(
        request: DeathRegistrationRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        return run("death_registration", "/deaths", idempotency_key, request, _register_death)

    return router


def _register_birth(
    ledger: Ledger, request: BirthRegistrationRequest
) -> tuple[str, BirthRegistrationResult]:
    certificate = request.medical_birth_certificate_number
    if (owner := ledger.owner_of("medical_birth_certificate", certificate)) is not None:
        raise refused(
            f"Giấy chứng sinh số {certificate} đã được dùng để đăng ký khai sinh ({owner}). "
            f"The medical birth certificate {certificate} was already used by birth "
            f"registration {owner}."
        )
    born = request.child_date_of_birth
    year = born.year
    number = ledger.next_value(f"birth:{request.province_code}:{year}")
    registration_number = f"KS-{request.province_code}-{year}-{number:06d}"
    digit = century_sex_digit(request.child_sex, year)
    serial = ledger.next_value(f"personal_id:{request.province_code}{digit}{year % 100:02d}")
    result = BirthRegistrationResult(
        dossier_reference=request.dossier_reference,
        registration_number=registration_number,
        personal_id=make_personal_id(request.province_code, request.child_sex, year, serial),
        e_certificate_id=f"TLKS-{registration_number}",
        registered_at=datetime.now(UTC),
    )
    ledger.claim("medical_birth_certificate", certificate, registration_number)
    return registration_number, result


def _register_death(
    ledger: Ledger, request: DeathRegistrationRequest
) -> tuple[str, DeathRegistrationResult]:
    notice = request.death_notice_number
    if (owner := ledger.owner_of("death_notice", notice)) is not None:
        raise refused(
            f"Giấy báo tử số {notice} đã được dùng ({owner}). "
            f"The death notice {notice} was already used by death registration {owner}."
        )
    if (owner := ledger.owner_of("deceased", request.deceased_personal_id)) is not None:
        raise refused(
            f"Người này đã được đăng ký khai tử ({owner}). "
            f"This person's death is already registered ({owner})."
        )
    year = request.time_of_death.year
    number = ledger.next_value(f"death:{request.province_code}:{year}")
    registration_number = f"KT-{request.province_code}-{year}-{number:06d}"
    result = DeathRegistrationResult(
        dossier_reference=request.dossier_reference,
        registration_number=registration_number,
        deceased_personal_id=request.deceased_personal_id,
        e_certificate_id=f"TLKT-{registration_number}",
        registered_at=datetime.now(UTC),
    )
    ledger.claim("death_notice", notice, registration_number)
    ledger.claim("deceased", request.deceased_personal_id, registration_number)
    return registration_number, result
