"""A flow's own reads and lease writes ride out a short outage of our database.

A step's writes are tasks, which Prefect retries while the database is unreachable
(tasks/steps.py). The flow body reads the dossier between steps and holds its lease outside
any task; without the same patience, a database restart of a few seconds failed every run
that happened to read at that moment (benchmarks/chaos.py). They wait as long as a task
would, over all its retries, then fail as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from lienthong.adapters.database import DatabaseUnavailable
from lienthong.services.container import Container
from lienthong.tasks.steps import in_database

P = ParamSpec("P")
R = TypeVar("R")

_MAX_WAIT_SECONDS = 5.0


def outage_budget_seconds(container: Container) -> float:
    """As long as a step's task keeps retrying an unreachable database."""
    return sum(container.settings.task_retry.retry_delay_seconds)


async def through_outage(
    container: Container, service: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run a synchronous service in a thread, retrying while the database is unreachable.

    Only :class:`DatabaseUnavailable` is retried; any other error (a fault in the data, a
    broken rule) leaves at once, scrubbed of statements and data like a task's.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(DatabaseUnavailable),
        stop=stop_after_delay(outage_budget_seconds(container)),
        wait=wait_exponential(multiplier=0.25, max=_MAX_WAIT_SECONDS),
        reraise=True,
    )
    result: R = await retrying(in_database, service, *args, **kwargs)
    return result
