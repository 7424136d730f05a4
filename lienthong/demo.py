"""``lienthong demo``: the whole pipeline on one machine, with nothing to set up.

It starts the agency simulator (with injected transient faults, and Police deciding later:
a receipt, then the decision by callback, a Standard Webhook, some callbacks lost, some
decisions needing verification) and our API (which receives the callbacks, polls for the
lost ones and resumes the waiting runs; the portal submits a dossier to it, and a hospital
a birth certificate the family completes through the portal), uses an embedded Prefect (a
temporary local server on its own SQLite file: ``lienthong demo`` sets PREFECT_HOME to
``<data dir>/demo-prefect`` and ignores the operator's PREFECT_API_URL,
lienthong/cli/demo.py), stores the sample dossiers in a fresh demo database, runs both
chains, answers the request for supplementation, delivers every notification and prints
what happened.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lienthong.adapters.dossier_files import load_dossier_file
from lienthong.api.server import ApiServer
from lienthong.bootstrap import build_container, run_async, use_container
from lienthong.flows.continuation import continue_dossier, dossier_runs
from lienthong.flows.runner import run_here, runnable
from lienthong.migrations import upgrade_database
from lienthong.models.clients import Role
from lienthong.models.contract.http import CALLED_AGENCIES, agency_slug
from lienthong.models.status import (
    STOPPED_STEP_STATUSES,
    DossierStatus,
    StepStatus,
)
from lienthong.services.audit_trail import verify
from lienthong.services.container import Container
from lienthong.services.create_client import create_client
from lienthong.services.intake import IntakeResult, receive
from lienthong.services.ledger import Actor
from lienthong.services.outbox import deliver_with_patience
from lienthong.services.supplements import record_supplement
from lienthong.services.views import events, load_view
from lienthong.settings import ApiSettings, Settings, TaskRetrySettings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import (
    DecisionForm,
    FaultProfile,
    SimulatorDecisionSettings,
    SimulatorFaultSettings,
)
from lienthong.simulator_config import client_settings, simulator_credentials

DEMO_FAULTS = SimulatorFaultSettings(
    seed=6,
    agencies=FaultProfile(
        latency_ms=20,
        latency_jitter_ms=30,
        error_500_rate=0.05,
        error_503_rate=0.05,
        rate_limit_rate=0.04,
        drop_rate=0.03,
        processed_then_drop_rate=0.05,
        retry_after_seconds=1,
    ),
    webhooks=FaultProfile(error_503_rate=0.2),
)
# Police decides later. Seed 19 draws, per dossier: HT-2026-001001's residence needs
# verification (its limit goes from 2 to 5 working days) and the callback for
# HT-2026-001008's residence removal is lost (our API finds the decision by polling).
DEMO_DECISIONS = SimulatorDecisionSettings(
    forms={"police": DecisionForm.ASYNC},
    delay_seconds=1.0,
    verification_rate=0.25,
    callback_loss_rate=0.25,
    seed=19,
)
# Callbacks overdue 2 s after the announced time are polled for, every second.
# The demo runs every chain itself, those submitted over HTTP too: the API only records.
DEMO_API = ApiSettings(
    port=0,
    callback_grace_seconds=2,
    poll_interval_seconds=1,
    run_chains_with_deployments=False,
    start_chains=False,
)
DECISIONS_TIMEOUT_SECONDS = 180.0
# The API's callers the demo plays, and the operator it acts as: clients it creates.
DEMO_ROLES = ("portal", "hospital", "admin")


@dataclass(frozen=True)
class DemoPaths:
    dossiers: list[Path]
    rejected_example: Path
    supplements: Path
    # A hospital's birth certificate, and what the family adds through the portal.
    hospital_certificate: Path
    family_completion: Path


# The samples shipped inside the package (lienthong/examples, a link to the repository's
# examples/ in a source checkout): the demo runs from any directory, from the wheel alone.
PACKAGED_EXAMPLES_ROOT = Path(__file__).resolve().parent


def find_examples(root: Path = PACKAGED_EXAMPLES_ROOT) -> DemoPaths:
    demo = root / "examples" / "demo"
    dossiers = sorted(demo.glob("*.json"))
    if not dossiers:
        raise FileNotFoundError(f"no demo dossiers in {demo}: is --examples-root right?")
    hospital = root / "examples" / "hospital"
    return DemoPaths(
        dossiers,
        root / "examples" / "invalid" / "id-unknown-province.json",
        demo / "supplements",
        hospital / "birth-certificate.json",
        hospital / "family-completion.json",
    )


def demo_settings(base: Settings, data_dir: Path) -> Settings:
    """A fresh demo database, and retries quick enough to watch."""
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": f"sqlite:///{(data_dir / 'lienthong.db').resolve()}",
            "task_retry": TaskRetrySettings(retries=4, retry_delay_seconds=[1, 2, 4, 8]),
            "api": DEMO_API,
        }
    )


def _intake(container: Container, files: list[Path], actor: Actor) -> list[IntakeResult]:
    return [receive(container, load_dossier_file(p), actor) for p in files]


def _posted(http: httpx.Client, path: str, token: str, body: Any) -> dict[str, Any]:
    answer = http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    if not answer.is_success:
        raise RuntimeError(f"POST {path}: {answer.status_code} {answer.text}")
    print(f"  POST {path} -> {answer.status_code}")
    reply: dict[str, Any] = answer.json()
    return reply


def _over_http(api_url: str, tokens: dict[str, str], paths: DemoPaths) -> list[str]:
    """What reaches us over HTTP: a dossier from the portal, and a hospital's birth
    certificate that waits for the family, who completes it through the portal."""
    with httpx.Client(base_url=api_url, timeout=30) as http:
        first = json.loads(paths.dossiers[0].read_text(encoding="utf-8"))
        submitted = _posted(http, "/v1/dossiers", tokens["portal"], first)
        print(f"  {submitted['reference']}: received from the portal")
        certificate = json.loads(paths.hospital_certificate.read_text(encoding="utf-8"))
        notified = _posted(http, "/v1/hospital-notifications", tokens["hospital"], certificate)
        reference = notified["reference"]
        waiting = ", ".join(notified["waiting_for"])
        print(f"  {reference}: a hospital's birth certificate, {notified['status']} ({waiting})")
        family = json.loads(paths.family_completion.read_text(encoding="utf-8"))
        _posted(http, "/v1/dossiers", tokens["portal"], {**family, "reference": reference})
        print(f"  {reference}: completed by the family through the portal, prefilled")
    return [submitted["reference"], reference]


async def _run(container: Container, references: list[str]) -> None:
    await run_here(runnable(container, references))


def _supplement_waiting(container: Container, paths: DemoPaths, actor: Actor) -> list[str]:
    resumed = []
    for file in sorted(paths.supplements.glob("*.json")):
        reference = file.stem
        view = load_view(container, reference)
        if view.status == DossierStatus.AWAITING_SUPPLEMENT:
            record_supplement(container, reference, load_dossier_file(file), actor)
            resumed.append(reference)
    return resumed


async def _continue(container: Container, references: Sequence[str]) -> None:
    """Resume each dossier's paused run (after its supplement), in this process."""
    for reference in references:
        await continue_dossier(container, reference, deploy=False)


