"""Statutory due instants: steps, chains, supplementation, and the clock that checks them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lienthong.adapters.system_clock import SystemClock
from lienthong.models.clock import ManualClock
from lienthong.models.deadlines import Deadlines
from lienthong.models.lateness import is_on_time
from lienthong.models.status import Chain, StepKind
from lienthong.models.statutory import CalendarSettings, LimitOverrides
from lienthong.settings import Settings

VN = ZoneInfo("Asia/Ho_Chi_Minh")
DEADLINES = Deadlines.from_settings(CalendarSettings())


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN)


def end_of(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 23, 59, 59, 999_999, tzinfo=VN)


@pytest.mark.parametrize(
    ("kind", "started_at", "verification", "due"),
    [
        # Birth registration: the same working day, unless after 15:00.
        (StepKind.BIRTH_REGISTRATION, at(2025, 1, 24, 14), False, end_of(2025, 1, 24)),
        (StepKind.BIRTH_REGISTRATION, at(2025, 1, 24, 15, 1), False, end_of(2025, 2, 3)),
        (StepKind.BIRTH_REGISTRATION, at(2025, 3, 7, 15, 1), False, end_of(2025, 3, 10)),
        (StepKind.BIRTH_REGISTRATION, at(2025, 3, 8, 10), False, end_of(2025, 3, 10)),
        # Make-up Saturday 26/4/2025: a Friday 15:01 dossier is due that Saturday.
        (StepKind.BIRTH_REGISTRATION, at(2025, 4, 25, 15, 1), False, end_of(2025, 4, 26)),
        # Residence: 2 working days, 5 with verification.
        (StepKind.RESIDENCE_REGISTRATION, at(2025, 1, 24, 14), False, end_of(2025, 2, 4)),
        (StepKind.RESIDENCE_REGISTRATION, at(2026, 2, 12, 10), False, end_of(2026, 2, 23)),
        (StepKind.RESIDENCE_REGISTRATION, at(2026, 2, 12, 10), True, end_of(2026, 2, 26)),
        (StepKind.RESIDENCE_REGISTRATION, at(2026, 2, 13, 15, 1), False, end_of(2026, 2, 25)),
        (StepKind.RESIDENCE_REGISTRATION, at(2025, 4, 29, 10), False, end_of(2025, 5, 6)),
        (StepKind.RESIDENCE_REGISTRATION, at(2025, 4, 25, 15, 1), False, end_of(2025, 4, 29)),
        # Health card: 2 working days; verification does not apply.
        (StepKind.CHILD_HEALTH_CARD, at(2025, 4, 28, 9), True, end_of(2025, 5, 5)),
        # Chain B (assumed limits).
        # Death registration: the same working day, as births (Law on Civil Status art. 34).
        (StepKind.DEATH_REGISTRATION, at(2025, 1, 24, 9), False, end_of(2025, 1, 24)),
        (StepKind.DEATH_REGISTRATION, at(2025, 1, 24, 15, 1), False, end_of(2025, 2, 3)),
        (StepKind.RESIDENCE_REMOVAL, at(2026, 2, 13, 9), False, end_of(2026, 2, 23)),
        (StepKind.FUNERAL_ALLOWANCE, at(2026, 2, 13, 9), False, end_of(2026, 2, 27)),
        (StepKind.SURVIVOR_BENEFITS, at(2026, 2, 13, 9), False, end_of(2026, 3, 6)),
    ],
)
def test_step_due_at(
    kind: StepKind, started_at: datetime, verification: bool, due: datetime
) -> None:
    assert DEADLINES.step_due_at(kind, started_at, verification=verification) == due


def test_due_instants_are_local() -> None:
    due = DEADLINES.step_due_at(StepKind.BIRTH_REGISTRATION, at(2025, 3, 7, 9))
    assert due.tzinfo == VN
    assert due.isoformat() == "2025-03-07T23:59:59.999999+07:00"


@pytest.mark.parametrize(
    ("complete_at", "verification", "due"),
    [
        # Friday before Tết 2025: 3 working days are Mon 3, Tue 4, Wed 5 Feb.
        (at(2025, 1, 24, 14), False, end_of(2025, 2, 5)),
        (at(2025, 1, 24, 14), True, end_of(2025, 2, 7)),
        (at(2025, 1, 24, 15, 1), False, end_of(2025, 2, 6)),
        # Thursday before Tết 2026.
        (at(2026, 2, 12, 10), False, end_of(2026, 2, 24)),
        (at(2026, 2, 12, 10), True, end_of(2026, 2, 26)),
        # Over 30/4-1/5/2025 and its make-up Saturday.
        (at(2025, 4, 29, 10), False, end_of(2025, 5, 7)),
        (at(2025, 4, 25, 10), False, end_of(2025, 4, 29)),
        (at(2025, 4, 26, 9), False, end_of(2025, 5, 5)),
    ],
)
def test_birth_chain_due_at(complete_at: datetime, verification: bool, due: datetime) -> None:
    assert DEADLINES.chain_due_at(Chain.BIRTH, complete_at, verification=verification) == due


def test_death_chain_limit_is_the_sum_of_the_chosen_procedures() -> None:
    two = [StepKind.DEATH_REGISTRATION, StepKind.RESIDENCE_REMOVAL]
    three = [*two, StepKind.FUNERAL_ALLOWANCE]
    on = date(2026, 2, 12)
    assert DEADLINES.chain_limit(Chain.DEATH, on, steps=two) == 1
    assert DEADLINES.chain_limit(Chain.DEATH, on, steps=three) == 6
    assert DEADLINES.chain_limit(Chain.DEATH, on) == 16
    assert DEADLINES.chain_due_at(Chain.DEATH, at(2026, 2, 12, 10), steps=two) == end_of(
        2026, 2, 13
    )


def test_birth_chain_limit_is_fixed_by_law() -> None:
    on = date(2026, 2, 12)
    assert DEADLINES.chain_limit(Chain.BIRTH, on, steps=[StepKind.BIRTH_REGISTRATION]) == 3
    assert DEADLINES.chain_limit(Chain.BIRTH, on, verification=True) == 5


def test_steps_must_belong_to_the_chain() -> None:
    with pytest.raises(ValueError, match="funeral_allowance"):
        DEADLINES.chain_limit(Chain.BIRTH, date(2026, 2, 12), steps=[StepKind.FUNERAL_ALLOWANCE])


def test_supplementation_restarts_the_clock_from_the_supplements_arrival() -> None:
    started = at(2025, 3, 10, 9)  # Monday: residence due Wednesday
    assert DEADLINES.step_due_at(StepKind.RESIDENCE_REGISTRATION, started) == end_of(2025, 3, 12)

    requested = at(2025, 3, 11, 10)  # the clock stops; the applicant has 7 working days
    assert DEADLINES.supplement_deadline(requested) == end_of(2025, 3, 20)

    arrived = at(2025, 3, 19, 16)  # after 15:00: counts from Thu 20, then 2 working days
    due = DEADLINES.step_due_at(StepKind.RESIDENCE_REGISTRATION, arrived)
    assert due == end_of(2025, 3, 24)
    assert DEADLINES.chain_due_at(Chain.BIRTH, arrived) == end_of(2025, 3, 25)

    finished = at(2025, 3, 21, 11)
    assert is_on_time(due, finished)


def test_supplement_deadline_skips_tet() -> None:
    assert DEADLINES.supplement_deadline(at(2025, 1, 22, 9)) == end_of(2025, 2, 7)
    assert DEADLINES.supplement_deadline(at(2026, 2, 11, 10)) == end_of(2026, 2, 27)


def test_is_on_time_is_inclusive_and_zone_independent() -> None:
    due = end_of(2025, 3, 7)
    assert is_on_time(due, due)
    assert is_on_time(due, datetime(2025, 3, 7, 16, 59, tzinfo=UTC))
    assert not is_on_time(due, due + timedelta(microseconds=1))
    with pytest.raises(ValueError, match="naive"):
        is_on_time(due, datetime(2025, 3, 7, 12, 0))


def test_a_manual_clock_watches_a_step_become_overdue() -> None:
    clock = ManualClock(at(2025, 1, 24, 15, 1))
    due = DEADLINES.step_due_at(StepKind.BIRTH_REGISTRATION, clock.now())
    clock.advance(timedelta(days=10))  # Mon 3 Feb 15:01: the first working day after Tết
    assert is_on_time(due, clock.now())
    clock.set(end_of(2025, 2, 3))
    assert is_on_time(due, clock.now())
    assert not is_on_time(due, clock.advance(timedelta(microseconds=1)))


def test_manual_clock_refuses_naive_and_backwards_moves() -> None:
    with pytest.raises(ValueError, match="naive"):
        ManualClock(datetime(2025, 1, 1))
    clock = ManualClock(at(2025, 1, 1, 8))
    with pytest.raises(ValueError, match="advances"):
        clock.advance(timedelta(seconds=-1))


def test_system_clock_is_aware() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_limits_are_configurable() -> None:
    deadlines = Deadlines.from_settings(
        CalendarSettings(limits=LimitOverrides(funeral_allowance=3, supplement_window=10))
    )
    assert deadlines.step_limit(StepKind.FUNERAL_ALLOWANCE, date(2025, 3, 10)) == 3
    assert deadlines.supplement_deadline(at(2025, 3, 10, 9)) == end_of(2025, 3, 24)


def test_calendar_and_limits_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_CALENDAR__MAKEUP_WORKING_DAYS", '["2026-11-24"]')
    monkeypatch.setenv("LIENTHONG_CALENDAR__EXTRA_DAYS_OFF", '["2027-01-04", "2027-01-05"]')
    monkeypatch.setenv("LIENTHONG_CALENDAR__LIMITS__SURVIVOR_BENEFITS", "15")
    settings = Settings(_env_file=None)
    deadlines = Deadlines.from_settings(settings.calendar)
    assert deadlines.calendar.is_working_day(date(2026, 11, 24))
    assert not deadlines.calendar.is_working_day(date(2027, 1, 5))
    assert deadlines.step_limit(StepKind.SURVIVOR_BENEFITS, date(2026, 11, 24)) == 15


@pytest.mark.parametrize(
    ("now", "due", "years"),
    [
        (at(2026, 6, 1, 10), (), ()),
        # A whole death chain started mid-December runs into January 2027.
        (at(2026, 12, 15, 10), (), (2027,)),
        (at(2026, 3, 2, 10), (at(2027, 1, 5, 10), None), (2027,)),
        (at(2028, 3, 2, 10), (), (2028,)),
    ],
)
def test_years_without_swaps(
    now: datetime, due: tuple[datetime | None, ...], years: tuple[int, ...]
) -> None:
    assert DEADLINES.years_without_swaps(now, *due) == years


def test_due_dates_in_a_year_without_swaps_are_still_computed() -> None:
    # Fri 31/12/2027 15:01: New Year's Day falls on Saturday, its substitute is Monday 3/1
    # (the holidays package): the first working day is Tuesday 4/1/2028.
    assert DEADLINES.step_due_at(StepKind.BIRTH_REGISTRATION, at(2027, 12, 31, 15, 1)) == (
        end_of(2028, 1, 4)
    )
    configured = Deadlines.from_settings(CalendarSettings(swap_years=[2027, 2028]))
    assert configured.years_without_swaps(at(2027, 12, 31, 15, 1)) == ()
