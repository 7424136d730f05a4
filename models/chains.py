"""Which steps make up each chain, who performs them, and who must hear about them."""

from __future__ import annotations

from dataclasses import dataclass

from models.status import Agency, Chain, FuneralPayerBasis, StepKind, StepStatus


@dataclass(frozen=True)
class StepPlan:
    """One step that a dossier's chain will go through, in order."""

    kind: StepKind
    agency: Agency
    position: int
    # Decided at intake: the step exists for the record but is not applicable.
    skip_reason: str | None = None


BIRTH_STEPS: tuple[tuple[StepKind, Agency], ...] = (
    (StepKind.BIRTH_REGISTRATION, Agency.JUSTICE),
    (StepKind.RESIDENCE_REGISTRATION, Agency.POLICE),
    (StepKind.CHILD_HEALTH_CARD, Agency.SOCIAL_INSURANCE),
)

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
    return [StepPlan(kind, agency, i) for i, (kind, agency) in enumerate(BIRTH_STEPS)]


def death_plan(scope: int, basis: FuneralPayerBasis) -> list[StepPlan]:
    """Steps for a death dossier: scope 2 (death + residence), 3 (+ allowance), 4 (+ survivors).

    Steps beyond the requested scope are not created at all; steps within the scope that
    nobody pays for are created as skipped, so the record says why nothing was paid.
    """
    if scope not in (2, 3, 4):
        raise ValueError(f"scope must be 2, 3 or 4 procedures, not {scope}")
    plan = [
        StepPlan(StepKind.DEATH_REGISTRATION, Agency.JUSTICE, 0),
        StepPlan(StepKind.RESIDENCE_REMOVAL, Agency.POLICE, 1),
    ]
    payer = funeral_payer(basis)
    if scope >= 3:
        plan.append(
            StepPlan(
                StepKind.FUNERAL_ALLOWANCE,
                payer or Agency.SOCIAL_INSURANCE,
                2,
                None if payer else "the deceased was neither insured nor a beneficiary",
            )
        )
    if scope >= 4:
        survivors_paid = payer is Agency.SOCIAL_INSURANCE
        plan.append(
            StepPlan(
                StepKind.SURVIVOR_BENEFITS,
                Agency.SOCIAL_INSURANCE,
                3,
                None if survivors_paid else "survivor benefits are paid only by social insurance",
            )
        )
    return plan


def chain_of(kind: StepKind) -> Chain:
    if kind in {k for k, _ in BIRTH_STEPS}:
        return Chain.BIRTH
    return Chain.DEATH


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
