"""Reading and writing the record for the chain tasks: each function is one transaction.

These are plain synchronous functions over the unit of work; the Prefect tasks run them in
a worker thread so the event loop keeps serving other dossiers meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lienthong import ledger
from lienthong.bootstrap import Container
from lienthong.ledger import Actor
from models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from models.tables import Dossier, Step


@dataclass(frozen=True)
class StepView:
    """A step as the flow sees it: statuses and references, no personal data."""

    kind: StepKind
    agency: Agency
    position: int
    status: StepStatus
    attempts: int
    agency_reference: str | None
    reason: str | None
    missing_items: list[str] | None
    due_at: str | None
    on_time: bool | None


@dataclass(frozen=True)
class DossierView:
    reference: str
    chain: Chain | None
    status: DossierStatus
    province_code: str
    commune_code: str
    due_at: str | None
    steps: tuple[StepView, ...]


@dataclass(frozen=True)
class StepCall:
    """Everything one agency call needs: the dossier, the results of earlier steps, the key."""

    reference: str
    kind: StepKind
    agency: Agency
    idempotency_key: str
    dossier: dict[str, Any]
    earlier_results: dict[StepKind, dict[str, Any]]


def local_time(moment: datetime | None, timezone: str) -> str | None:
    """Times shown to operators are local (Asia/Ho_Chi_Minh by default), to the second."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


def _view(dossier: Dossier, timezone: str) -> DossierView:
    return DossierView(
        reference=dossier.reference,
        chain=dossier.chain,
        status=dossier.status,
        province_code=dossier.province_code,
        commune_code=dossier.commune_code,
        due_at=local_time(dossier.due_at, timezone),
        steps=tuple(
            StepView(
                kind=s.kind,
                agency=s.agency,
                position=s.position,
                status=s.status,
                attempts=s.attempts,
                agency_reference=s.agency_reference,
                reason=s.reason,
                missing_items=s.missing_items,
                due_at=local_time(s.due_at, timezone),
                on_time=s.on_time,
            )
            for s in dossier.steps
        ),
    )


def _step(dossier: Dossier, kind: StepKind) -> Step:
    for step in dossier.steps:
        if step.kind == kind:
            return step
    raise LookupError(f"dossier {dossier.reference} has no step {kind.value}")


def load_view(container: Container, reference: str) -> DossierView:
    with container.unit_of_work() as uow:
        return _view(uow.dossiers.get(reference), container.settings.calendar.timezone)


def acquire_lease(container: Container, reference: str, owner: str) -> bool:
    with container.unit_of_work() as uow:
        taken = ledger.acquire_lease(
            uow.session,
            reference,
            owner,
            container.clock.now(),
            timedelta(seconds=container.settings.lease_seconds),
        )
        uow.commit()
        return taken


def release_lease(container: Container, reference: str, owner: str) -> None:
    with container.unit_of_work() as uow:
        ledger.release_lease(uow.session, reference, owner)
        uow.commit()


def begin_step(container: Container, reference: str, kind: StepKind, actor: Actor) -> StepCall:
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        step = _step(dossier, kind)
        ledger.start_step(
            uow.session,
            dossier,
            step,
            deadlines=container.deadlines,
            actor=actor,
            now=container.clock.now(),
        )
        call = StepCall(
            reference=reference,
            kind=kind,
            agency=step.agency,
            idempotency_key=step.idempotency_key,
            dossier=dict(dossier.payload),
            earlier_results={
                s.kind: dict(s.result)
                for s in dossier.steps
                if s.position < step.position and s.result
            },
        )
        uow.commit()
        return call


def finish_step(
    container: Container,
    reference: str,
    kind: StepKind,
    status: StepStatus,
    actor: Actor,
    *,
    agency_reference: str | None = None,
    result: dict[str, Any] | None = None,
    reason: str | None = None,
    missing_items: list[str] | None = None,
) -> DossierView:
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        ledger.finish_step(
            uow.session,
            dossier,
            _step(dossier, kind),
            status,
            actor=actor,
            now=container.clock.now(),
            agency_reference=agency_reference,
            result=result,
            reason=reason,
            missing_items=missing_items,
        )
        uow.commit()
        return _view(dossier, container.settings.calendar.timezone)


def note_transient_error(container: Container, reference: str, kind: StepKind, error: str) -> None:
    """Keep the last transient error on the step, so operators see why it is slow."""
    with container.unit_of_work() as uow:
        step = _step(uow.dossiers.get(reference), kind)
        step.last_error = error
        step.updated_at = container.clock.now()
        uow.commit()
