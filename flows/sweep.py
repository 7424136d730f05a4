"""The overdue sweep as a Prefect flow: scheduled in working hours (prefect.yaml)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from prefect import flow
from prefect.artifacts import acreate_markdown_artifact

from lienthong.bootstrap import current_container
from lienthong.flows.continuation import continue_dossier
from lienthong.flows.runner import run_here
from lienthong.models.masking import scrub
from lienthong.models.overdue import SweepOptions
from lienthong.services.resumptions import ResumeRequest
from lienthong.services.sweep import SweepReport, sweep
from lienthong.tasks.steps import flow_run_actor


async def resume_here(requests: Sequence[ResumeRequest]) -> Mapping[str, str]:
    """Resume each stuck (or start each never-started) dossier's chain as a subflow of the
    sweep; its final state's name."""
    states = await run_here([(r.reference, r.chain, r.tags) for r in requests])
    return {reference: state.name or state.type.value for reference, state in states.items()}


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
    deploy = container.settings.api.run_chains_with_deployments
    for reference in report.decided():
        await continue_dossier(container, reference, deploy=deploy)
    await acreate_markdown_artifact(
        key="overdue-sweep",
        markdown=scrub(report.markdown()),
        description="What the overdue sweep found and did",
    )
    return report
