"""The real clock: the one place that reads the system's time for the record."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """The system's time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
