"""The crashed-run automation is Prefect's documented zombie-flow automation, sized from the
heartbeat frequency; without heartbeats it refuses to be applied."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from lienthong.deployments.crash_detection import crash_detection, heartbeat_seconds


def test_missing_heartbeats_for_three_beats_mark_a_flow_run_crashed() -> None:
    automation = crash_detection(30)

    trigger = automation.trigger
    assert isinstance(trigger, EventTrigger)
    assert trigger.posture == Posture.Proactive
    assert trigger.after == {"prefect.flow-run.heartbeat"}
    assert trigger.expect == {
        "prefect.flow-run.heartbeat",
        "prefect.flow-run.Completed",
        "prefect.flow-run.Failed",
        "prefect.flow-run.Cancelled",
        "prefect.flow-run.Crashed",
    }
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
