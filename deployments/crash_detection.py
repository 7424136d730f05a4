"""Crashed-run detection: Prefect's documented zombie-flow automation, kept up to date.

A flow run whose process is killed (kill -9, a machine lost, an evicted container) cannot
report its own end: Prefect shows it Running forever. Every flow run emits a
``prefect.flow-run.heartbeat`` event every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds
(Prefect's setting, 180 by default, at least 30); the automation below, as documented by
Prefect ("How to detect and respond to zombie flows"), marks a run Crashed once
``MISSED_HEARTBEATS`` heartbeats in a row have not come and the run has not ended. The
dossier itself needs nothing from this: its lease lapses and the overdue sweep resumes it
at its first unfinished step; the automation makes Prefect's record (and its UI, and the
deployments' concurrency slots) tell the truth.

The window is derived from the heartbeat frequency of the process that applies the
automation, so ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` must be the same everywhere (workers,
``lienthong serve``, the machine running ``lienthong automations``).
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.settings import get_current_settings

AUTOMATION_NAME = "lienthong: crash zombie flow runs"
# Prefect's documented example waits 90 s for a 30 s heartbeat: three missed beats, so a
# late or lost event does not crash a live run.
MISSED_HEARTBEATS = 3
CRASHED_MESSAGE = "No heartbeat from the flow run's process: marked Crashed (lienthong)"
# Any event of the flow run proves it was not silently killed: its heartbeat, or a state
# change. A run that leaves Running without a final state, above all Suspended or Paused
# while its dossier waits for an agency or the citizen (flows/waiting.py), stops beating
# legitimately; its state event closes the window, and no new one opens before the run
# beats again. Prefect names state events by the state's name (prefect.flow-run.<name>),
# so our named states (AwaitingDecision, Refused, ...) are covered by the pattern too.
_SIGNS_OF_LIFE = "prefect.flow-run.*"


def heartbeat_seconds() -> int:
    """This process's flow run heartbeat frequency (PREFECT_FLOWS_HEARTBEAT_FREQUENCY)."""
    frequency = get_current_settings().flows.heartbeat_frequency
    if frequency is None:
        raise RuntimeError(
            "flow run heartbeats are off (PREFECT_FLOWS_HEARTBEAT_FREQUENCY unset): "
            "killed runs could not be detected; set it to 30 or more"
        )
    return frequency


def crash_detection(frequency: int) -> AutomationCore:
    """The automation for heartbeats every ``frequency`` seconds."""
    return AutomationCore(
        name=AUTOMATION_NAME,
        description=(
            f"Marks a flow run Crashed when {MISSED_HEARTBEATS} heartbeats "
            f"({frequency} s apart) are missing. Applied by `lienthong serve` and "
            "`lienthong automations` (docs/production.md)."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={_SIGNS_OF_LIFE},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=MISSED_HEARTBEATS * frequency),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message=CRASHED_MESSAGE)],
    )


async def apply_crash_detection() -> UUID:
    """Create the automation, or update it in place (its id) when it differs: idempotent,
    so it is safe to run at every start. Duplicates left under the same name are deleted.

    An unchanged automation is left alone: updating it rebuilds its trigger, and the server
    forgets the windows the old trigger had open, so runs killed just before a restart
    (kill -9 of serve, then serve again) would never be marked Crashed.
    """
    wanted = crash_detection(heartbeat_seconds())
    async with get_client() as client:
        existing = await client.read_automations_by_name(AUTOMATION_NAME)
        if not existing:
            return await client.create_automation(wanted)
        kept, *duplicates = existing
        if not same_automation(kept, wanted):
            await client.update_automation(kept.id, wanted)
        for duplicate in duplicates:
            await client.delete_automation(duplicate.id)
        return kept.id


def same_automation(stored: AutomationCore, wanted: AutomationCore) -> bool:
    """Equal in what it does (not in the server's bookkeeping: id, created, updated)."""
    fields = {"name", "description", "enabled", "trigger", "actions"}

    return stored.model_dump(mode="json", include=fields) == wanted.model_dump(
        mode="json", include=fields
    )
