"""The asynchronous form of the agency contract: a receipt now, the decision later.

An agency that decides in working days answers a step's POST with ``202 Accepted`` and an
:class:`AgencyReceipt`. Its decision then reaches us as a :class:`DecisionNotice`, by two
paths (docs/agency-api.md):

- a signed callback ``POST <our api>/agency-decisions/<agency-slug>`` (the signature of
  :mod:`lienthong.models.contract.signing`, with the agency's webhook secret; the agency
  is given our API's address when it is connected, as for any webhook);
- polling ``GET <agency base url>/receipts/<receipt_number>``, the fallback when callbacks
  are lost, which answers the latest notice (``pending`` until something is decided).

Both carry the same body; the receiver applies a notice once and ignores repeats.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Our callback endpoint, under our API's public URL; the agency's slug follows.
CALLBACK_PATH = "/agency-decisions"
# Sent with every POST when we expect (or accept) a receipt: RFC 7240.
PREFER_HEADER = "Prefer"
PREFER_ASYNC = "respond-async"
ACCEPTED_STATUS = 202


class AgencyReceipt(BaseModel):
    """The body of a ``202 Accepted``: the agency has the request and will decide later."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    dossier_reference: str
    receipt_number: str = Field(min_length=1, max_length=64)
    # When the agency expects to decide, where it says (its officer's statutory limit).
    expected_decision_at: datetime | None = None


class DecisionOutcome(StrEnum):
    PENDING = "pending"
    GRANTED = "granted"
    SUPPLEMENT_REQUIRED = "supplement_required"
    REFUSED = "refused"
    # Interim: the agency must verify (e.g. the address): the step moves to its longer limit.
    VERIFICATION_NEEDED = "verification_needed"


FINAL_OUTCOMES = frozenset(
    {DecisionOutcome.GRANTED, DecisionOutcome.SUPPLEMENT_REQUIRED, DecisionOutcome.REFUSED}
)


class DecisionNotice(BaseModel):
    """What the agency decided about one receipt (or ``pending``: nothing yet)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    receipt_number: str = Field(min_length=1, max_length=64)
    dossier_reference: str
    outcome: DecisionOutcome
    # GRANTED: the step's result model (e.g. ResidenceRegistrationResult) as JSON.
    result: dict[str, Any] | None = None
    reason: str | None = None
    missing_items: list[str] = Field(default_factory=list)
    decided_at: datetime | None = None
