"""Start or resume a dossier's chain after the API has recorded something (a dossier, a
supplement, a hospital's complete notification), once the answer is sent."""

from __future__ import annotations

import logging

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
