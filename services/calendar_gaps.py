"""Say when the calendar does not know: years whose government day swaps are missing.

Due dates in such a year are still computed, from the public holidays alone; the CLI and
the sweep show one warning per command or pass (docs/deadlines.md, "Years not configured").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lienthong.services.container import Container


def years_without_swaps(container: Container, *due: datetime | None) -> tuple[int, ...]:
    """Years reachable from now, or holding one of ``due``, whose swaps are not configured."""
    return container.deadlines.years_without_swaps(container.clock.now(), *due)


def swaps_missing_warning(years: Sequence[int]) -> str:
    """The one warning for ``years``: what is assumed and how to fix it."""
    listed = ", ".join(str(y) for y in years)
    return (
        f"calendar: the government's working-day swaps (ngày làm bù / nghỉ bù) for {listed} "
        "are not configured: due dates there count the public holidays only. Add the "
        "year's swaps to LIENTHONG_CALENDAR__EXTRA_DAYS_OFF / __MAKEUP_WORKING_DAYS and the "
        f"year to LIENTHONG_CALENDAR__SWAP_YEARS (e.g. '[{years[-1]}]'); docs/deadlines.md"
    )
