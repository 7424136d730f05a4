"""Admin endpoints for tests and the demo: what each agency registered, and the faults."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from lienthong.models.contract.http import CALLED_AGENCIES, agency_slug
from lienthong.models.contract.messages import ProblemOutcome
from lienthong.simulator.deferred import DeferredDecisions
from lienthong.simulator.faults import FaultController
from lienthong.simulator.protocol import ProblemError
from lienthong.simulator.settings import SimulatorDecisionSettings, SimulatorFaultSettings
from lienthong.simulator.store import SimulatorStore


def build_router(
    store: SimulatorStore, faults: FaultController, deferred: DeferredDecisions
) -> APIRouter:
    router = APIRouter(tags=["admin"])
    agencies = {agency_slug(a): a.value for a in CALLED_AGENCIES}

    @router.get("/records/{slug}")
    async def records(slug: str) -> list[dict[str, Any]]:
        """Every request the agency carried out (answered 200), once per idempotency key."""
        if slug not in agencies:
            raise ProblemError(404, ProblemOutcome.INVALID_REQUEST, f"no agency {slug!r}")
        return await run_in_threadpool(store.records, agencies[slug])

    @router.get("/faults")
    async def get_faults() -> SimulatorFaultSettings:
        return faults.settings

    @router.get("/fault-stats")
    async def fault_stats() -> dict[str, int]:
        """How many requests got each fault since start, e.g. ``agencies.processed_then_drop``."""
        return dict(faults.injected)

    @router.get("/webhook-stats")
    async def webhook_stats() -> dict[str, dict[str, int]]:
        """Per webhook receiver: notifications kept and duplicate deliveries dropped."""
        return await run_in_threadpool(store.webhook_stats)

    @router.put("/faults")
    async def put_faults(settings: SimulatorFaultSettings) -> SimulatorFaultSettings:
        """Replace the fault settings (resets the seeded random source)."""
        faults.replace(settings)
        return faults.settings

    @router.get("/decisions")
    async def get_decisions() -> SimulatorDecisionSettings:
        return deferred.settings

    @router.post("/receipts/{slug}/{receipt_number}/decide-now")
    async def decide_now(slug: str, receipt_number: str) -> dict[str, str]:
        """The officer decides this receipt now, whatever its delay (tests and demos)."""
        if slug not in agencies:
            raise ProblemError(404, ProblemOutcome.INVALID_REQUEST, f"no agency {slug!r}")
        if not await run_in_threadpool(store.decide_now, agencies[slug], receipt_number):
            raise ProblemError(
                404, ProblemOutcome.INVALID_REQUEST, f"no undecided receipt {receipt_number!r}"
            )
        return {"receipt_number": receipt_number, "decision": "due now"}

    @router.put("/decisions")
    async def put_decisions(settings: SimulatorDecisionSettings) -> SimulatorDecisionSettings:
        """Replace which agencies decide later, the delay and the rates (reseeds)."""
        deferred.replace(settings)
        return deferred.settings

    @router.get("/decision-stats")
    async def decision_stats() -> dict[str, int]:
        """Callbacks sent (by our answer's status), lost on purpose, or failed."""
        return dict(deferred.stats)

    return router
