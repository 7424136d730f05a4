"""What both chain flows do: resume a dossier at its first unfinished step, step by step.

The flow only orchestrates; every agency call and every write of a step is a task (the
dossier's lease is the run's guard: flows/lease.py).

When a step waits for someone outside (an agency's decision after its receipt, the
applicant's supplement) the run does not wait in a process: it suspends
(``flows/waiting.py``) and is resumed when the decision or the supplement is recorded
(``flows/continuation.py``); it then starts again from the top and finds its place in our
record, like any resumed run.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from prefect import State
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.states import Cancelled, Completed, Failed

from lienthong.bootstrap import current_container
from lienthong.flows.lease import dossier_lease
from lienthong.flows.outage import through_outage
from lienthong.flows.waiting import dossier_tag, suspend_while_waiting
from lienthong.models.chains import run_tags
from lienthong.models.masking import protect_prefect_logs, scrub
from lienthong.models.status import (
    DONE_STEP_STATUSES,
    STOPPED_STEP_STATUSES,
    WAITING_STEP_STATUSES,
    Chain,
    DossierStatus,
    StepKind,
    StepStatus,
)
from lienthong.models.wording import Language, say, word
from lienthong.services.container import Container
from lienthong.services.step_outcomes import outcome_of
from lienthong.services.views import DossierView, load_view
from lienthong.tasks.notifications import deliver_dossier_notifications
from lienthong.tasks.steps import configured_perform_step, stop_step
from lienthong.tasks.timeline import publish_timeline
from lienthong.tasks.worklists import publish_worklists

logger = logging.getLogger(__name__)

DONE = DONE_STEP_STATUSES
PARKED = WAITING_STEP_STATUSES | {StepStatus.REFUSED, StepStatus.WITHDRAWN}


class WrongChain(ValueError):
    def __init__(self, reference: str, expected: Chain, actual: Chain | None) -> None:
        super().__init__(
            f"dossier {reference} belongs to the {actual} chain, not the {expected.value} chain"
        )


async def _tag_flow_run(view: DossierView) -> None:
    """Tags carry chain, commune and province so operators can filter runs in the UI."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    tags = set(context.flow_run.tags) | set(
        run_tags(view.chain, view.commune_code, view.province_code)
    )
    tags.add(dossier_tag(view.reference))
    async with get_client() as client:
        await client.update_flow_run(context.flow_run.id, tags=sorted(tags))


async def _advance(container: Container, reference: str) -> DossierView:
    """Run the steps in order from the first unfinished one, until one does not succeed."""
    perform_step = configured_perform_step(container.settings.task_retry)
    view = await through_outage(container, load_view, container, reference)
    for kind in [s.kind for s in view.steps]:
        status = view.step(kind).status
        if status in DONE:
            continue
        if status in PARKED:
            break
        try:
            status = await perform_step(reference, kind)
        except Exception as exc:
            status = await _stop(container, reference, kind, exc)
        view = await through_outage(container, load_view, container, reference)
        if status != StepStatus.SUCCEEDED:
            break
    return view


async def _stop(container: Container, reference: str, kind: StepKind, exc: Exception) -> StepStatus:
    """The step ended without a recorded outcome: Prefect's retries of an unreachable agency
    ran out (``failed``, for the sweep to resume), or the run failed otherwise while the step
    was in progress, e.g. recording the agency's answer (``error``, for a person). A step
    that is not in progress any more was recorded already: the exception is the run's."""
    view = await through_outage(container, load_view, container, reference)
    if view.step(kind).status != StepStatus.IN_PROGRESS:
        raise exc
    return await stop_step(reference, kind, outcome_of(exc))


def _final_state(view: DossierView, language: Language) -> State[Any]:
    summary = {"reference": view.reference, "status": view.status.value}
    stopped = next((s for s in view.steps if s.status in STOPPED_STEP_STATUSES), None)
    if stopped is not None:
        return Failed(
            message=say(
                "run_stopped",
                language,
                step=word(stopped.kind, language),
                status=word(stopped.status, language),
                reason=stopped.reason,
                reference=view.reference,
            ),
            data=summary,
        )
    if view.status == DossierStatus.REFUSED:
        # Cancelled, not Completed: the chain stopped on a decision and delivers nothing
        # more; not Failed either, which operators' automations page someone for.
        refused = next(s for s in view.steps if s.status == StepStatus.REFUSED)
        reason = scrub(refused.reason or "")
        return Cancelled(
            name="Refused", message=say("run_refused", language, reason=reason), data=summary
        )
    if view.status == DossierStatus.WITHDRAWN:
        return Cancelled(name="Withdrawn", message=say("run_withdrawn", language), data=summary)
    status = word(view.status, language).lower()
    return Completed(message=say("run_done", language, status=status), data=summary)


def held_state(view: DossierView) -> State[Any]:
    """A potential duplicate waits for a person's decision: no agency is called, and the run
    ends (Cancelled, named ``Held``: not a failure to page for). After "distinct" the chain
    starts again: `lienthong duplicates resolve` continues it, or the sweep starts it."""
    return Cancelled(
        name="Held",
        message=f"held as a potential duplicate: decide with `lienthong duplicates show "
        f"{view.reference}`",
        data={"reference": view.reference, "status": view.status.value},
    )


async def run_chain(reference: str, chain: Chain) -> State[Any]:
    protect_prefect_logs()
    container = current_container()
    view = await through_outage(container, load_view, container, reference)
    if view.chain != chain:
        raise WrongChain(reference, chain, view.chain)
    await _tag_flow_run(view)
    if view.status == DossierStatus.HELD:
        logger.info("dossier %s is held as a potential duplicate", reference)
        return held_state(view)
    context = FlowRunContext.get()
    owner = str(context.flow_run.id) if context and context.flow_run else str(uuid.uuid4())
    while True:
        async with dossier_lease(container, reference, owner):
            view = await _advance(container, reference)
        await deliver_dossier_notifications(reference)
        await publish_timeline(reference)
        await publish_worklists(reference)
        logger.info("dossier %s is %s", reference, view.status.value)
        if not any(s.status in WAITING_STEP_STATUSES for s in view.steps):
            return _final_state(view, container.settings.language)
        # Suspends the run (raises Pause) unless the wait ended meanwhile: then go on here.
        await suspend_while_waiting(container, reference)
