"""What both chain flows do: resume a dossier at its first unfinished step, step by step.

The flow only orchestrates; every agency call and every write is a task.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from prefect import State
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.states import Completed, Failed

from adapters.errors import AgencyError, TransientAgencyError
from lienthong import runtime
from lienthong.masking import protect_prefect_logs, scrub
from models.status import (
    DONE_STEP_STATUSES,
    STOPPED_STEP_STATUSES,
    Chain,
    DossierStatus,
    StepKind,
    StepStatus,
)
from tasks import records
from tasks.guard import dossier_lease
from tasks.notifications import deliver_dossier_notifications
from tasks.steps import configured_perform_step, emit_step_event, flow_run_actor
from tasks.timeline import publish_timeline

logger = logging.getLogger(__name__)

DONE = DONE_STEP_STATUSES
PARKED = frozenset({StepStatus.AWAITING_SUPPLEMENT, StepStatus.REFUSED, StepStatus.WITHDRAWN})


class WrongChain(ValueError):
    def __init__(self, reference: str, expected: Chain, actual: Chain | None) -> None:
        super().__init__(
            f"dossier {reference} belongs to the {actual} chain, not the {expected.value} chain"
        )


async def _tag_flow_run(view: records.DossierView) -> None:
    """Tags carry chain and commune so operators can filter runs in the UI."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    tags = set(context.flow_run.tags) | {
        f"chain:{view.chain.value if view.chain else 'unknown'}",
        f"commune:{view.commune_code}",
        f"province:{view.province_code}",
    }
    async with get_client() as client:
        await client.update_flow_run(context.flow_run.id, tags=sorted(tags))


def _status_of(view: records.DossierView, kind: StepKind) -> StepStatus:
    return next(s.status for s in view.steps if s.kind == kind)


def stop_reason(exc: BaseException) -> tuple[StepStatus, str]:
    """Failed (retry later) for an unreachable agency; error (a person must look) otherwise.

    Only the agency adapters' messages are kept, scrubbed: any other exception's text may
    hold personal data (a validation error quotes its input), so only its type is recorded,
    and its traceback stays in the run's log.
    """
    if isinstance(exc, TransientAgencyError | TimeoutError):
        detail = scrub(str(exc)) or type(exc).__name__
        return StepStatus.FAILED, f"agency unreachable, retries exhausted: {detail}"
    if isinstance(exc, AgencyError):
        return StepStatus.ERROR, f"agency rejected our request: {scrub(exc.message)}"
    return StepStatus.ERROR, f"internal error ({type(exc).__name__}); see the run's log"


async def _mark_failed(reference: str, kind: StepKind, exc: BaseException) -> records.DossierView:
    container = runtime.container()
    view = await asyncio.to_thread(records.load_view, container, reference)
    if _status_of(view, kind) != StepStatus.IN_PROGRESS:
        raise exc
    status, reason = stop_reason(exc)
    logger.error("dossier %s step %s stopped: %s", reference, kind.value, reason)
    view = await asyncio.to_thread(
        records.finish_step, container, reference, kind, status, flow_run_actor(), reason=reason
    )
    emit_step_event(view, kind)
    return view


async def _advance(reference: str) -> tuple[records.DossierView, BaseException | None]:
    container = runtime.container()
    perform_step = configured_perform_step(container.settings.task_retry)
    view = await asyncio.to_thread(records.load_view, container, reference)
    for kind in [s.kind for s in view.steps]:
        status = _status_of(view, kind)
        if status in DONE:
            continue
        if status in PARKED:
            break
        try:
            status = await perform_step(reference, kind)
        except Exception as exc:
            return await _mark_failed(reference, kind, exc), exc
        view = await asyncio.to_thread(records.load_view, container, reference)
        if status != StepStatus.SUCCEEDED:
            break
    return view, None


def _final_state(view: records.DossierView, error: BaseException | None) -> State[Any]:
    summary = {"reference": view.reference, "status": view.status.value}
    if error is not None:
        stopped = next(s for s in view.steps if s.status in STOPPED_STEP_STATUSES)
        return Failed(
            message=f"{stopped.kind.value} {stopped.status.value}: {stopped.reason}; "
            f"resume with `lienthong run {view.reference}`",
            data=summary,
        )
    if view.status == DossierStatus.AWAITING_SUPPLEMENT:
        return Completed(
            name="AwaitingSupplement", message="awaiting supplementation", data=summary
        )
    if view.status == DossierStatus.REFUSED:
        refused = next(s for s in view.steps if s.status == StepStatus.REFUSED)
        reason = scrub(refused.reason or "")
        return Completed(name="Refused", message=f"refused: {reason}", data=summary)
    return Completed(message=f"dossier {view.status.value}", data=summary)


async def run_chain(reference: str, chain: Chain) -> State[Any]:
    protect_prefect_logs()
    container = runtime.container()
    view = await asyncio.to_thread(records.load_view, container, reference)
    if view.chain != chain:
        raise WrongChain(reference, chain, view.chain)
    await _tag_flow_run(view)
    context = FlowRunContext.get()
    owner = str(context.flow_run.id) if context and context.flow_run else str(uuid.uuid4())
    async with dossier_lease(container, reference, owner):
        view, error = await _advance(reference)
    await deliver_dossier_notifications(reference)
    await publish_timeline(reference)
    logger.info("dossier %s is %s", reference, view.status.value)
    return _final_state(view, error)
