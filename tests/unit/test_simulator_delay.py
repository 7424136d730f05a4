"""The simulated officer's delay: seconds, working days on Vietnam's calendar, or accelerated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lienthong.models.calendar import WorkingCalendar
from lienthong.simulator.deferred import decision_delay
from lienthong.simulator.settings import SimulatorDecisionSettings

CALENDAR = WorkingCalendar()


def test_plain_seconds_unless_working_days_are_given() -> None:
    assert decision_delay(SimulatorDecisionSettings(delay_seconds=7), CALENDAR) == 7


def test_working_days_on_an_accelerated_clock() -> None:
    settings = SimulatorDecisionSettings(
        delay_seconds=7, delay_working_days=3, seconds_per_working_day=0.5
    )
    assert decision_delay(settings, CALENDAR) == 1.5


def test_working_days_on_the_calendar_skip_weekends_and_holidays() -> None:
    settings = SimulatorDecisionSettings(delay_working_days=2)

    before = datetime.now(UTC)
    delay = decision_delay(settings, CALENDAR)

    local = CALENDAR.to_local(before)
    day = CALENDAR.add_working_days(local.date(), 2)
    expected = (datetime.combine(day, local.timetz()) - local).total_seconds()
    assert delay == pytest.approx(expected, abs=5)
    assert delay >= 2 * 86400 - 5
