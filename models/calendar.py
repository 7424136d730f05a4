"""Working days (ngày làm việc) for Vietnam's one-stop shops.

A day is a working day when it is Monday to Friday and not a public holiday, or when the
government moved work onto it (a make-up Saturday). Three layers decide, each winning over
the one before:

1. The ``holidays`` package's Vietnam calendar (public category, substitute days on): the
   Labour Code 2019 art. 112 holidays with Tết's five lunar days, Hùng Kings (lunar 10/3),
   2/9 plus its adjacent day, substitutes for holidays on a weekend, and the yearly
   working-day swaps it knows. Days it lists that are announced but not enacted
   (:data:`ANNOUNCED_NOT_ENACTED`: the Vietnam Cultural Day, 24/11 from 2026, Resolution
   80-NQ/TW, not in the Labour Code) are working days by default.
2. :data:`DEFAULT_EXTRA_DAYS_OFF` and :data:`DEFAULT_MAKEUP_WORKING_DAYS` below: the
   government's swaps for civil servants (hoán đổi ngày làm việc) in
   :data:`BUILT_IN_SWAP_YEARS`, kept as our own data so that an upgrade of the package
   cannot silently drop one.
3. ``CalendarSettings.extra_days_off`` and ``CalendarSettings.makeup_working_days``: what an
   operator configures. A date listed as a make-up working day is a working day even if
   layers 1-2 call it a holiday, which is also how to cancel a holiday that did not happen;
   a date listed as a day off is one, which is how an enacted new holiday is added.

The government announces each year's swaps late in the year before. A year is *known* when
it is in :data:`BUILT_IN_SWAP_YEARS` or ``CalendarSettings.swap_years``; due dates in other
years are still computed from the holidays alone, and :meth:`WorkingCalendar.swaps_known`
lets the services warn that the year's swaps are missing (docs/deadlines.md).

Checked against holidays 0.109 and public announcements (docs/deadlines.md):

- Tết 2025: Mon 27 - Fri 31 Jan off (package); civil servants' 9-day break 25/1-2/2.
- 30/4-1/5/2025: Fri 2 May off, Sat 26 Apr worked (package and layer 2).
- 1/1/2026: Fri 2 Jan off, Sat 10 Jan worked (Dispatch 12729/VPCP-KGVX of 25/12/2025, read
  in press reports; *not* in the package: layer 2 only). Default assumption.
- Tết 2026: Mon 16 - Fri 20 Feb off (package); civil servants' 9-day break 14/2-22/2.
- Hùng Kings 2026 falls on Sun 26 Apr: Mon 27 Apr off (package, substitute day).
- 2/9/2026: Mon 31 Aug, Tue 1 Sep, Wed 2 Sep off, Sat 22 Aug worked (package and layer 2).
- 24/11/2026 (Vietnam Cultural Day): a day off in the package, a working day here until the
  Labour Code lists it; list it in ``extra_days_off`` once it is enacted.

Every instant is converted to the configured zone (Asia/Ho_Chi_Minh) before its date is
taken; naive datetimes are refused.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from lienthong.models.clock import require_aware
from lienthong.models.statutory import CalendarSettings

# Years whose government day swaps are all in the two sets below (checked: docs/deadlines.md).
BUILT_IN_SWAP_YEARS: frozenset[int] = frozenset({2025, 2026})
# Holidays of the package that are announced but not enacted: working days unless an
# operator lists them in ``extra_days_off``. Matched on the package's name (its
# substitutes are named "<name> (observed)"); tests/unit/test_calendar.py pins the name.
ANNOUNCED_NOT_ENACTED: tuple[str, ...] = ("Vietnam Cultural Day",)
# Working days the government gave off to civil servants, in exchange for a make-up day.
DEFAULT_EXTRA_DAYS_OFF: frozenset[date] = frozenset(
    {
        date(2025, 5, 2),  # for Sat 26/4/2025 (30/4-1/5 break)
        date(2026, 1, 2),  # for Sat 10/1/2026 (New Year break)
        date(2026, 8, 31),  # for Sat 22/8/2026 (National Day break)
    }
)
# Saturdays worked in exchange for the days above.
DEFAULT_MAKEUP_WORKING_DAYS: frozenset[date] = frozenset(
    {
        date(2025, 4, 26),
        date(2026, 1, 10),
        date(2026, 8, 22),
    }
)


class WorkingCalendar:
    """Vietnam's working days, the daily cut-off and the local time zone."""

    def __init__(self, settings: CalendarSettings | None = None) -> None:
        settings = settings or CalendarSettings()
        configured_off = frozenset(settings.extra_days_off)
        configured_work = frozenset(settings.makeup_working_days)
        if clash := configured_off & configured_work:
            days = ", ".join(sorted(d.isoformat() for d in clash))
            raise ValueError(f"dates both off and make-up working days: {days}")
        self.timezone = ZoneInfo(settings.timezone)
        self.cutoff = time(settings.cutoff_hour)
        self._days_off = (DEFAULT_EXTRA_DAYS_OFF - configured_work) | configured_off
        self._makeup_days = (DEFAULT_MAKEUP_WORKING_DAYS - configured_off) | configured_work
        self._holidays = holidays.country_holidays("VN")
        self._swap_years = BUILT_IN_SWAP_YEARS | frozenset(settings.swap_years)
        # Each date's answer, once computed: the calendar never changes after construction,
        # and the sweep asks about the same few hundred days for 100k+ steps.
        self._working: dict[date, bool] = {}
        self._added: dict[tuple[date, int], date] = {}

    def to_local(self, at: datetime) -> datetime:
        """``at`` in the calendar's time zone."""
        return require_aware(at).astimezone(self.timezone)

    def end_of_day(self, d: date) -> datetime:
        """The last instant of local day ``d`` (23:59:59.999999)."""
        return datetime.combine(d, time.max, tzinfo=self.timezone)

    def is_working_day(self, d: date) -> bool:
        known = self._working.get(d)
        if known is None:
            known = self._working[d] = self._is_working_day(d)
        return known

    def _is_working_day(self, d: date) -> bool:
        if d in self._days_off:
            return False
        if d in self._makeup_days:
            return True
        if self._holidays.is_working_day(d):
            return True
        return d.weekday() < 5 and self._only_announced(d)

    def _only_announced(self, d: date) -> bool:
        """Whether every holiday of the package on ``d`` is announced but not enacted."""
        names = self._holidays.get_list(d)
        return bool(names) and all(name.startswith(ANNOUNCED_NOT_ENACTED) for name in names)

    def swaps_known(self, year: int) -> bool:
        """Whether the government's day swaps of ``year`` are built in or configured."""
        return year in self._swap_years

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d``; ``d`` itself when ``n`` is 0."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        known = self._added.get((d, n))
        if known is None:
            known = d
            for _ in range(n):
                known = self.next_working_day(known)
            self._added[(d, n)] = known
        return known

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]``, negative when ``b`` is before ``a``.

        The inverse of :meth:`add_working_days`:
        ``working_days_between(d, add_working_days(d, n)) == n``.
        """
        if b < a:
            return -self.working_days_between(b, a)
        return sum(self.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))

    def effective_start(self, received_at: datetime) -> date:
        """The working day from which a limit counts for something received at ``received_at``.

        The local day of receipt, unless it is not a working day or the receipt is after
        the cut-off (15:00 by default; 15:00:00 itself is still on time): then the next
        working day.
        """
        local = self.to_local(received_at)
        day = local.date()
        if not self.is_working_day(day) or local.time() > self.cutoff:
            return self.next_working_day(day)
        return day
