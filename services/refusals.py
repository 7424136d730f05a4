"""Keep a refused attempt on the audit trail: who tried what on which dossier."""

from __future__ import annotations

from lienthong.models.clients import Action, Client
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.ledger import Actor

ACCESS_REFUSED = "access_refused"


def record_refusal(container: Container, client: Client, action: Action, reference: str) -> None:
    """An event ``access_refused`` on ``reference``, by the client; the dossier is unchanged."""
    record_refused(
        container,
        client.actor_id,
        f"role {client.role} may not {action.value} this dossier",
        reference,
    )


def record_refused(container: Container, actor_id: str, reason: str, reference: str) -> None:
    """An event ``access_refused`` on ``reference`` (may be empty), by ``actor_id``, saying
    ``reason``; nothing else changes."""
    with container.unit_of_work() as uow:
        ledger.audit(
            uow,
            Actor(actor_id),
            ACCESS_REFUSED,
            container.clock.now(),
            reference[:64],
            reason=reason,
        )
        uow.commit()
