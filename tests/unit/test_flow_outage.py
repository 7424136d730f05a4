"""A flow's own reads ride out a short database outage, and only that (flows/outage.py)."""

from __future__ import annotations

import dataclasses

import pytest

from lienthong.adapters.database import DatabaseFault, DatabaseUnavailable
from lienthong.flows.outage import outage_budget_seconds, through_outage
from lienthong.services.container import Container
from lienthong.settings import TaskRetrySettings
from tests.fakes import fake_container


def _container(delays: list[float]) -> Container:
    container, _ = fake_container()
    retry = TaskRetrySettings(retries=len(delays), retry_delay_seconds=delays)
    settings = container.settings.model_copy(update={"task_retry": retry})
    return dataclasses.replace(container, settings=settings)


class _Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self, value: str) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return value


def test_the_budget_is_what_a_task_would_wait_over_its_retries() -> None:
    assert outage_budget_seconds(_container([2.0, 10.0, 30.0])) == 42.0


async def test_an_unreachable_database_is_waited_for() -> None:
    service = _Flaky(2, DatabaseUnavailable("OperationalError"))
    assert await through_outage(_container([1.0, 1.0]), service, "view") == "view"
    assert service.calls == 3


async def test_an_outage_longer_than_the_budget_fails_the_read() -> None:
    service = _Flaky(1000, DatabaseUnavailable("OperationalError"))
    with pytest.raises(DatabaseUnavailable):
        await through_outage(_container([0.3]), service, "view")
    assert service.calls > 1


async def test_a_database_fault_is_not_retried() -> None:
    service = _Flaky(1, DatabaseFault("IntegrityError"))
    with pytest.raises(DatabaseFault):
        await through_outage(_container([5.0]), service, "view")
    assert service.calls == 1
