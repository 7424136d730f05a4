"""What an agency call's result or exception means for its step: the one place that decides.

A grant succeeds; a decision (refusal, request for supplementation) is recorded with the
agency's words; an unreachable agency or database (after every retry) leaves the step
``failed`` for the sweep to resume; anything else is an ``error`` a person must look at.
Only the agency adapters' messages are kept, scrubbed: any other exception's text may hold
personal data (a validation error quotes its input), so only its type is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from lienthong.adapters.database import DatabaseFault, DatabaseUnavailable
from lienthong.adapters.errors import (
    AgencyDecision,
    AgencyError,
    SupplementRequired,
    TransientAgencyError,
)
from lienthong.models.contract.decisions import DecisionNotice, DecisionOutcome
from lienthong.models.masking import scrub
from lienthong.models.status import Agency, StepKind, StepStatus
from lienthong.services.agency_calls import Accepted, AgencyOutcome, read_granted


@dataclass(frozen=True)
class StepOutcome:
    status: StepStatus
    agency_reference: str | None = None
    result: dict[str, Any] | None = None
    reason: str | None = None
    missing_items: list[str] | None = None
    # AWAITING_DECISION: the agency's receipt and when it expects to decide.
    receipt_number: str | None = None
    expected_at: datetime | None = None


def granted(outcome: AgencyOutcome | Accepted) -> StepOutcome:
    """The step's outcome when the call returned: a grant, or a receipt (decided later)."""
    if isinstance(outcome, Accepted):
        receipt = outcome.receipt
        return StepOutcome(
            StepStatus.AWAITING_DECISION,
            receipt_number=receipt.receipt_number,
            expected_at=receipt.expected_decision_at,
        )
    return StepOutcome(StepStatus.SUCCEEDED, outcome.agency_reference, outcome.result)


def decided(kind: StepKind, agency: Agency, notice: DecisionNotice) -> StepOutcome:
    """The step's outcome from an agency's final decision delivered later.

    A grant whose result does not match the contract is an ``error`` for a person: the
    agency decided, but we cannot read what (its text may quote personal data: not kept).
    """
    reason = notice.reason or ""
    match notice.outcome:
        case DecisionOutcome.GRANTED:
            try:
                return granted(read_granted(kind, agency, notice.result or {}))
            except ValidationError as exc:
                return StepOutcome(
                    StepStatus.ERROR,
                    reason=f"unreadable grant from {agency.value} "
                    f"({exc.error_count()} field errors); see the agency's record",
                )
        case DecisionOutcome.SUPPLEMENT_REQUIRED:
            return StepOutcome(
                StepStatus.AWAITING_SUPPLEMENT,
                reason=reason,
                missing_items=list(notice.missing_items),
            )
        case DecisionOutcome.REFUSED:
            return StepOutcome(StepStatus.REFUSED, reason=reason)
        case _:
            raise ValueError(f"{notice.outcome.value} is not a final decision")


def outcome_of(exc: BaseException) -> StepOutcome:
    """The step's outcome when its agency call ended with ``exc``."""
    if isinstance(exc, SupplementRequired):
        missing = list(exc.missing_items)
        return StepOutcome(StepStatus.AWAITING_SUPPLEMENT, reason=exc.reason, missing_items=missing)
    if isinstance(exc, AgencyDecision):
        # Refused, or a decision type this version does not know yet: a refusal with its reason.
        return StepOutcome(StepStatus.REFUSED, reason=exc.reason)
    if isinstance(exc, TransientAgencyError | TimeoutError):
        detail = scrub(str(exc)) or type(exc).__name__
        return StepOutcome(
            StepStatus.FAILED, reason=f"agency unreachable, retries exhausted: {detail}"
        )
    if isinstance(exc, DatabaseUnavailable | DatabaseFault):
        # Their messages name a type only (adapters/database.py).
        status = StepStatus.FAILED if isinstance(exc, DatabaseUnavailable) else StepStatus.ERROR
        suffix = ", retries exhausted" if status == StepStatus.FAILED else ""
        return StepOutcome(status, reason=f"{exc}{suffix}")
    if isinstance(exc, AgencyError):
        return StepOutcome(
            StepStatus.ERROR, reason=f"agency rejected our request: {scrub(exc.message)}"
        )
    return StepOutcome(
        StepStatus.ERROR, reason=f"internal error ({type(exc).__name__}); see the run's log"
    )
