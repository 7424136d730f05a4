"""The overdue sweep as a Prefect flow: scheduled in working hours (prefect.yaml)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from lienthong.bootstrap import current_container
from lienthong.flows.abandoned_runs import reschedule_abandoned_runs
from lienthong.flows.continuation import continue_dossier
from lienthong.flows.runner import run_here
from lienthong.models.masking import scrub
from lienthong.models.overdue import SweepOptions
from lienthong.services.container import Container
from lienthong.services.resumptions import ResumeRequest, ResumeWhy
from lienthong.services.sweep import SweepReport, sweep
from lienthong.tasks.steps import flow_run_actor
from lienthong.tasks.worklists import refresh_all_worklists

logger = logging.getLogger(__name__)


async def resume_here(requests: Sequence[ResumeRequest]) -> Mapping[str, str]:
    """Resume each stuck (or start each never-started) dossier's chain as a subflow of the
    sweep, its final state's name; continue each stalled one (flows/continuation.py: its
    waiting run is resumed, or a run started), how it was continued."""
    again = [r for r in requests if r.why is not ResumeWhy.STALLED]
    states = await run_here([(r.reference, r.chain, r.tags) for r in again])
    outcomes = {reference: state.name or state.type.value for reference, state in states.items()}
    container = current_container()
    deploy = container.settings.api.run_chains_with_deployments
    for request in requests:
        if request.why is ResumeWhy.STALLED:
            outcomes[request.reference] = await _continue(container, request.reference, deploy)
    return outcomes


async def _continue(container: Container, reference: str, deploy: bool) -> str:
    """Continue one dossier; a failure is reported (the next sweep tries again)."""
    try:
        return (await continue_dossier(container, reference, deploy=deploy)).value
    except Exception as exc:
        logger.warning("dossier %s could not be continued: %s", reference, scrub(str(exc)))
        return f"not continued: {type(exc).__name__}"


@flow(name="overdue-sweep", persist_result=False)
async def overdue_sweep(
    due_soon_working_days: int = 1, stuck_after_minutes: float = 15.0, resume: bool = True
) -> SweepReport:
    """Poll for overdue decisions and continue the decided dossiers, notify what is overdue
    (once a day), refuse lapsed supplementations, resume stuck runs and start dossiers never
    started; steps in error are reported, not resumed."""
    options = SweepOptions(due_soon_working_days, timedelta(minutes=stuck_after_minutes), resume)
    container = current_container()
    report = await sweep(container, resume_here, options, flow_run_actor())
    rescheduled = await reschedule_abandoned_runs(report.at, options.stuck_after) if resume else []
    for run in rescheduled:
        logger.warning(
            "flow run %s was left Pending by a stopped worker: scheduled again", run.name
        )
    deploy = container.settings.api.run_chains_with_deployments
    for reference in report.decided():
        if reference not in report.resumed:
            await _continue(container, reference, deploy)
    # Deadlines pass without any dossier changing: every worklist is republished.
    await refresh_all_worklists(container)
    await acreate_markdown_artifact(
        key="overdue-sweep",
        markdown=scrub(report.markdown())
        + f"\n\nRuns left Pending by a stopped worker, scheduled again: {len(rescheduled)}\n",
        description="What the overdue sweep found and did",
    )
    return report
