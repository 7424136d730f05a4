"""A step's whole time budget against an unreachable or dripping agency, from settings."""

from __future__ import annotations

from lienthong.settings import RetrySettings, TaskRetrySettings
from lienthong.tasks.steps import step_time_budget


def test_the_defaults_bound_a_step_to_under_six_minutes() -> None:
    # 4 attempts × (20 s of adapter retries + a 30 s last call) + delays 2 + 10 + 30
    # + 3 capped Retry-After pauses of 30 s (docs/production.md, README settings).
    assert step_time_budget(RetrySettings(), TaskRetrySettings()) == 4 * 50 + 42 + 90


def test_the_task_timeout_caps_an_attempt_and_the_last_delay_repeats() -> None:
    retry = RetrySettings(max_seconds=100, call_deadline_seconds=100)
    task_retry = TaskRetrySettings(retries=4, retry_delay_seconds=[1.0, 5.0], timeout_seconds=60)

    # Each attempt is cut at 60 s; the pauses are 1, 5, 5, 5, plus each a Retry-After
    # capped at the longest delay (5 s).
    assert step_time_budget(retry, task_retry) == 5 * 60 + 16 + 4 * 5


def test_no_retries_is_one_attempt() -> None:
    retry = RetrySettings(max_seconds=2, call_deadline_seconds=3)
    task_retry = TaskRetrySettings(retries=0)

    assert step_time_budget(retry, task_retry) == 5
