"""Verify the audit trail: recompute its hash chain from the first event, replay it, and
compare the replay with every dossier and step row."""

from __future__ import annotations

from lienthong.models.audit import Anchor, VerifyResult, verify_stored
from lienthong.services.container import Container


def verify(container: Container, anchor: Anchor | str | None = None) -> VerifyResult:
    """The trail's verdict; ``anchor`` is a head published earlier (see verify_chain).

    The events and the rows are read in one snapshot, so a change committed meanwhile is
    not mistaken for a forgery.
    """
    with container.unit_of_work() as uow:
        uow.audit.read_snapshot()
        return verify_stored(uow.audit.stored_events(), anchor, uow.audit.recorded_dossiers())
