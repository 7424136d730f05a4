"""Which steps make up each chain, who performs them, and who must hear about them."""

from __future__ import annotations

from dataclasses import dataclass

from lienthong.models.status import Agency, Chain, FuneralPayerBasis, StepKind, StepStatus


@dataclass(frozen=True)
class StepPlan:
    """One step that a dossier's chain will go through, in order."""

    kind: StepKind
    agency: Agency
    position: int
    # Decided at intake: the step exists for the record but is not applicable.
    skip_reason: str | None = None


# Every step of each chain, in order: the one list of them.
CHAIN_STEPS: dict[Chain, tuple[StepKind, ...]] = {
    Chain.BIRTH: (
        StepKind.BIRTH_REGISTRATION,
        StepKind.RESIDENCE_REGISTRATION,
        StepKind.CHILD_HEALTH_CARD,
    ),
    Chain.DEATH: (
        StepKind.DEATH_REGISTRATION,
        StepKind.RESIDENCE_REMOVAL,
        StepKind.FUNERAL_ALLOWANCE,
        StepKind.SURVIVOR_BENEFITS,
    ),
}
# Who performs the birth chain's steps (the death chain's payer depends on the dossier).
BIRTH_AGENCIES = (Agency.JUSTICE, Agency.POLICE, Agency.SOCIAL_INSURANCE)

SOCIAL_INSURANCE_PAYS = frozenset(
    {FuneralPayerBasis.INSURED, FuneralPayerBasis.PENSIONER, FuneralPayerBasis.MONTHLY_BENEFITS}
)
SOCIAL_AFFAIRS_PAYS = frozenset(
    {FuneralPayerBasis.SOCIAL_PROTECTION, FuneralPayerBasis.MERITORIOUS}
)


def funeral_payer(basis: FuneralPayerBasis) -> Agency | None:
    """The agency that pays the funeral allowance, or None when nobody does."""
    if basis in SOCIAL_INSURANCE_PAYS:
        return Agency.SOCIAL_INSURANCE
    if basis in SOCIAL_AFFAIRS_PAYS:
        return Agency.SOCIAL_AFFAIRS
    return None


def birth_plan() -> list[StepPlan]:
    kinds = CHAIN_STEPS[Chain.BIRTH]
    return [
        StepPlan(kind, agency, i)
        for i, (kind, agency) in enumerate(zip(kinds, BIRTH_AGENCIES, strict=True))
    ]


def death_plan(scope: int, basis: FuneralPayerBasis) -> list[StepPlan]:
    """Steps for a death dossier: scope 2 (death + residence), 3 (+ allowance), 4 (+ survivors).

    Steps beyond the requested scope are not created at all; steps within the scope that
    nobody pays for are created as skipped, so the record says why nothing was paid.
    """
    if scope not in (2, 3, 4):
        raise ValueError(f"scope must be 2, 3 or 4 procedures, not {scope}")
    registration, removal, allowance, survivors = CHAIN_STEPS[Chain.DEATH]
    plan = [StepPlan(registration, Agency.JUSTICE, 0), StepPlan(removal, Agency.POLICE, 1)]
    payer = funeral_payer(basis)
    if scope >= 3:
        plan.append(
            StepPlan(
                allowance,
                payer or Agency.SOCIAL_INSURANCE,
                2,
                None if payer else "the deceased was neither insured nor a beneficiary",
            )
        )
    if scope >= 4:
        survivors_paid = payer is Agency.SOCIAL_INSURANCE
        plan.append(
            StepPlan(
                survivors,
                Agency.SOCIAL_INSURANCE,
                3,
                None if survivors_paid else "survivor benefits are paid only by social insurance",
            )
        )
    return plan


def chain_of(kind: StepKind) -> Chain:
    return next(chain for chain, kinds in CHAIN_STEPS.items() if kind in kinds)


def run_tags(chain: Chain | None, commune_code: str, province_code: str) -> list[str]:
    """The labels of a chain's runs, so operators can filter them (in Prefect's UI)."""
    name = chain.value if chain else "unknown"
    return [f"chain:{name}", f"commune:{commune_code}", f"province:{province_code}"]


def agencies_to_notify(
    step_agency: Agency, later_agencies: list[Agency], status: StepStatus
) -> list[Agency]:
    """Who hears about a step's new status.

    The agency that performs the step always does; agencies of later steps hear of the
    outcome (a registration they will build on, or a refusal that means nothing comes);
    the commune hears of every decision a person there must act on.
    """
    notified = [step_agency]
    if status in {StepStatus.SUCCEEDED, StepStatus.REFUSED}:
        notified += later_agencies
    if status in {
        StepStatus.AWAITING_SUPPLEMENT,
        StepStatus.REFUSED,
        StepStatus.FAILED,
        StepStatus.ERROR,
    }:
        notified.append(Agency.COMMUNE)
    return list(dict.fromkeys(notified))
