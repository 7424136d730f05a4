"""What an action taken outside a chain's run tells Prefect: its event, and the dossier's
timeline and worklists republished, so the UI an operator watches is never stale.

Withdrawing, recording a supplement without running the chain, and handing a result back
change our record (the services commit first: the record is what counts); this then emits
``lienthong.dossier.<action>`` on the dossier's resource (as the steps' events: automations
can follow it) and republishes the artifacts. Prefect being unreachable loses nothing: the
change is recorded, and the next run or sweep republishes; the caller is told why.
"""

from __future__ import annotations

from enum import StrEnum

from prefect.events import emit_event

from lienthong.models.masking import scrub
from lienthong.services.container import Container
from lienthong.services.views import load_view
from lienthong.tasks.timeline import publish_timeline
from lienthong.tasks.worklists import publish_worklists


class Action(StrEnum):
    WITHDRAWN = "withdrawn"
    SUPPLEMENTED = "supplemented"
    HANDED_BACK = "handed_back"
    RESUBMITTED = "resubmitted"


def emit_dossier_event(container: Container, reference: str, action: Action, actor: str) -> None:
    """``lienthong.dossier.<action>`` on the dossier: reference, codes and status only."""
    view = load_view(container, reference)
    emit_event(
        event=f"lienthong.dossier.{action.value}",
        resource={
            "prefect.resource.id": f"lienthong.dossier.{reference}",
            "prefect.resource.name": reference,
            "lienthong.chain": view.chain.value if view.chain else "unknown",
            "lienthong.commune": view.commune_code,
        },
        payload={"status": view.status.value, "actor": actor},
    )


async def announce(container: Container, reference: str, action: Action, actor: str) -> str | None:
    """Emit the action's event and republish the dossier's artifacts; None when done, else
    why Prefect could not be told (the change itself is recorded either way)."""
    try:
        # The artifacts first: an unreachable API fails them at once, before an event is
        # queued for a background sender that would only complain about it later.
        # As tasks (outside a flow, each its own task run): Prefect keeps artifacts to runs.
        await publish_timeline(reference)
        await publish_worklists(reference)
        emit_dossier_event(container, reference, action, actor)
    except Exception as exc:
        return scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return None
