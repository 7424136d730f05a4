"""Both chains through a real Prefect server, the simulator over HTTP, and our database."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterName,
)
from sqlalchemy import func, select

from lienthong.adapters.dossier_files import load_dossier_file
from lienthong.adapters.tables import AuditEvent, Notification, NotificationStatus
from lienthong.models.contract.http import agency_slug
from lienthong.models.status import Agency, DossierStatus, StepKind, StepStatus
from lienthong.models.wording import word
from lienthong.services.audit_trail import verify
from lienthong.services.container import Container
from lienthong.services.outbox import deliver_due
from lienthong.services.supplements import record_supplement
from lienthong.services.views import load_view
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import FaultProfile, SimulatorFaultSettings
from lienthong.tasks.timeline import artifact_key
from tests.conftest import record_session
from tests.e2e.conftest import (
    EXAMPLES,
    OPERATOR,
    fresh_copy,
    load_example,
    police_outage,
    run,
    set_faults,
    simulator_records,
    steps_of,
    submit,
    webhooks_received,
)

pytestmark = pytest.mark.e2e


async def deliver_everything(app: Container, within_seconds: float = 60) -> None:
    """Deliver until nothing is pending; webhook faults make some take several attempts."""
    deadline = asyncio.get_running_loop().time() + within_seconds
    while (report := await deliver_due(app)).pending:
        assert asyncio.get_running_loop().time() < deadline, f"{report.pending} still pending"
        await asyncio.sleep(0.2)


def audit_intact(app: Container) -> bool:
    return verify(app).intact


async def test_both_chains_complete_with_every_outcome_recorded(
    app: Container, simulator: SimulatorServer
) -> None:
    birth = submit(app, fresh_copy(load_example("birth-valid.json")))
    insured = submit(app, fresh_copy(load_example("death-valid-insured.json")))
    social = submit(app, fresh_copy(load_example("death-valid-social-protection.json")))
    no_payer = submit(app, fresh_copy(load_example("death-valid-no-payer.json")))
    scope4 = submit(app, fresh_copy(load_example("death-valid-scope4.json")))

    states = await run(app, birth, insured, social, no_payer, scope4)

    assert all(state.is_completed() for state in states.values())
    for reference in (birth, insured, social, no_payer, scope4):
        assert load_view(app, reference).status == DossierStatus.COMPLETED
    card = steps_of(app, birth)[StepKind.CHILD_HEALTH_CARD]
    assert card.status == StepStatus.SUCCEEDED
    assert card.agency_reference is not None
    assert len(card.agency_reference) == 10
    with app.unit_of_work() as uow:
        card_data = uow.dossiers.get(birth).step(StepKind.CHILD_HEALTH_CARD).result
    child = load_example("birth-valid.json")["child"]
    assert card_data is not None
    assert card_data["benefit_level_percent"] == 100
    assert (card_data["sex"], card_data["date_of_birth"]) == (child["sex"], child["date_of_birth"])
    assert card_data["valid_from"] == child["date_of_birth"]
    insured_allowance = steps_of(app, insured)[StepKind.FUNERAL_ALLOWANCE]
    assert insured_allowance.agency == Agency.SOCIAL_INSURANCE
    social_allowance = steps_of(app, social)[StepKind.FUNERAL_ALLOWANCE]
    assert social_allowance.agency == Agency.SOCIAL_AFFAIRS
    assert steps_of(app, no_payer)[StepKind.FUNERAL_ALLOWANCE].status == StepStatus.SKIPPED
    assert steps_of(app, scope4)[StepKind.SURVIVOR_BENEFITS].status == StepStatus.SUCCEEDED

    with app.unit_of_work() as uow:
        results = {
            s.kind: s.result for s in uow.dossiers.get(insured).steps if s.result is not None
        }
        social_result = uow.dossiers.get(social).step(StepKind.FUNERAL_ALLOWANCE).result
    died = load_example("death-valid-insured.json")["death"]["occurred_at"]
    expected = 10 * (2_340_000 if str(died) >= "2024-07-01" else 1_800_000)
    assert results[StepKind.FUNERAL_ALLOWANCE]["amount_vnd"] == expected
    assert social_result is not None
    assert social_result["payer"] == "social_affairs"

    await deliver_everything(app)
    assert audit_intact(app)

    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"birth-{birth}"])),
            limit=5,
        )
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key(birth)])),
            limit=5,
        )
    assert len(runs) == 1, "the flow run is named after the chain and the dossier"
    assert "chain:birth" in runs[0].tags
    assert any(t.startswith("commune:") for t in runs[0].tags)
    assert artifacts, "the run publishes its step timeline"
    timeline = str(artifacts[0].data)
    assert word(StepKind.CHILD_HEALTH_CARD) in timeline
    child_id = steps_of(app, birth)[StepKind.BIRTH_REGISTRATION]
    assert child_id.agency_reference is not None
    with app.unit_of_work() as uow:
        personal_id = next(
            s.result["personal_id"]
            for s in uow.dossiers.get(birth).steps
            if s.kind == StepKind.BIRTH_REGISTRATION and s.result
        )
    assert personal_id not in timeline, "personal IDs are masked in artifacts"


async def test_refusal_ends_the_chain_and_supplementation_resumes_it(
    app: Container, simulator: SimulatorServer
) -> None:
    refused = submit(app, load_dossier_file(EXAMPLES / "demo" / "HT-2026-001003.json"))
    waiting = submit(app, load_dossier_file(EXAMPLES / "demo" / "HT-2026-001002.json"))

    states = await run(app, refused, waiting)

    assert states[refused].name == "Refused"
    assert states[waiting].name == "AwaitingSupplement"
    refused_steps = steps_of(app, refused)
    assert refused_steps[StepKind.BIRTH_REGISTRATION].status == StepStatus.REFUSED
    assert refused_steps[StepKind.BIRTH_REGISTRATION].reason
    assert refused_steps[StepKind.RESIDENCE_REGISTRATION].status == StepStatus.SKIPPED
    assert load_view(app, refused).status == DossierStatus.REFUSED
    residence = steps_of(app, waiting)[StepKind.RESIDENCE_REGISTRATION]
    assert residence.status == StepStatus.AWAITING_SUPPLEMENT
    assert residence.missing_items
    assert load_view(app, waiting).status == DossierStatus.AWAITING_SUPPLEMENT

    supplement = load_dossier_file(EXAMPLES / "demo" / "supplements" / f"{waiting}.json")
    record_supplement(app, waiting, supplement, OPERATOR)
    states = await run(app, waiting)

    assert load_view(app, waiting).status == DossierStatus.COMPLETED
    justice = [
        r for r in simulator_records(simulator)["justice"] if r["dossier_reference"] == waiting
    ]
    assert len(justice) == 1, "the birth was not registered again after the supplement"
    await deliver_everything(app)
    commune = [
        w
        for w in webhooks_received(simulator, "commune")
        if w["payload"]["dossier_reference"] == waiting
    ]
    assert [w["payload"]["status"] for w in commune] == ["awaiting_supplement"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_twenty_percent_transient_faults_every_dossier_completes_exactly_once(
    app: Container, simulator: SimulatorServer
) -> None:
    set_faults(
        simulator,
        SimulatorFaultSettings(
            seed=20,
            agencies=FaultProfile(
                error_500_rate=0.04,
                error_503_rate=0.04,
                rate_limit_rate=0.04,
                drop_rate=0.04,
                processed_then_drop_rate=0.04,
                retry_after_seconds=0,
            ),
            webhooks=FaultProfile(error_503_rate=0.1, drop_rate=0.1),
        ),
    )
    examples = [
        "birth-valid.json",
        "death-valid-insured.json",
        "death-valid-social-protection.json",
        "death-valid-scope4.json",
    ]
    references = [
        submit(app, fresh_copy(load_example(examples[i % len(examples)]), prefix="FT"))
        for i in range(16)
    ]

    await run(app, *references)
    await deliver_everything(app)

    for reference in references:
        assert load_view(app, reference).status == DossierStatus.COMPLETED, reference
    made = simulator_records(simulator)
    for slug, rows in made.items():
        per_step = Counter((r["kind"], r["dossier_reference"]) for r in rows)
        assert all(n == 1 for n in per_step.values()), f"{slug} registered twice: {per_step}"
    succeeded = sum(
        1
        for reference in references
        for step in load_view(app, reference).steps
        if step.status == StepStatus.SUCCEEDED
    )
    assert sum(len(rows) for rows in made.values()) == succeeded
    with record_session(app) as session:
        queued = Counter(
            session.scalars(
                select(Notification.agency).where(
                    Notification.status == NotificationStatus.DELIVERED
                )
            )
        )
        undelivered = session.scalar(
            select(func.count()).where(Notification.status != NotificationStatus.DELIVERED)
        )
    assert undelivered == 0
    for agency, expected in queued.items():
        received = webhooks_received(simulator, agency_slug(agency))
        event_ids = Counter(w["event_id"] for w in received)
        assert all(n == 1 for n in event_ids.values()), f"{agency} got a duplicate"
        assert len(event_ids) == expected, f"{agency}: {len(event_ids)} of {expected} arrived"
    assert sum(simulator.faults.injected[k] for k in simulator.faults.injected if "none" not in k)
    assert audit_intact(app)


async def test_exhausted_retries_leave_a_visible_failed_step_that_resumes(
    app: Container, simulator: SimulatorServer
) -> None:
    police_outage(simulator)
    reference = submit(app, fresh_copy(load_example("birth-valid.json")))

    states = await run(app, reference)

    assert states[reference].is_failed()
    steps = steps_of(app, reference)
    assert steps[StepKind.BIRTH_REGISTRATION].status == StepStatus.SUCCEEDED
    assert steps[StepKind.RESIDENCE_REGISTRATION].status == StepStatus.FAILED
    assert "retries exhausted" in (steps[StepKind.RESIDENCE_REGISTRATION].reason or "")
    assert load_view(app, reference).status == DossierStatus.IN_PROGRESS

    set_faults(simulator, SimulatorFaultSettings())
    await run(app, reference)

    assert load_view(app, reference).status == DossierStatus.COMPLETED
    made = simulator_records(simulator)
    assert [r["dossier_reference"] for r in made["justice"]] == [reference]
    assert [r["dossier_reference"] for r in made["police"]] == [reference]


async def test_two_runs_of_one_dossier_at_once_call_each_agency_once(
    app: Container, simulator: SimulatorServer
) -> None:
    set_faults(simulator, SimulatorFaultSettings(agencies=FaultProfile(latency_ms=150)))
    reference = submit(app, fresh_copy(load_example("birth-valid.json")))

    await asyncio.gather(run(app, reference), run(app, reference))

    assert load_view(app, reference).status == DossierStatus.COMPLETED
    with record_session(app) as session:
        starts: Counter[str | None] = Counter(
            session.scalars(
                select(AuditEvent.step_kind).where(
                    AuditEvent.dossier_reference == reference,
                    AuditEvent.status_after == StepStatus.IN_PROGRESS.value,
                    AuditEvent.action == "step_status_changed",
                )
            )
        )
    assert starts == {k.value: 1 for k in steps_of(app, reference)}
    made = simulator_records(simulator)
    assert sum(len(rows) for rows in made.values()) == 3
