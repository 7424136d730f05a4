"""The Prefect task that performs one step of a chain: one agency call, one recorded outcome."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

from prefect import State, task
from prefect.client.schemas.objects import TaskRun
from prefect.concurrency.asyncio import concurrency
from prefect.context import FlowRunContext
from prefect.events import emit_event

from adapters.agency_http import Sleep
from adapters.errors import AgencyDecision, SupplementRequired, TransientAgencyError
from lienthong import runtime
from lienthong.ledger import Actor
from lienthong.masking import scrub
from lienthong.settings import TaskRetrySettings
from models.status import Agency, StepKind, StepStatus
from tasks import records
from tasks.agency_calls import call_agency

logger = logging.getLogger(__name__)


def is_transient_failure(_task: Any, _task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect retries a step only when the agency was unreachable, never after a decision."""
    return isinstance(state.data, TransientAgencyError | TimeoutError)


def flow_run_actor() -> Actor:
    context = FlowRunContext.get()
    run_id = str(context.flow_run.id) if context and context.flow_run else None
    return Actor("system", run_id)


def emit_step_event(view: records.DossierView, kind: StepKind) -> None:
    """A Prefect event per step outcome, on the dossier as resource, for automations."""
    step = next(s for s in view.steps if s.kind == kind)
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


def decision_outcome(decision: AgencyDecision) -> tuple[StepStatus, dict[str, Any]]:
    """The step status and recorded fields for an agency's decision."""
    if isinstance(decision, SupplementRequired):
        missing = list(decision.missing_items)
        return StepStatus.AWAITING_SUPPLEMENT, {"reason": decision.reason, "missing_items": missing}
    # Refused, or a decision type this version does not know yet: a refusal with its reason.
    return StepStatus.REFUSED, {"reason": decision.reason}


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
    """Call the step's agency once (the adapter retries quickly; Prefect retries slowly)."""
    container = runtime.container()
    actor = flow_run_actor()
    call = await asyncio.to_thread(records.begin_step, container, reference, kind, actor)
    try:
        async with agency_slot(call.agency, container.settings.agency_concurrency_limits):
            outcome = await call_agency(container, call)
    except TransientAgencyError as exc:
        await asyncio.to_thread(
            records.note_transient_error, container, reference, kind, scrub(str(exc))
        )
        await honour_retry_after(exc, retry_after_cap(container.settings.task_retry))
        raise
    except AgencyDecision as decision:
        status, fields = decision_outcome(decision)
    else:
        status = StepStatus.SUCCEEDED
        fields = {"agency_reference": outcome.agency_reference, "result": outcome.result}
    view = await asyncio.to_thread(
        functools.partial(records.finish_step, container, reference, kind, status, actor, **fields)
    )
    emit_step_event(view, kind)
    status = next(s.status for s in view.steps if s.kind == kind)
    logger.info("dossier %s step %s: %s", reference, kind.value, status.value)
    return status


def configured_perform_step(retry: TaskRetrySettings) -> Any:
    """``perform_step`` with the retry policy from settings (read when the flow runs)."""
    return perform_step.with_options(
        retries=retry.retries,
        retry_delay_seconds=retry.retry_delay_seconds,
        timeout_seconds=retry.timeout_seconds,
    )
