"""A dossier as its callers see it over the API: statuses, timeline, whom it is about, and
which agencies were told what, and when (Tell-Us-Once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lienthong.services.container import Container
from lienthong.services.views import DossierView, local_time, timeline_entry, view_of


@dataclass(frozen=True)
class DossierStatusReport:
    view: DossierView
    payload: dict[str, Any]
    timeline: list[dict[str, Any]]
    told: list[dict[str, Any]]
    # A dossier rejected at intake: its problems ({path, message}), as the submitter was told.
    rejection_reasons: list[dict[str, Any]] = field(default_factory=list)


def dossier_status(container: Container, reference: str) -> DossierStatusReport:
    """Read in one transaction; raises ``DossierNotFound``. Times are local."""
    timezone = container.settings.calendar.timezone
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        timeline = [timeline_entry(e, timezone) for e in uow.audit.entries(reference)]
        told = [
            {
                "agency": t.agency.value,
                "event": t.event_type,
                "step": None if t.step_kind is None else t.step_kind.value,
                "queued_at": local_time(t.queued_at, timezone),
                "delivered_at": local_time(t.delivered_at, timezone),
            }
            for t in uow.outbox.told(reference)
        ]
        return DossierStatusReport(
            view_of(dossier, timezone, container.clock.now()),
            dict(dossier.payload),
            timeline,
            told,
            list(dossier.rejection_reasons or []),
        )
