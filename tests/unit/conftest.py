"""Fixtures of the service tests: the application over the fake unit of work, and its clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from lienthong.models.clock import ManualClock
from lienthong.models.statutory import VIETNAM_TIMEZONE
from lienthong.services.container import Container
from tests.fakes import FakeStore, fake_container


@pytest.fixture
def clock() -> ManualClock:
    """A Monday, 09:00 in Vietnam: a working day, before the cut-off."""
    return ManualClock(datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo(VIETNAM_TIMEZONE)))


@pytest.fixture
def app(clock: ManualClock) -> tuple[Container, FakeStore]:
    """The application on a fresh fake store (no database, no network)."""
    return fake_container(clock=clock)
