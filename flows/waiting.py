"""A run whose dossier waits for someone outside suspends, holding nothing while it waits.

A step awaiting an agency's decision or the applicant's supplement can wait for days. The
run does not sleep in a worker: it proposes Prefect's ``Suspended`` state (a Paused state
that Prefect reschedules on resume, which needs a deployment) with a message saying what
it waits for, and exits. ``flows/continuation.py`` resumes it when the decision or the
supplement is recorded; a worker then runs it again from the top, and it carries on from
our record. A run started without a deployment (``lienthong submit``, the demo) cannot be
rescheduled by Prefect: it ends Paused under the name of what it waits for, and is run
again in the process that records the decision. docs/ARCHITECTURE.md defends the choice.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from prefect import State
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import Pause
from prefect.states import Paused, Running, Suspended
from prefect.utilities.engine import propose_state

from lienthong.models.status import StepStatus
from lienthong.models.wording import Language
from lienthong.services.container import Container
from lienthong.services.views import Waiting, waiting_of


def dossier_tag(reference: str) -> str:
    """The one filter that finds every run of a dossier: the tag ``dossier:<REF>``."""
    return f"dossier:{reference}"


def waiting_state(waiting: Waiting, reschedule: bool, language: Language) -> State[Any]:
    """Suspended (with a deployment) or a named Paused state, saying what it waits for.

    Every wait gets a fresh pause key: Prefect refuses a second pause under a key it saw,
    and one run may wait several times (one step after another).
    """
    key = str(uuid.uuid4())
    if reschedule:
        return Suspended(pause_key=key, message=waiting.message(language))
    name = (
        "AwaitingSupplement"
        if waiting.status == StepStatus.AWAITING_SUPPLEMENT
        else "AwaitingDecision"
    )
    return Paused(name=name, pause_key=key, message=waiting.message(language))


async def suspend_while_waiting(container: Container, reference: str) -> None:
    """Suspend the current run while the dossier waits (raises Prefect's ``Pause``).

    Returns instead when nothing waits any more: the decision was recorded between the
    step's answer and the suspension. The record is read again *after* the run is
    suspended, so a decision recorded meanwhile (whose recorder found the run still
    running and left it alone) is never missed: a suspended run is resumed for it, an
    in-process one simply goes on.
    """
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    waiting = await asyncio.to_thread(waiting_of, container, reference)
    if waiting is None:
        return
    run_id = context.flow_run.id
    reschedule = context.flow_run.deployment_id is not None
    async with get_client() as client:
        state = await propose_state(
            client, waiting_state(waiting, reschedule, container.settings.language), run_id
        )
        if not state.is_paused():
            raise RuntimeError(f"Prefect did not suspend the run: it is {state.type.value}")
        if await asyncio.to_thread(waiting_of, container, reference) is None:
            if not reschedule:
                await propose_state(client, Running(), run_id)
                return
            # A worker runs it again; this process must stop (Prefect's runner would stop
            # it anyway once it sees the run suspended).
            await client.resume_flow_run(run_id)
    raise Pause(state=state)
