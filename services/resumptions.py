"""Resume stuck chains and start those never started, and audit that it was done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from lienthong.models.chains import run_tags
from lienthong.models.overdue import DossierItem, Findings, StepItem
from lienthong.models.status import Chain
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor


@dataclass(frozen=True)
class ResumeRequest:
    reference: str
    chain: Chain
    tags: list[str]


# Runs the chains of the given dossiers; returns an outcome (e.g. a state name) per reference.
Resume = Callable[[Sequence[ResumeRequest]], Awaitable[Mapping[str, str]]]


def resume_requests(findings: Findings) -> list[ResumeRequest]:
    """One request per stuck or never-started dossier (stuck steps share one chain run)."""
    items: list[StepItem | DossierItem] = [*findings.stuck, *findings.not_started]
    by_reference = {
        i.reference: ResumeRequest(
            i.reference, i.chain, [*run_tags(i.chain, i.commune_code, i.province_code), "sweep"]
        )
        for i in items
    }
    return list(by_reference.values())


def record_resumes(
    container: Container, findings: Findings, outcomes: Mapping[str, str], actor: Actor
) -> None:
    """Audit each resumed stuck step (``stuck_step_resumed``) and each dossier started
    after it was never started (``stalled_dossier_started``), with the run's outcome."""
    now = container.clock.now()
    done: list[tuple[str, StepItem | DossierItem]] = [
        *(("stuck_step_resumed", i) for i in findings.stuck),
        *(("stalled_dossier_started", d) for d in findings.not_started),
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