def _settled(container: Container, reference: str) -> bool:
    """Nothing is under way: no agency working or deciding, no next step about to start."""
    view = load_view(container, reference)
    busy = {StepStatus.IN_PROGRESS, StepStatus.AWAITING_DECISION}
    if any(s.status in busy for s in view.steps):
        return False
    stopped = any(s.status in STOPPED_STEP_STATUSES for s in view.steps)
    return view.status != DossierStatus.IN_PROGRESS or stopped


async def _wait_for_decisions(container: Container, references: Sequence[str]) -> None:
    """Until Police has decided everything and the API has carried each chain on."""
    deadline = time.monotonic() + DECISIONS_TIMEOUT_SECONDS
    while True:
        runs = [r for ref in references for r in await dossier_runs(ref)]
        going = any(
            r.state is not None and not r.state.is_final() and not r.state.is_paused() for r in runs
        )
        if not going and all(_settled(container, ref) for ref in references):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the agencies' decisions did not all arrive in time")
        await asyncio.sleep(0.2)


def _decision_paths(container: Container, references: Sequence[str]) -> Counter[str]:
    """How the agencies' decisions reached us: by callback, by polling, with verification."""
    counted: Counter[str] = Counter()
    for reference in references:
        for event in events(container, reference):
            actor = str(event["actor"])
            if event["action"] == "step_verification_needed":
                counted["verification"] += 1
            elif actor.startswith("agency:") and event["action"] == "step_status_changed":
                counted[actor.rsplit(":", 1)[-1]] += 1
    return counted


