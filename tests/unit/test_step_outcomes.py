"""How a step's task turns agency answers into outcomes (no Prefect run needed)."""

from __future__ import annotations

from typing import Any

import pytest

from lienthong.adapters.errors import (
    AgencyDecision,
    AgencyProtocolError,
    AgencyRequestRejected,
    Refused,
    SupplementRequired,
    TransientAgencyError,
)
from lienthong.models.status import Agency, StepStatus
from lienthong.services.agency_calls import AgencyOutcome
from lienthong.services.step_outcomes import StepOutcome, granted, outcome_of
from lienthong.settings import TaskRetrySettings
from lienthong.tasks.steps import honour_retry_after, is_transient_failure, retry_after_cap


class FakeState:
    def __init__(self, data: Any) -> None:
        self.data = data


async def test_retry_after_is_waited_for_up_to_the_cap() -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    limited = TransientAgencyError(Agency.POLICE, "429", status_code=429, retry_after=40)
    await honour_retry_after(limited, cap_seconds=60, sleep=record)
    await honour_retry_after(limited, cap_seconds=10, sleep=record)
    await honour_retry_after(TransientAgencyError(Agency.POLICE, "503"), 60, sleep=record)
    assert waits == [40, 10]


def test_the_wait_is_capped_by_the_longest_configured_retry_delay() -> None:
    assert retry_after_cap(TaskRetrySettings()) == 30.0
    quick = TaskRetrySettings(retries=3, retry_delay_seconds=[0.2, 1.0], timeout_seconds=60)
    assert retry_after_cap(quick) == 1.0
    assert retry_after_cap(TaskRetrySettings(retry_delay_seconds=[90], timeout_seconds=60)) == 30


def test_prefect_retries_only_transient_failures() -> None:
    transient = TransientAgencyError(Agency.JUSTICE, "timeout")
    assert is_transient_failure(None, None, FakeState(transient))  # type: ignore[arg-type]
    assert is_transient_failure(None, None, FakeState(TimeoutError()))  # type: ignore[arg-type]
    for permanent in (Refused(Agency.JUSTICE, "no"), ValueError("bug"), None):
        assert not is_transient_failure(None, None, FakeState(permanent))  # type: ignore[arg-type]


def test_a_grant_succeeds_with_the_agency_s_reference_and_result() -> None:
    outcome = granted(AgencyOutcome("KS-2026-000123", {"registration_number": "KS-2026-000123"}))
    assert outcome == StepOutcome(
        StepStatus.SUCCEEDED, "KS-2026-000123", {"registration_number": "KS-2026-000123"}
    )


def test_decisions_become_their_step_status_with_the_reason() -> None:
    asked = SupplementRequired(Agency.POLICE, "consent missing", ["written consent"])
    assert outcome_of(asked) == StepOutcome(
        StepStatus.AWAITING_SUPPLEMENT,
        reason="consent missing",
        missing_items=["written consent"],
    )
    assert outcome_of(Refused(Agency.JUSTICE, "already registered")) == StepOutcome(
        StepStatus.REFUSED, reason="already registered"
    )
    # A decision type this version does not know yet is a refusal with its reason.
    assert outcome_of(AgencyDecision(Agency.JUSTICE, "new kind of no")) == StepOutcome(
        StepStatus.REFUSED, reason="new kind of no"
    )


def test_the_missing_items_are_a_copy_of_the_agency_s_list() -> None:
    items = ["written consent"]
    outcome = outcome_of(SupplementRequired(Agency.POLICE, "consent missing", items))
    items.append("changed later")
    assert outcome.missing_items == ["written consent"]


@pytest.mark.parametrize(
    ("exc", "status", "reason"),
    [
        (
            TransientAgencyError(Agency.POLICE, "503 for 001204012345"),
            StepStatus.FAILED,
            "agency unreachable, retries exhausted: police: 503 for 001*******45",
        ),
        (
            TimeoutError(),
            StepStatus.FAILED,
            "agency unreachable, retries exhausted: TimeoutError",
        ),
        (
            AgencyRequestRejected(Agency.JUSTICE, "bad field 001204012345", status_code=422),
            StepStatus.ERROR,
            "agency rejected our request: bad field 001*******45",
        ),
        (
            AgencyProtocolError(Agency.SOCIAL_INSURANCE, "unreadable answer"),
            StepStatus.ERROR,
            "agency rejected our request: unreadable answer",
        ),
        (
            ValueError("input_value='Nguyễn Văn An' 001204012345"),
            StepStatus.ERROR,
            "internal error (ValueError); see the run's log",
        ),
    ],
    ids=["transient", "timeout", "rejected-request", "protocol", "internal"],
)
def test_a_stopped_step_keeps_no_personal_data(
    exc: BaseException, status: StepStatus, reason: str
) -> None:
    outcome = outcome_of(exc)
    assert outcome == StepOutcome(status, reason=reason)
    assert "001204012345" not in (outcome.reason or "")
    assert "Nguyễn" not in (outcome.reason or "")
