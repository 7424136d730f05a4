"""The working-day calendar: holidays, government swaps, the 15:00 cut-off."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.models.calendar import WorkingCalendar
from lienthong.models.statutory import CalendarSettings

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar()

any_day = st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))
any_n = st.integers(min_value=0, max_value=40)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # Tết 2025 (Ất Tỵ): Mon 27 - Fri 31 Jan off, back on Mon 3 Feb.
        (date(2025, 1, 24), True),
        *((d, False) for d in days(date(2025, 1, 25), date(2025, 2, 2))),
        (date(2025, 2, 3), True),
        # Hùng Kings 2025 (lunar 10/3) on Mon 7 Apr.
        (date(2025, 4, 7), False),
        # 30/4-1/5/2025: Fri 2 May swapped with Sat 26 Apr.
        (date(2025, 4, 26), True),
        (date(2025, 4, 27), False),
        (date(2025, 4, 29), True),
        (date(2025, 4, 30), False),
        (date(2025, 5, 1), False),
        (date(2025, 5, 2), False),
        (date(2025, 5, 5), True),
        # National Day 2025: Mon 1 and Tue 2 Sep.
        (date(2025, 9, 1), False),
        (date(2025, 9, 2), False),
        # New Year 2026: Fri 2 Jan swapped with Sat 10 Jan (not in the holidays package).
        (date(2026, 1, 1), False),
        (date(2026, 1, 2), False),
        (date(2026, 1, 5), True),
        (date(2026, 1, 10), True),
        # Tết 2026 (Bính Ngọ): Mon 16 - Fri 20 Feb off, back on Mon 23 Feb.
        (date(2026, 2, 13), True),
        *((d, False) for d in days(date(2026, 2, 14), date(2026, 2, 22))),
        (date(2026, 2, 23), True),
        # Hùng Kings 2026 on Sun 26 Apr: substitute Mon 27 Apr; 30/4 Thu, 1/5 Fri.
        (date(2026, 4, 27), False),
        (date(2026, 4, 28), True),
        (date(2026, 4, 30), False),
        (date(2026, 5, 1), False),
        # National Day 2026: Mon 31 Aug swapped with Sat 22 Aug; Tue 1 and Wed 2 Sep.
        (date(2026, 8, 22), True),
        (date(2026, 8, 31), False),
        (date(2026, 9, 1), False),
        (date(2026, 9, 2), False),
        (date(2026, 9, 3), True),
        # Vietnam Cultural Day: announced (Resolution 80-NQ/TW), not enacted: a working day.
        (date(2026, 11, 24), True),
        (date(2027, 11, 24), True),
        # An ordinary week.
        (date(2025, 3, 7), True),
        (date(2025, 3, 8), False),
        (date(2025, 3, 9), False),
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("day_off", "makeup_saturday"),
    [(date(2025, 5, 2), date(2025, 4, 26)), (date(2026, 8, 31), date(2026, 8, 22))],
)
def test_builtin_swaps_agree_with_the_holidays_package(
    day_off: date, makeup_saturday: date
) -> None:
    package = holidays.country_holidays("VN")
    assert not package.is_working_day(day_off)
    assert package.is_working_day(makeup_saturday)


def test_configured_days_extend_and_override_the_defaults() -> None:
    cal = WorkingCalendar(
        CalendarSettings(
            extra_days_off=[date(2027, 1, 4), date(2026, 1, 10)],
            makeup_working_days=[date(2026, 4, 27), date(2026, 1, 2)],
        )
    )
    assert not cal.is_working_day(date(2027, 1, 4))  # new day off
    assert cal.is_working_day(date(2026, 4, 27))  # package holiday cancelled
    assert not cal.is_working_day(date(2026, 1, 10))  # built-in make-up day cancelled
    assert cal.is_working_day(date(2026, 1, 2))  # built-in day off cancelled


def test_a_day_cannot_be_both_off_and_worked() -> None:
    both = date(2027, 1, 4)
    with pytest.raises(ValueError, match="2027-01-04"):
        WorkingCalendar(CalendarSettings(extra_days_off=[both], makeup_working_days=[both]))


def test_next_working_day_jumps_tet() -> None:
    assert CAL.next_working_day(date(2025, 1, 24)) == date(2025, 2, 3)
    assert CAL.next_working_day(date(2026, 2, 13)) == date(2026, 2, 23)
    assert CAL.next_working_day(date(2025, 4, 25)) == date(2025, 4, 26)  # make-up Saturday


def test_add_working_days() -> None:
    assert CAL.add_working_days(date(2025, 1, 23), 0) == date(2025, 1, 23)
    assert CAL.add_working_days(date(2025, 1, 23), 2) == date(2025, 2, 3)
    assert CAL.add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)
    assert CAL.add_working_days(date(2025, 4, 29), 1) == date(2025, 5, 5)
    with pytest.raises(ValueError, match="n must be >= 0"):
        CAL.add_working_days(date(2025, 1, 23), -1)


def test_working_days_between() -> None:
    assert CAL.working_days_between(date(2025, 1, 24), date(2025, 2, 3)) == 1
    assert CAL.working_days_between(date(2025, 2, 3), date(2025, 1, 24)) == -1
    assert CAL.working_days_between(date(2026, 2, 13), date(2026, 2, 13)) == 0
    assert (
        CAL.working_days_between(date(2025, 4, 25), date(2025, 5, 5)) == 4
    )  # 26, 28, 29 Apr, 5 May


@pytest.mark.parametrize(
    ("received_at", "start"),
    [
        # Friday before Tết 2025: 15:00 sharp is still today, 15:01 is after Tết.
        (datetime(2025, 1, 24, 15, 0, tzinfo=VN), date(2025, 1, 24)),
        (datetime(2025, 1, 24, 15, 1, tzinfo=VN), date(2025, 2, 3)),
        # An ordinary Friday at 15:01: Monday.
        (datetime(2025, 3, 7, 15, 1, tzinfo=VN), date(2025, 3, 10)),
        # A Saturday (online submission): Monday.
        (datetime(2025, 3, 8, 9, 0, tzinfo=VN), date(2025, 3, 10)),
        # The make-up Saturday is a working day, and the day after a Friday at 15:01.
        (datetime(2025, 4, 26, 9, 0, tzinfo=VN), date(2025, 4, 26)),
        (datetime(2025, 4, 25, 15, 1, tzinfo=VN), date(2025, 4, 26)),
        # During Tết 2026.
        (datetime(2026, 2, 17, 8, 0, tzinfo=VN), date(2026, 2, 23)),
        # UTC input: 2025-03-06 17:30 UTC is Fri 7 Mar 00:30 in Vietnam.
        (datetime(2025, 3, 6, 17, 30, tzinfo=UTC), date(2025, 3, 7)),
        # 08:01 UTC is 15:01 in Vietnam: after the cut-off.
        (datetime(2025, 3, 7, 8, 1, tzinfo=UTC), date(2025, 3, 10)),
    ],
)
def test_effective_start(received_at: datetime, start: date) -> None:
    assert CAL.effective_start(received_at) == start


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.effective_start(datetime(2025, 3, 7, 9, 0))


def test_cutoff_hour_is_configurable() -> None:
    cal = WorkingCalendar(CalendarSettings(cutoff_hour=16))
    assert cal.effective_start(datetime(2025, 3, 7, 15, 30, tzinfo=VN)) == date(2025, 3, 7)


@given(any_day, st.integers(min_value=1, max_value=40))
def test_add_working_days_lands_on_a_working_day(d: date, n: int) -> None:
    assert CAL.is_working_day(CAL.add_working_days(d, n))


@given(any_day, any_n)
def test_add_working_days_is_strictly_monotonic(d: date, n: int) -> None:
    assert CAL.add_working_days(d, n) < CAL.add_working_days(d, n + 1)


@given(any_day, any_n)
def test_working_days_between_inverts_add_working_days(d: date, n: int) -> None:
    assert CAL.working_days_between(d, CAL.add_working_days(d, n)) == n


@given(any_day, any_day)
def test_working_days_between_is_antisymmetric(a: date, b: date) -> None:
    assert CAL.working_days_between(a, b) == -CAL.working_days_between(b, a)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)))
def test_effective_start_is_a_working_day_not_before_receipt(naive: datetime) -> None:
    received_at = naive.replace(tzinfo=VN)
    start = CAL.effective_start(received_at)
    assert CAL.is_working_day(start)
    assert start >= received_at.date()


def test_an_announced_day_off_is_one_once_configured() -> None:
    # The package names it so (holidays 0.109): an upgrade that renames it fails here.
    assert holidays.country_holidays("VN").get_list(date(2026, 11, 24)) == ["Vietnam Cultural Day"]
    enacted = WorkingCalendar(CalendarSettings(extra_days_off=[date(2026, 11, 24)]))
    assert not enacted.is_working_day(date(2026, 11, 24))


def test_years_with_swaps_are_the_built_in_and_the_configured_ones() -> None:
    assert CAL.swaps_known(2025)
    assert CAL.swaps_known(2026)
    assert not CAL.swaps_known(2027)
    assert WorkingCalendar(CalendarSettings(swap_years=[2027])).swaps_known(2027)