def _print_decisions(container: Container, references: list[str]) -> None:
    """What the first pass left for a person: refusals and requests for supplementation."""
    for reference in references:
        for step in load_view(container, reference).steps:
            if step.status in (StepStatus.REFUSED, StepStatus.AWAITING_SUPPLEMENT):
                missing = (
                    f" (missing: {'; '.join(step.missing_items)})" if step.missing_items else ""
                )
                print(
                    f"  {reference} {step.kind.value}: {step.status.value}: {step.reason}{missing}"
                )


def _simulator_facts(base_url: str) -> tuple[Counter[str], int, int]:
    """Injected faults, and (registrations, distinct dossier-steps) across agencies.

    A registration made twice for one dossier's step would show as more registrations
    than dossier-steps, whatever idempotency key it came with.
    """
    with httpx.Client(base_url=base_url, timeout=10) as client:
        stats = Counter(client.get("/admin/fault-stats").json())
        made = 0
        distinct: set[tuple[str, str, str]] = set()
        for slug in map(agency_slug, CALLED_AGENCIES):
            for record in client.get(f"/admin/records/{slug}").json():
                made += 1
                distinct.add((slug, str(record["kind"]), str(record["dossier_reference"])))
    return stats, made, len(distinct)


def _table(container: Container, references: list[str]) -> str:
    rows = [("reference", "chain", "status", "steps", "attempts")]
    for reference in references:
        view = load_view(container, reference)
        steps = " → ".join(f"{s.kind.value}:{s.status.value}" for s in view.steps) or "-"
        attempts = str(sum(s.attempts for s in view.steps))
        chain = view.chain.value if view.chain else "?"
        rows.append((reference, chain, view.status.value, steps, attempts))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def run_demo(root: Path, base: Settings, keep: bool = False) -> int:
    paths = find_examples(root)
    data_dir = base.data_dir / "demo"
    if data_dir.exists() and not keep:
        shutil.rmtree(data_dir)
    settings = demo_settings(base, data_dir)
    started = time.monotonic()
    with SimulatorServer(
        simulator_credentials(settings),
        data_dir / "simulator",
        DEMO_FAULTS,
        port=0,
        decisions=DEMO_DECISIONS,
    ) as simulator:
        settings = client_settings(settings, simulator)
        upgrade_database(settings.resolved_database_url())
        container = build_container(settings)
        with use_container(container), ApiServer(container) as api:
            simulator.set_callback_url(api.url)
            print(f"agency simulator at {simulator.base_url} (injecting transient faults)")
            print(f"our API at {api.url}: Police decides later and calls back there")
            issued = {r: create_client(container, f"demo {r}", Role.parse(r)) for r in DEMO_ROLES}
            over_http = _over_http(api.url, {r: i.token for r, i in issued.items()}, paths)
            operator = Actor(issued["admin"].client.actor_id)
            files = [*paths.dossiers[1:], paths.rejected_example]
            results = _intake(container, files, operator)
            for result in results:
                status = "received" if result.accepted else "REJECTED at intake"
                print(f"  {result.reference}: {status}")
                for problem in result.problems:
                    print(f"      {problem.path}: {problem.message}")
            accepted = [*over_http, *(r.reference for r in results if r.accepted)]
            run_async(_run(container, accepted), container)
            run_async(_wait_for_decisions(container, accepted), container)
            _print_decisions(container, accepted)
            resumed = _supplement_waiting(container, paths, operator)
            if resumed:
                print(f"supplements received for {', '.join(resumed)}: resuming")
                run_async(_continue(container, resumed), container)
                run_async(_wait_for_decisions(container, accepted), container)
            report = run_async(deliver_with_patience(container, None, passes=30), container)
            stats, made, distinct = _simulator_facts(simulator.base_url)
            audit = verify(container)
            print()
            print(_table(container, [*over_http, *(r.reference for r in results)]))
            print()
            faults = {k: v for k, v in sorted(stats.items()) if not k.endswith(".none")}
            print(f"transient faults injected: {json.dumps(faults)}")
            paths_taken = _decision_paths(container, accepted)
            print(
                f"police decisions: {paths_taken['callback']} by callback, "
                f"{paths_taken['poll']} by polling after a lost callback, "
                f"{paths_taken['verification']} needing verification"
            )
            print(
                f"agency registrations: {made} for {distinct} dossier-steps (duplicates: "
                f"{made - distinct})"
            )
            print(f"notifications: {report.pending} still pending after delivery")
            print(f"audit chain: {'intact' if audit.intact else 'BROKEN'} ({audit.checked} events)")
            print(f"database: {settings.resolved_database_url()}")
            print(f"took {time.monotonic() - started:.1f} s")
        container.close()
    ok = audit.intact and made == distinct and report.pending == 0
    return 0 if ok else 1
