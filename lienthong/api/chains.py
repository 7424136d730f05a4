"""After the API or the desk recorded something for a dossier: continue its chain, or tell
Prefect of an action taken outside a run."""

from __future__ import annotations

import logging

from lienthong.flows.announce import Action, announce
from lienthong.flows.continuation import continue_dossier
from lienthong.services.container import Container

logger = logging.getLogger(__name__)


async def continue_chain(container: Container, reference: str) -> None:
    """Start or resume the dossier's chain (never raises: the sweep catches up)."""
    if not container.settings.api.start_chains:
        return
    deploy = container.settings.api.run_chains_with_deployments
    try:
        how = await continue_dossier(container, reference, deploy=deploy)
        logger.info("dossier %s continued: %s", reference, how.value)
    except Exception:
        logger.exception(
            "dossier %s: recorded, but its chain could not be started; "
            "`lienthong run %s` or the sweep will",
            reference,
            reference,
        )


async def announce_action(
    container: Container, reference: str, action: Action, actor_id: str
) -> None:
    """Tell Prefect of an action taken outside a run (flows/announce.py: its event, the
    dossier's artifacts republished); never raises: the change is recorded, and the next run
    or sweep republishes. Off with ``start_chains``, like the chains it would continue."""
    if not container.settings.api.start_chains:
        return
    reason = await announce(container, reference, action, actor_id)
    if reason is not None:
        logger.warning("dossier %s: %s recorded; Prefect not told: %s", reference, action, reason)
