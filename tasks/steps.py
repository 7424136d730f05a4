"""The Prefect task that performs one step of a chain: one agency call, one recorded outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, ParamSpec, TypeVar

from prefect import State, get_run_logger, task
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.asyncio import concurrency
from prefect.context import FlowRunContext
from prefect.events import emit_event

from lienthong.adapters.agency_http import Sleep
from lienthong.adapters.database import DatabaseUnavailable, database_errors_scrubbed
from lienthong.adapters.errors import AgencyDecision, TransientAgencyError
from lienthong.bootstrap import current_container
from lienthong.models.masking import scrub
from lienthong.models.status import Agency, StepKind, StepStatus
from lienthong.services.agency_calls import call_agency
from lienthong.services.begin_step import begin_step
from lienthong.services.finish_step import finish_step
from lienthong.services.ledger import SYSTEM_ACTOR, Actor
from lienthong.services.note_transient_error import note_transient_error
from lienthong.services.step_outcomes import StepOutcome, granted, outcome_of
from lienthong.services.views import DossierView
from lienthong.settings import RetrySettings, TaskRetrySettings

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def is_transient_failure(_task: Any, _task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect retries a step only when the agency or our database was unreachable, never
    after a decision."""
    return isinstance(state.data, TransientAgencyError | TimeoutError | DatabaseUnavailable)


