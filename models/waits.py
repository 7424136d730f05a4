"""Steps waiting for an agency's decision: what the poller and the sweep need to know.

A callback is the normal path; polling the agency's status endpoint is the fallback when a
callback is lost. A wait is worth a poll once the agency's decision is overdue: past the
time it announced, or, when it announced none, past the step's statutory due time, and in
any case not before ``min_wait`` after the receipt (a fresh receipt has nothing to tell).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lienthong.models.status import Agency, StepKind


@dataclass(frozen=True)
class WaitingDecision:
    reference: str
    kind: StepKind
    agency: Agency
    receipt_number: str
    waiting_since: datetime
    decision_expected_at: datetime | None
    due_at: datetime | None

    def callback_overdue(self, now: datetime, grace: timedelta) -> bool:
        """Whether the callback should have come by ``now`` (with ``grace`` for the network)."""
        expected = self.decision_expected_at or self.due_at
        if expected is None:
            return now >= self.waiting_since + grace
        return now >= max(expected, self.waiting_since) + grace
