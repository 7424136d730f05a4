"""Chain A: birth registration -> permanent residence -> under-6 health-insurance card."""

from __future__ import annotations

from typing import Any

from prefect import State, flow

from lienthong.flows.chain_runner import run_chain
from lienthong.models.status import Chain


@flow(name="birth-chain", flow_run_name="birth-{reference}", persist_result=False)
async def birth_chain(reference: str) -> State[Any]:
    """Run (or resume) the birth chain of the dossier stored under ``reference``.

    The parameter is the dossier reference only: personal data enters through intake and
    our database, never through Prefect parameters.
    """
    return await run_chain(reference, Chain.BIRTH)
