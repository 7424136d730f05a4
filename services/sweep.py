"""The overdue sweep, one pass: find (models/overdue.py says what counts as what), then act.

What it does, in this order: polls the agencies for decisions whose callbacks are overdue
(services/poll_decisions.py) and records what they say; refuses lapsed dossiers with the
legal reason; queues one notice per overdue step for its agency and for the commune (a late
decision: a reminder to its agency, then an escalation to the commune once it is a working
day late), a reminder to the agency of each step due soon, and one notice per overdue chain
to the commune, at most once per item, agency and local day, and to each province with late
work one summary of it per working day (models/province_digest.py); resumes stuck
dossiers and starts dossiers never started, and continues stalled ones (a decision recorded
whose chain did not continue: Prefect was down when it came) through an injected callable;
then delivers the outbox. Every notice, resume, start and refusal is audited with actor
``system``. Steps in error are only reported (the ledger notifies them once a day).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lienthong.models.overdue import Findings, SweepOptions, classify, due_soon_limit
from lienthong.models.status import Agency
from lienthong.services import ledger
from lienthong.services.calendar_gaps import swaps_missing_warning, years_without_swaps
from lienthong.services.container import Container
from lienthong.services.decisions import DecisionReceipt, Recorded
from lienthong.services.lapsed_supplements import refuse_lapsed
from lienthong.services.ledger import Actor
from lienthong.services.outbox import DeliveryReport, deliver_due
from lienthong.services.overdue_notices import queue_notices
from lienthong.services.poll_decisions import poll_overdue_decisions
from lienthong.services.resumptions import Resume, record_resumes, resume_requests

logger = logging.getLogger(__name__)


def find_work(container: Container, options: SweepOptions) -> Findings:
    """Classify the candidates the database finds now."""
    now = container.clock.now()
    deadlines = container.deadlines
    soon = due_soon_limit(deadlines, now, options.due_soon_working_days)
    # A pre-filter in calendar days: the window in force today (windows rarely change).
    window = deadlines.supplement_window(now)
    with container.unit_of_work() as uow:
        steps = uow.sweep.step_candidates(now, soon, options.stuck_after, window)
        dossiers = uow.sweep.dossier_candidates(now, options.stuck_after)
    return classify(steps, dossiers, deadlines, now, options)


@dataclass(frozen=True)
class SweepReport:
    at: datetime
    findings: Findings
    refused: list[str]
    notices: int
    resumed: Mapping[str, str]
    delivery: DeliveryReport
    # Years whose government day swaps are not configured (services/calendar_gaps.py).
    years_without_swaps: tuple[int, ...] = ()
    # Decisions found by polling (the callback was overdue); the caller continues them.
    polled: list[DecisionReceipt] = field(default_factory=list)

    def decided(self) -> list[str]:
        """Dossiers whose waiting step got its decision from the poll: to continue."""
        return [r.reference for r in self.polled if r.recorded is Recorded.DECIDED and r.reference]

    def summary_lines(self) -> list[str]:
        f = self.findings
        lines = [
            f"due soon: {len(f.due_soon)}, overdue: {len(f.overdue)}, stuck: {len(f.stuck)}, "
            f"supplementation lapsed: {len(f.lapsed)}",
            f"needs attention: {len(f.errors)} (error)",
            f"decisions escalated: {len(f.escalated)}",
            f"decisions found by polling: {len(self.decided())} "
            f"(of {len(self.polled)} overdue callbacks)",
        ]
        lines += [
            f"  {i.reference}: {i.kind.value} ({i.agency.value}); "
            f"`lienthong run {i.reference}` once the cause is fixed"
            for i in f.errors
        ]
        lines += [
            f"not started: {len(f.not_started)}",
            f"stalled after a decision: {len(f.stalled)}",
            f"chains overdue: {len(f.overdue_chains)}",
            f"notices queued: {self.notices}",
            f"dossiers refused (supplementation lapsed): {len(self.refused)}",
            f"dossiers resumed or started: {len(self.resumed)}",
        ]
        lines += [f"  {ref}: {outcome}" for ref, outcome in sorted(self.resumed.items())]
        d = self.delivery
        lines.append(f"outbox: {d.delivered} delivered, {d.failed} failed, {d.pending} pending")
        if self.years_without_swaps:
            lines.append(swaps_missing_warning(self.years_without_swaps))
        return lines

    def markdown(self) -> str:
        rows = [
            "| Step | Dossier | Agency | Status | Due | Found as |",
            "|------|---------|--------|--------|-----|----------|",
        ]
        f = self.findings
        groups = (
            ("overdue", f.overdue),
            ("due soon", f.due_soon),
            ("stuck", f.stuck),
            ("needs attention (error)", f.errors),
            ("supplementation lapsed", f.lapsed),
        )
        for label, items in groups:
            rows += [
                f"| {i.kind.value} | {i.reference} | {i.agency.value} | {i.status.value} "
                f"| {i.due_at.isoformat() if i.due_at else '-'} | {label} |"
                for i in items
            ]
        for label, dossiers in (
            ("chain overdue", f.overdue_chains),
            ("not started", f.not_started),
            ("stalled", f.stalled),
        ):
            rows += [
                f"| (whole chain) | {d.reference} | {Agency.COMMUNE.value} | {d.status.value} "
                f"| {d.due_at.isoformat() if d.due_at else '-'} | {label} |"
                for d in dossiers
            ]
        return (
            f"## Overdue sweep at {self.at.isoformat()}\n\n"
            + "\n".join(f"- {line.strip()}" for line in self.summary_lines())
            + "\n\n"
            + "\n".join(rows)
            + "\n"
        )


async def sweep(
    container: Container,
    resume: Resume,
    options: SweepOptions | None = None,
    actor: Actor | None = None,
) -> SweepReport:
    """One pass of the sweep (see the module docstring)."""
    options = options or SweepOptions()
    actor = actor or Actor(ledger.SYSTEM_ACTOR)
    at = container.clock.now()
    polled = await poll_overdue_decisions(container)
    findings = await asyncio.to_thread(find_work, container, options)
    refused = await asyncio.to_thread(refuse_lapsed, container, findings.lapsed, actor)
    notices = await asyncio.to_thread(queue_notices, container, findings, actor)
    resumed: Mapping[str, str] = {}
    if options.resume and (findings.stuck or findings.not_started or findings.stalled):
        resumed = await resume(resume_requests(findings))
        await asyncio.to_thread(record_resumes, container, findings, resumed, actor)
    delivery = await deliver_due(container)
    due = [i.due_at for i in (*findings.overdue, *findings.due_soon)]
    gaps = years_without_swaps(container, *due)
    if gaps:
        logger.warning("%s", swaps_missing_warning(gaps))
    return SweepReport(at, findings, refused, notices, resumed, delivery, gaps, polled)
