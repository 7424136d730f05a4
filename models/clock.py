"""The one source of "now": injected, so tests can stop and move time.

Production code receives a :class:`Clock` from the composition root (the system clock is
an adapter: lienthong.adapters.system_clock) and never reads the time itself. Every clock
returns timezone-aware datetimes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that can tell the current instant."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


def require_aware(at: datetime) -> datetime:
    """Return ``at`` unchanged, or raise ``ValueError`` if it has no time zone."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {at.isoformat()}")
    return at


class ManualClock:
    """A clock that stands still until a test sets or advances it."""

    def __init__(self, start: datetime) -> None:
        self._now = require_aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        """Jump to ``at`` (forwards or backwards)."""
        self._now = require_aware(at)

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new instant."""
        if delta < timedelta(0):
            raise ValueError("a clock only advances; use set() to go back")
        self._now += delta
        return self._now
