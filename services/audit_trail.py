"""Verify the audit trail: recompute its hash chain from the first event."""

from __future__ import annotations

from lienthong.models.audit import VerifyResult, verify_chain
from lienthong.services.container import Container


def verify(container: Container, anchor: str | None = None) -> VerifyResult:
    """The chain's verdict; ``anchor`` is a head hash published earlier (see verify_chain)."""
    with container.unit_of_work() as uow:
        return verify_chain(uow.audit.entries(), anchor)
