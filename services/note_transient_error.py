"""Keep the last transient error on a step, so operators see why it is slow."""

from __future__ import annotations

from lienthong.models.status import StepKind
from lienthong.services.container import Container


def note_transient_error(container: Container, reference: str, kind: StepKind, error: str) -> None:
    with container.unit_of_work() as uow:
        uow.dossiers.get(reference).note_transient_error(kind, error, container.clock.now())
        uow.commit()