async def in_database(service: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a (synchronous) service in a worker thread.

    A database error leaves as :class:`DatabaseUnavailable` (retried) or ``DatabaseFault``,
    whose messages hold no statement and no data: the exception becomes the task run's
    state message and event in Prefect, where a personal ID must never go.
    """
    with database_errors_scrubbed():
        return await asyncio.to_thread(service, *args, **kwargs)


def flow_run_actor() -> Actor:
    context = FlowRunContext.get()
    run_id = str(context.flow_run.id) if context and context.flow_run else None
    return Actor(SYSTEM_ACTOR, run_id)


def emit_step_event(view: DossierView, kind: StepKind) -> None:
    """A Prefect event per step outcome, on the dossier as resource, for automations."""
    step = view.step(kind)
    emit_event(
        event=f"lienthong.step.{step.status.value}",
        resource={
            "prefect.resource.id": f"lienthong.dossier.{view.reference}",
            "prefect.resource.name": view.reference,
            "lienthong.chain": view.chain.value if view.chain else "unknown",
            "lienthong.commune": view.commune_code,
        },
        related=[
            {
                "prefect.resource.id": f"lienthong.agency.{step.agency.value}",
                "prefect.resource.role": "agency",
            }
        ],
        payload={
            "step": kind.value,
            "status": step.status.value,
            "agency_reference": step.agency_reference,
            "reason": scrub(step.reason or "") or None,
            "missing_items": step.missing_items,
            "dossier_status": view.status.value,
        },
    )


def retry_after_cap(retry: TaskRetrySettings) -> float:
    """The longest pause configured between retries (and at most half the task's timeout)."""
    return min(max(retry.retry_delay_seconds, default=0.0), retry.timeout_seconds / 2)


def step_time_budget(retry: RetrySettings, task_retry: TaskRetrySettings) -> float:
    """The longest one step can keep a run waiting on an unreachable or dripping agency.

    Each agency call ends by its deadline (``call_deadline_seconds``, the whole answer
    included); the adapter starts no new attempt after ``max_seconds``, so one task attempt
    lasts at most ``max_seconds + call_deadline_seconds``, and never more than the task's
    ``timeout_seconds``. Prefect runs ``retries + 1`` attempts, pausing before each retry
    for its delay (the last delay repeats, as Prefect does) and for the agency's
    Retry-After up to :func:`retry_after_cap`. Waiting for an agency's concurrency slot
    is not counted: that is queueing, not a fault.
    """
    attempt = min(retry.max_seconds + retry.call_deadline_seconds, task_retry.timeout_seconds)
    delays = task_retry.retry_delay_seconds or [0.0]
    pauses = sum(
        delays[min(i, len(delays) - 1)] + retry_after_cap(task_retry)
        for i in range(task_retry.retries)
    )
    return (task_retry.retries + 1) * attempt + pauses


async def honour_retry_after(
    exc: TransientAgencyError, cap_seconds: float, sleep: Sleep = asyncio.sleep
) -> None:
    """Wait as long as the agency asked before Prefect's retry, which might come sooner.

    The adapter gives up early when Retry-After exceeds its own budget; without this pause
    the task's first retry (2 s by default) would knock on a rate-limited agency again.
    The wait is capped (``retry_after_cap``): an outage announcing an hour must not hold
    the task for an hour; the sweep takes over once the retries are spent.
    """
    if exc.retry_after:
        await sleep(min(exc.retry_after, cap_seconds))


@contextlib.asynccontextmanager
async def agency_slot(agency: Agency, limited: bool) -> AsyncIterator[None]:
    """A slot of the agency's global concurrency limit, so workers never overload it."""
    if not limited:
        yield
        return
    async with concurrency(f"agency-{agency.value}", occupy=1, strict=True):
        yield


_DEFAULT_RETRY = TaskRetrySettings()


@task(
    name="perform-step",
    task_run_name="{kind}",
    retries=_DEFAULT_RETRY.retries,
    retry_delay_seconds=_DEFAULT_RETRY.retry_delay_seconds,
    retry_condition_fn=is_transient_failure,
    timeout_seconds=_DEFAULT_RETRY.timeout_seconds,
    persist_result=False,
)
async def perform_step(reference: str, kind: StepKind) -> StepStatus:
    """Call the step's agency once (the adapter retries quickly; Prefect retries slowly).

    An unreachable agency, or our database lost mid-step, is raised for Prefect to retry
    (the step stays ``in_progress``: the retry resumes it under the same idempotency key, and
    the agency replays its answer); every other end of the call (a grant, a decision, a
    permanent error) is the step's outcome, recorded here.
    """
    container = current_container()
    actor = flow_run_actor()
    call = await in_database(begin_step, container, reference, kind, actor)
    try:
        async with agency_slot(call.agency, container.settings.agency_concurrency_limits):
            outcome = granted(await call_agency(container.agency_clients.get(), call))
    except TransientAgencyError as exc:
        await in_database(note_transient_error, container, reference, kind, scrub(str(exc)))
        await honour_retry_after(exc, retry_after_cap(container.settings.task_retry))
        raise
    except TimeoutError:
        raise  # as unreachable as a 503: Prefect retries it (is_transient_failure)
    except AgencyDecision as decision:
        outcome = outcome_of(decision)
    except Exception as exc:
        outcome = outcome_of(exc)
        # The traceback goes to the run's log (scrubbed by the handlers protect_prefect_logs
        # filters), where the step's reason tells a person to look.
        get_run_logger().error(
            "dossier %s step %s stopped: %s", reference, kind.value, outcome.reason, exc_info=exc
        )
    return await _finish(reference, kind, outcome)


@task(name="stop-step", task_run_name="stop-{kind}", persist_result=False)
async def stop_step(reference: str, kind: StepKind, outcome: StepOutcome) -> StepStatus:
    """Record that a step stopped without an agency's answer: its retries ran out, or the
    run failed after the call (recording the answer, say). Prefect's log has the cause."""
    get_run_logger().error("dossier %s step %s stopped: %s", reference, kind.value, outcome.reason)
    return await _finish(reference, kind, outcome)


async def _finish(reference: str, kind: StepKind, outcome: StepOutcome) -> StepStatus:
    view = await in_database(
        finish_step, current_container(), reference, kind, outcome, flow_run_actor()
    )
    emit_step_event(view, kind)
    status = view.step(kind).status
    logger.info("dossier %s step %s: %s", reference, kind.value, status.value)
    return status


def configured_perform_step(retry: TaskRetrySettings) -> Any:
    """``perform_step`` with the retry policy from settings (read when the flow runs)."""
    return perform_step.with_options(
        retries=retry.retries,
        retry_delay_seconds=retry.retry_delay_seconds,
        timeout_seconds=retry.timeout_seconds,
    )
