"""Simulated social insurance (BHXH): child cards, funeral allowance, survivor benefits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from lienthong.models.chains import SOCIAL_INSURANCE_PAYS
from lienthong.models.contract.messages import (
    ChildHealthCardRequest,
    FuneralAllowanceRequest,
    SurvivorBenefitsRequest,
)
from lienthong.models.contract.results import (
    AllowanceDecision,
    HealthCardResult,
    SurvivorBenefitKind,
    SurvivorBenefitsDecision,
)
from lienthong.models.legal_tables import NotInForce
from lienthong.models.status import Agency, FuneralPayerBasis
from lienthong.simulator import rules
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

AGENCY = Agency.SOCIAL_INSURANCE.value
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
CONTRIBUTION_RECORD = "contribution record (quá trình đóng BHXH)"


def build_router(
    store: SimulatorStore, api_key: str, deferred: DeferredDecisions | None = None
) -> APIRouter:
    router = agency_router(api_key, "social insurance")
    run = partial(run_idempotent, store, AGENCY, deferred=deferred)
    if deferred is not None:
        deferred.register("child_health_card", ChildHealthCardRequest, _issue_card)
        deferred.register("funeral_allowance", FuneralAllowanceRequest, _funeral_allowance)
        deferred.register("survivor_benefits", SurvivorBenefitsRequest, _survivor_benefits)

    @router.post(
        "/child-health-cards", response_model=HealthCardResult, responses=PROBLEM_RESPONSES
    )
    def issue_child_health_card(
        request: ChildHealthCardRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """Free health-insurance card for a child under 6 (valid to 72 months of age)."""
        return run(
            "child_health_card", "/child-health-cards", idempotency_key, request, _issue_card
        )

    @router.post(
        "/funeral-allowances", response_model=AllowanceDecision, responses=PROBLEM_RESPONSES
    )
    def pay_funeral_allowance(
        request: FuneralAllowanceRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        """10 x the base salary at the date of death, for the insured or pensioners."""
        return run(
            "funeral_allowance", "/funeral-allowances", idempotency_key, request, _funeral_allowance
        )

    @router.post(
        "/survivor-benefits", response_model=SurvivorBenefitsDecision, responses=PROBLEM_RESPONSES
    )
    def grant_survivor_benefits(
        request: SurvivorBenefitsRequest, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        return run(
            "survivor_benefits", "/survivor-benefits", idempotency_key, request, _survivor_benefits
        )

    return router


def _issue_card(ledger: Ledger, request: ChildHealthCardRequest) -> tuple[str, HealthCardResult]:
    valid_to = rules.child_card_valid_to(request.date_of_birth)
    if valid_to < datetime.now(VIETNAM).date():
        raise refused("Trẻ đã đủ 72 tháng tuổi. The child is past 72 months of age: no free card.")
    if (owner := ledger.owner_of("child_health_card", request.personal_id)) is not None:
        raise refused(f"Trẻ đã có thẻ BHYT số {owner}. The child already has card {owner}.")
    card_number = f"{ledger.next_value('child_health_card'):010d}"
    result = HealthCardResult(
        dossier_reference=request.dossier_reference,
        card_number=card_number,
        personal_id=request.personal_id,
        full_name=request.full_name,
        sex=request.sex,
        date_of_birth=request.date_of_birth,
        address=request.address,
        valid_from=request.date_of_birth,
        valid_to=valid_to,
        benefit_level_percent=100,
        facility_code=request.facility_code,
        facility_name=request.facility_name,
        issued_at=datetime.now(UTC),
    )
    ledger.claim("child_health_card", request.personal_id, card_number)
    return card_number, result


def _funeral_allowance(
    ledger: Ledger, request: FuneralAllowanceRequest
) -> tuple[str, AllowanceDecision]:
    if request.basis not in SOCIAL_INSURANCE_PAYS:
        raise refused(
            "Người chết không thuộc diện hưởng trợ cấp mai táng BHXH. "
            f"Social insurance does not pay a funeral allowance on basis {request.basis}."
        )
    if request.basis is FuneralPayerBasis.INSURED:
        if request.contribution_months is None:
            raise supplement_required(
                "Cần bổ sung quá trình đóng BHXH. The contribution record is needed.",
                [CONTRIBUTION_RECORD],
            )
        if request.contribution_months < rules.INSURED_MIN_CONTRIBUTION_MONTHS:
            raise refused(
                "Chưa đủ 12 tháng đóng BHXH bắt buộc. "
                "Fewer than 12 months of compulsory contributions."
            )
    _refuse_if_paid(ledger, "funeral_allowance", request.deceased_personal_id)
    with _no_level_refused():
        amount = rules.funeral_allowance_vnd(request.date_of_death)
        legal_basis = rules.funeral_allowance_basis(request.date_of_death)
    decision_number = f"MT-BHXH-{ledger.next_value('funeral_allowance'):08d}"
    result = AllowanceDecision(
        dossier_reference=request.dossier_reference,
        decision_number=decision_number,
        payer=Agency.SOCIAL_INSURANCE,
        deceased_personal_id=request.deceased_personal_id,
        amount_vnd=amount,
        legal_basis=legal_basis,
        decided_at=datetime.now(UTC),
    )
    ledger.claim("funeral_allowance", request.deceased_personal_id, decision_number)
    return decision_number, result


def _survivor_benefits(
    ledger: Ledger, request: SurvivorBenefitsRequest
) -> tuple[str, SurvivorBenefitsDecision]:
    if request.basis not in SOCIAL_INSURANCE_PAYS:
        raise refused(
            "Người chết không thuộc diện BHXH. "
            f"Survivor benefits are not paid on basis {request.basis}."
        )
    claim_key = f"{request.deceased_personal_id}:{request.claimant_personal_id}"
    _refuse_if_paid(ledger, "survivor_benefits", claim_key)
    monthly = request.contribution_months >= rules.SURVIVOR_MONTHLY_MIN_CONTRIBUTION_MONTHS or (
        request.basis is not FuneralPayerBasis.INSURED
    )
    with _no_level_refused():
        if monthly:
            kind, amount = (
                SurvivorBenefitKind.MONTHLY,
                rules.survivor_monthly_vnd(request.date_of_death),
            )
        else:
            kind = SurvivorBenefitKind.LUMP_SUM
            amount = rules.survivor_lump_sum_vnd(request.date_of_death, request.contribution_months)
    decision_number = f"TT-BHXH-{ledger.next_value('survivor_benefits'):08d}"
    result = SurvivorBenefitsDecision(
        dossier_reference=request.dossier_reference,
        decision_number=decision_number,
        deceased_personal_id=request.deceased_personal_id,
        claimant_personal_id=request.claimant_personal_id,
        benefit_kind=kind,
        amount_vnd=amount,
        legal_basis="Luật BHXH 2014 Điều 67-70 (simplified by the simulator)",
        decided_at=datetime.now(UTC),
    )
    ledger.claim("survivor_benefits", claim_key, decision_number)
    return decision_number, result


@contextmanager
def _no_level_refused() -> Iterator[None]:
    """Refuse a death before the first base salary the legal tables know: no guessed money."""
    try:
        yield
    except NotInForce as error:
        raise refused(
            "Không xác định được mức lương cơ sở tại tháng chết. "
            f"No base salary known for the month of death ({error})."
        ) from error


def _refuse_if_paid(ledger: Ledger, namespace: str, value: str) -> None:
    if (owner := ledger.owner_of(namespace, value)) is not None:
        raise refused(f"Đã giải quyết ({owner}). Already decided by {owner}.")
