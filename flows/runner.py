"""Starting chain flows: in this process, or handed to a deployment for the workers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from prefect import Flow, State, tags
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import arun_deployment
from prefect.exceptions import Pause
from prefect.states import Paused

from lienthong.flows.birth_chain import birth_chain
from lienthong.flows.death_chain import death_chain
from lienthong.flows.waiting import dossier_tag
from lienthong.models.chains import run_tags
from lienthong.models.status import Chain, DossierStatus
from lienthong.services.container import Container
from lienthong.services.views import load_view

CHAIN_FLOWS: dict[Chain, Flow[..., Any]] = {Chain.BIRTH: birth_chain, Chain.DEATH: death_chain}
# prefect.yaml names each deployment after its flow.
DEPLOYMENTS: dict[Chain, str] = {chain: f"{f.name}/{f.name}" for chain, f in CHAIN_FLOWS.items()}


Entry = tuple[str, Chain, list[str]]


class NothingToRun(ValueError):
    """The dossier has no chain to run: it was rejected at intake."""


def runnable(container: Container, references: Sequence[str]) -> list[Entry]:
    """(reference, chain, tags) for each dossier, read from the record."""
    entries = []
    for reference in references:
        view = load_view(container, reference)
        if view.status == DossierStatus.REJECTED or view.chain is None:
            raise NothingToRun(
                f"dossier {reference} was rejected at intake: correct its file, then "
                "`lienthong submit FILE.json` (it replaces the rejected one under the same "
                "reference)"
            )
        entries.append(
            (reference, view.chain, run_tags(view.chain, view.commune_code, view.province_code))
        )
    return entries


async def run_here(dossiers: Sequence[Entry], concurrency: int = 16) -> dict[str, State[Any]]:
    """Run each (reference, chain, tags) chain in this process, ``concurrency`` at a time."""
    limit = asyncio.Semaphore(concurrency)

    async def one(reference: str, chain: Chain, run_tags: list[str]) -> State[Any]:
        async with limit:
            # Not the dossier tag: task runs inherit these tags, and Prefect keeps a thread
            # per distinct tag set (tag concurrency); the run tags itself when it starts.
            with tags(*run_tags):
                chain_flow: Any = CHAIN_FLOWS[chain]
                try:
                    state: State[Any] = await chain_flow(reference, return_state=True)
                except Pause as pause:
                    # The dossier waits (flows/waiting.py): the run is paused, not lost.
                    return pause.state or Paused(message="paused")
                return state

    states = await asyncio.gather(*(one(*d) for d in dossiers))
    return {reference: state for (reference, _, _), state in zip(dossiers, states, strict=True)}


async def hand_to_deployment(reference: str, chain: Chain, run_tags: list[str]) -> FlowRun:
    """Create a flow run of the chain's deployment; a worker (or `lienthong serve`) runs it."""
    flow_run: FlowRun = await arun_deployment(
        DEPLOYMENTS[chain],
        parameters={"reference": reference},
        timeout=0,
        tags=[*run_tags, dossier_tag(reference)],
    )
    return flow_run
