"""Whether a client may act on a dossier: the role's rule (models/clients.py), and a refusal
kept on the audit trail. The dossier API and the desk ask the same question."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from lienthong.models.clients import Action, Client
from lienthong.services.container import Container
from lienthong.services.refusals import record_refusal


async def permitted(
    container: Container,
    client: Client,
    action: Action,
    reference: str,
    province_code: str,
    commune_code: str,
) -> bool:
    """True if ``client`` may do ``action`` to this dossier; if not, the refusal is audited."""
    if client.role.may(action, province_code, commune_code):
        return True
    await run_in_threadpool(record_refusal, container, client, action, reference)
    return False
