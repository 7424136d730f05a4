"""How a step's task turns agency answers into outcomes (no Prefect run needed)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.errors import Refused, SupplementRequired, TransientAgencyError
from flows.chain_runner import stop_reason
from lienthong.settings import TaskRetrySettings
from models.status import Agency, StepStatus
from tasks.steps import (
    decision_outcome,
    honour_retry_after,
    is_transient_failure,
    retry_after_cap,
)


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


def test_decisions_become_their_step_status_with_the_reason() -> None:
    asked = SupplementRequired(Agency.POLICE, "consent missing", ["written consent"])
    assert decision_outcome(asked) == (
        StepStatus.AWAITING_SUPPLEMENT,
        {"reason": "consent missing", "missing_items": ["written consent"]},
    )
    assert decision_outcome(Refused(Agency.JUSTICE, "already registered")) == (
        StepStatus.REFUSED,
        {"reason": "already registered"},
    )


@pytest.mark.parametrize(
    ("exc", "status", "kept"),
    [
        (TransientAgencyError(Agency.POLICE, "503 for 001204012345"), StepStatus.FAILED, "503"),
        (TimeoutError(), StepStatus.FAILED, "TimeoutError"),
        (ValueError("input_value='Nguyễn Văn An'"), StepStatus.ERROR, "ValueError"),
    ],
)
def test_a_stopped_step_keeps_no_personal_data(
    exc: BaseException, status: StepStatus, kept: str
) -> None:
    got_status, reason = stop_reason(exc)
    assert got_status == status
    assert kept in reason
    assert "001204012345" not in reason
    assert "Nguyễn" not in reason
