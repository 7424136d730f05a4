"""The crashed-run automation is Prefect's documented zombie-flow automation, sized from the
heartbeat frequency; without heartbeats it refuses to be applied."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.server.events.schemas.events import matches
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from lienthong.deployments.crash_detection import (
    crash_detection,
    heartbeat_seconds,
    same_automation,
)


def test_missing_heartbeats_for_three_beats_mark_a_flow_run_crashed() -> None:
    automation = crash_detection(30)

    trigger = automation.trigger
    assert isinstance(trigger, EventTrigger)
    assert trigger.posture == Posture.Proactive
    assert trigger.after == {"prefect.flow-run.heartbeat"}
    # Any flow-run event is a sign of life: a heartbeat, a final state, and above all the
    # Suspended/Paused state of a run whose dossier waits (it stops beating legitimately).
    assert trigger.expect == {"prefect.flow-run.*"}
    (pattern,) = trigger.expect
    for event in ["heartbeat", "Completed", "Crashed", "Suspended", "AwaitingDecision"]:
        assert matches(pattern, f"prefect.flow-run.{event}")
    assert not matches(pattern, "prefect.task-run.Completed")
    assert trigger.for_each == {"prefect.resource.id"}
    assert trigger.match == ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]})
    assert trigger.within == timedelta(seconds=90)
    (action,) = automation.actions
    assert isinstance(action, ChangeFlowRunState)
    assert action.state == StateType.CRASHED


def test_the_window_follows_prefects_heartbeat_setting() -> None:
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 45}):
        assert heartbeat_seconds() == 45
    with (
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        pytest.raises(RuntimeError, match="heartbeats are off"),
    ):
        heartbeat_seconds()


def test_an_unchanged_automation_read_back_is_the_same_and_a_changed_one_is_not() -> None:
    wanted = crash_detection(30)
    # As the server gives it back: through JSON.
    stored = AutomationCore.model_validate_json(wanted.model_dump_json())
    assert same_automation(stored, wanted)
    assert not same_automation(stored, crash_detection(45))
    stored.enabled = False
    assert not same_automation(stored, wanted)
