"""A wait that passes its deadline: chased once a day, then decided, then the chain completes.

A real Prefect server, the simulator with Police deciding later (its officer is slow: an
hour), our API in this process, PostgreSQL. Our side runs on a manual clock, moved past
the residence step's statutory due time and a further working day: the overdue sweep
(the Prefect flow) then reminds Police and escalates to the commune and the province, once
each however often it runs that day. Then the officer decides; the callback resumes the
paused run, which completes the chain. And a decision recorded while the run could not be
resumed (Prefect down) is continued by the sweep: the paused run, not a second one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prefect.client.schemas.objects import StateType

from lienthong.api.server import ApiServer
from lienthong.bootstrap import build_container, use_container
from lienthong.flows.sweep import overdue_sweep
from lienthong.models.clock import ManualClock
from lienthong.models.contract.decisions import DecisionOutcome
from lienthong.models.status import Agency, DossierStatus, StepKind, StepStatus
from lienthong.services.container import Container
from lienthong.services.decisions import DecisionSource, Recorded, record_decision
from lienthong.services.views import load_view
from lienthong.settings import ApiSettings, Settings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import DecisionForm, SimulatorDecisionSettings
from tests.e2e.conftest import fresh_copy, load_example, run, submit, webhooks_received
from tests.e2e.test_async_decisions import final_runs, until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

RESIDENCE = StepKind.RESIDENCE_REGISTRATION


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def late_app(chain_settings: Settings, clock: ManualClock) -> Iterator[Container]:
    api = ApiSettings(
        callback_grace_seconds=0, poll_interval_seconds=0, run_chains_with_deployments=False
    )
    container = build_container(chain_settings.model_copy(update={"api": api}), clock=clock)
    with use_container(container):
        yield container
    container.close()


def chased(simulator: SimulatorServer, slug: str, reference: str) -> list[str]:
    """The events of the notices ``slug`` received about the dossier."""
    return [
        r["payload"]["event"]
        for r in webhooks_received(simulator, slug)
        if r["payload"].get("dossier_reference") == reference
    ]


def decide_now(simulator: SimulatorServer, receipt: str) -> None:
    path = f"/admin/receipts/police/{receipt}/decide-now"
    httpx.post(f"{simulator.base_url}{path}", timeout=10).raise_for_status()


async def test_a_late_decision_is_reminded_and_escalated_once_then_the_chain_completes(
    late_app: Container, simulator: SimulatorServer, clock: ManualClock
) -> None:
    with ApiServer(late_app) as api:
        simulator._deferred.replace(  # type: ignore[union-attr]
            SimulatorDecisionSettings(
                forms={"police": DecisionForm.ASYNC}, delay_seconds=3600, callback_url=api.url
            )
        )
        reference = submit(late_app, fresh_copy(load_example("birth-valid.json"), prefix="AL"))
        await run(late_app, reference)
        with late_app.unit_of_work() as uow:
            step = uow.dossiers.get(reference).step(RESIDENCE)
        assert step.status == StepStatus.AWAITING_DECISION
        assert step.receipt_number is not None
        receipt = step.receipt_number

        # Three weeks on: past the 2-working-day limit and a further working day (whatever
        # the holidays), still the same local day for both passes of the sweep.
        clock.advance(timedelta(days=21))
        first = await overdue_sweep(stuck_after_minutes=15.0)
        second = await overdue_sweep(stuck_after_minutes=15.0)

        assert [i.reference for i in first.findings.escalated] == [reference]
        assert [i.reference for i in second.findings.escalated] == [reference]
        assert second.notices == 0, "once a day, however often the sweep runs"
        assert chased(simulator, "police", reference).count("decision.reminder") == 1
        assert chased(simulator, "commune", reference).count("decision.escalated") == 1
        # The province hears of it in its day's summary of late work (on a working day),
        # not dossier by dossier.
        assert chased(simulator, "province", reference) == []
        calendar = late_app.deadlines.calendar
        working = calendar.is_working_day(calendar.to_local(clock.now()).date())
        named = [
            [e["dossier_reference"] for e in r["payload"]["escalated"]]
            for r in webhooks_received(simulator, "province")
            if r["payload"]["event"] == "province.late_work"
        ]
        assert named == ([[reference]] if working else [])
        assert load_view(late_app, reference).step(RESIDENCE).status == (
            StepStatus.AWAITING_DECISION
        )

        decide_now(simulator, receipt)
        await until(
            lambda: load_view(late_app, reference).status == DossierStatus.COMPLETED,
            "the decision's callback and the chain's last step",
        )

    runs = await final_runs(reference)
    assert [r.state.type for r in runs if r.state] == [StateType.COMPLETED]
    with late_app.unit_of_work() as uow:
        residence = uow.dossiers.get(reference).step(RESIDENCE)
    assert residence.on_time is False, "decided three weeks after the request"


async def test_the_sweep_continues_a_decided_dossier_whose_run_was_not_resumed(
    late_app: Container, simulator: SimulatorServer, clock: ManualClock
) -> None:
    # No callbacks: the decision is recorded below as if our API had received it but
    # could not resume the run (Prefect was down at that moment).
    simulator._deferred.replace(  # type: ignore[union-attr]
        SimulatorDecisionSettings(forms={"police": DecisionForm.ASYNC}, delay_seconds=3600)
    )
    reference = submit(late_app, fresh_copy(load_example("birth-valid.json"), prefix="AS"))
    await run(late_app, reference)
    with late_app.unit_of_work() as uow:
        receipt = uow.dossiers.get(reference).step(RESIDENCE).receipt_number
    assert receipt is not None
    decide_now(simulator, receipt)
    police = late_app.agency_clients.get().for_agency(Agency.POLICE)
    deadline = time.monotonic() + 30
    while (notice := await police.decision(receipt)).outcome is DecisionOutcome.PENDING:
        assert time.monotonic() < deadline, "the officer did not decide"
        await asyncio.sleep(0.05)
    recorded = record_decision(late_app, Agency.POLICE, notice, DecisionSource.CALLBACK)
    assert recorded.recorded is Recorded.DECIDED

    at_once = await overdue_sweep(stuck_after_minutes=15.0)
    assert at_once.findings.stalled == [], "a resume may still be on its way"
    clock.advance(timedelta(minutes=16))
    later = await overdue_sweep(stuck_after_minutes=15.0)

    assert [d.reference for d in later.findings.stalled] == [reference]
    assert later.resumed == {reference: "ran_here"}, "the paused run, not a new one"
    assert load_view(late_app, reference).status == DossierStatus.COMPLETED
    runs = await final_runs(reference)
    assert [r.state.type for r in runs if r.state] == [StateType.COMPLETED]
