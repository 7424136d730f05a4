"""Chain B: death registration -> residence removal -> funeral allowance / survivor benefits."""

from __future__ import annotations

from typing import Any

from prefect import State, flow

from lienthong.flows.chain_runner import run_chain
from lienthong.models.status import Chain


@flow(name="death-chain", flow_run_name="death-{reference}", persist_result=False)
async def death_chain(reference: str) -> State[Any]:
    """Run (or resume) the death chain of the dossier stored under ``reference``.

    Which steps exist (scope 2, 3 or 4) and who pays the allowance were fixed at intake.
    """
    return await run_chain(reference, Chain.DEATH)
