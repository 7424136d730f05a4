"""Resume stuck chains, continue stalled ones, start those never started, and audit it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from lienthong.models.chains import run_tags
from lienthong.models.overdue import DossierItem, Findings, StepItem
from lienthong.models.status import Chain
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor


class ResumeWhy(StrEnum):
    # A step failed or its run crashed: run the chain again.
    STUCK = "stuck"
    # Received and never started: start its chain.
    NOT_STARTED = "not_started"
    # A decision was recorded but no run continued: resume its waiting run (or start one).
    STALLED = "stalled"


@dataclass(frozen=True)
class ResumeRequest:
    reference: str
    chain: Chain
    tags: list[str]
    why: ResumeWhy = ResumeWhy.STUCK


# Runs the chains of the given dossiers; returns an outcome (e.g. a state name) per reference.
Resume = Callable[[Sequence[ResumeRequest]], Awaitable[Mapping[str, str]]]


def resume_requests(findings: Findings) -> list[ResumeRequest]:
    """One request per stuck, stalled or never-started dossier (stuck steps share one run)."""
    items: list[tuple[ResumeWhy, StepItem | DossierItem]] = [
        *((ResumeWhy.STUCK, i) for i in findings.stuck),
        *((ResumeWhy.NOT_STARTED, d) for d in findings.not_started),
        *((ResumeWhy.STALLED, d) for d in findings.stalled),
    ]
    by_reference = {
        i.reference: ResumeRequest(
            i.reference,
            i.chain,
            [*run_tags(i.chain, i.commune_code, i.province_code), "sweep"],
            why,
        )
        for why, i in items
    }
    return list(by_reference.values())


def record_resumes(
    container: Container, findings: Findings, outcomes: Mapping[str, str], actor: Actor
) -> None:
    """Audit each resumed stuck step (``stuck_step_resumed``), each dossier started after
    it was never started (``stalled_dossier_started``) and each chain continued after a
    decision no run picked up (``stalled_chain_continued``), with the run's outcome."""
    now = container.clock.now()
    done: list[tuple[str, StepItem | DossierItem]] = [
        *(("stuck_step_resumed", i) for i in findings.stuck),
        *(("stalled_dossier_started", d) for d in findings.not_started),
        *(("stalled_chain_continued", d) for d in findings.stalled),
    ]
    with container.unit_of_work() as uow:
        for action, item in done:
            if item.reference not in outcomes:
                continue
            ledger.audit(
                uow,
                actor,
                action,
                now,
                item.reference,
                step_kind=item.kind.value if isinstance(item, StepItem) else None,
                before=item.status.value,
                details={"outcome": outcomes[item.reference]},
            )
        uow.commit()
