"""Statutory due instants for steps, chains and supplementation (docs/deadlines.md).

The convention, one rule for every clock:

- A clock starts at an instant (dossier complete, step handed over, supplement arrived,
  supplementation requested). It counts from :meth:`WorkingCalendar.effective_start`: the
  local day of that instant, or the next working day when the instant falls after the 15:00
  cut-off or on a day off.
- A limit of N working days makes the work due on the N-th working day after the start day
  (Civil Code art. 147: the start day itself is not counted); N = 0 is "the same working
  day". Birth registration (N = 0) is therefore due the day the dossier is complete, or the
  next working day if it came after 15:00.
- The due instant is the end of that local day, 23:59:59.999999 Asia/Ho_Chi_Minh. The law
  counts days, not hours, and the one-stop shop's appointment slip names a day: a result
  delivered electronically that evening is still on time. Finishing at or before the due
  instant is on time (``models/lateness.is_on_time``: the one lateness rule).
- Supplementation stops the clock: the limit counts from the day the dossier is complete,
  so when the supplement arrives the step's clock (and the chain's) restarts from zero. The
  caller passes the supplement's arrival as ``started_at`` / ``complete_at``; nothing of the
  time spent before the request carries over. The applicant's own window to supplement is
  :meth:`Deadlines.supplement_deadline`.

The limits are the rows of ``models/data/legal_tables.toml`` in force on the day the clock
starts (the effective start), unless the settings override them (``LimitOverrides``).
Death registration is due the same working day, as births (Law on Civil Status 2014 art.
34). Chain B's other per-step limits are assumptions (the law sources give none): residence
removal 1, funeral allowance 5, survivor benefits 10 working days, and the chain's total is
the sum over the procedures the requester chose (2 procedures: 1 day, 3: 6 days, 4: 16
days), as if run one after another.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import astuple
from datetime import date, datetime
from typing import assert_never

from lienthong.models.calendar import WorkingCalendar
from lienthong.models.chains import CHAIN_STEPS
from lienthong.models.legal_tables import LIMIT_NAMES, LegalTables, legal_tables
from lienthong.models.status import Chain, StepKind
from lienthong.models.statutory import CalendarSettings, LimitOverrides, StatutoryLimits


class Deadlines:
    """Limits in working days turned into due instants on a :class:`WorkingCalendar`."""

    def __init__(
        self,
        calendar: WorkingCalendar,
        overrides: LimitOverrides | None = None,
        tables: LegalTables | None = None,
    ) -> None:
        self.calendar = calendar
        self.overrides = overrides or LimitOverrides()
        self.tables = tables or legal_tables()

    @classmethod
    def from_settings(cls, settings: CalendarSettings) -> Deadlines:
        return cls(WorkingCalendar(settings), settings.limits)

    def limits_on(self, on: date) -> StatutoryLimits:
        """The limits for a clock that starts on ``on``: overrides, else the tables' rows."""
        values = {
            name: override
            if (override := getattr(self.overrides, name)) is not None
            else self.tables.limit(name, on).value
            for name in LIMIT_NAMES
        }
        return StatutoryLimits(**values)

    def step_limit(self, kind: StepKind, on: date, *, verification: bool = False) -> int:
        """Working days allowed for a step starting on ``on``; ``verification``: residence."""
        limits = self.limits_on(on)
        match kind:
            case StepKind.BIRTH_REGISTRATION:
                return limits.birth_registration
            case StepKind.RESIDENCE_REGISTRATION:
                if verification:
                    return limits.residence_registration_with_verification
                return limits.residence_registration
            case StepKind.CHILD_HEALTH_CARD:
                return limits.child_health_card
            case StepKind.DEATH_REGISTRATION:
                return limits.death_registration
            case StepKind.RESIDENCE_REMOVAL:
                return limits.residence_removal
            case StepKind.FUNERAL_ALLOWANCE:
                return limits.funeral_allowance
            case StepKind.SURVIVOR_BENEFITS:
                return limits.survivor_benefits
            case _:
                assert_never(kind)

    def chain_limit(
        self,
        chain: Chain,
        on: date,
        *,
        verification: bool = False,
        steps: Collection[StepKind] | None = None,
    ) -> int:
        """Working days allowed for a whole chain whose clock starts on ``on``.

        Chain A's total is fixed by law whatever ``steps`` says. Chain B's is the sum of the
        limits of ``steps``, the procedures the requester chose (default: all four).
        """
        chosen = CHAIN_STEPS[chain] if steps is None else tuple(steps)
        if foreign := set(chosen) - set(CHAIN_STEPS[chain]):
            names = ", ".join(sorted(foreign))
            raise ValueError(f"steps not in the {chain} chain: {names}")
        match chain:
            case Chain.BIRTH:
                limits = self.limits_on(on)
                if verification:
                    return limits.birth_chain_with_verification
                return limits.birth_chain
            case Chain.DEATH:
                return sum(self.step_limit(kind, on) for kind in set(chosen))
            case _:
                assert_never(chain)

    def due_after(self, started_at: datetime, working_days: int) -> datetime:
        """End of the ``working_days``-th working day after the effective start."""
        start = self.calendar.effective_start(started_at)
        return self.calendar.end_of_day(self.calendar.add_working_days(start, working_days))

    def start_day(self, started_at: datetime) -> date:
        """The day a clock started at ``started_at`` counts from; its limits are that day's."""
        return self.calendar.effective_start(started_at)

    def step_due_at(
        self, kind: StepKind, started_at: datetime, *, verification: bool = False
    ) -> datetime:
        """When a step is due, counting from ``started_at``.

        ``started_at`` is when the step received a complete dossier: the hand-over from the
        previous step, or the arrival of the supplement that restarted its clock.
        """
        limit = self.step_limit(kind, self.start_day(started_at), verification=verification)
        return self.due_after(started_at, limit)

    def chain_due_at(
        self,
        chain: Chain,
        complete_at: datetime,
        *,
        verification: bool = False,
        steps: Collection[StepKind] | None = None,
    ) -> datetime:
        """When a whole chain is due, counting from the instant its dossier was complete.

        After a supplementation, ``complete_at`` is the arrival of the last supplement.
        """
        start = self.start_day(complete_at)
        limit = self.chain_limit(chain, start, verification=verification, steps=steps)
        return self.due_after(complete_at, limit)

    def years_without_swaps(self, now: datetime, *due: datetime | None) -> tuple[int, ...]:
        """Years whose day swaps are not known that due dates computed at ``now`` may reach.

        The years from ``now`` to the due date of the longest clock started now (a whole
        death chain, or any longer limit), and the years of the ``due`` instants given.
        Their due dates count the public holidays only: the caller warns (docs/deadlines.md).
        """
        start = self.start_day(now)
        limits = self.limits_on(start)
        longest = max(self.chain_limit(Chain.DEATH, start), *astuple(limits))
        last = self.calendar.add_working_days(start, longest)
        years = set(range(self.calendar.to_local(now).year, last.year + 1))
        years |= {self.calendar.to_local(at).year for at in due if at is not None}
        return tuple(sorted(y for y in years if not self.calendar.swaps_known(y)))

    def supplement_deadline(self, requested_at: datetime) -> datetime:
        """Until when the applicant may supplement; after it the dossier is rejected."""
        return self.due_after(requested_at, self.supplement_window(requested_at))

    def supplement_window(self, requested_at: datetime) -> int:
        """Working days the applicant has to supplement, for a request at ``requested_at``."""
        return self.limits_on(self.start_day(requested_at)).supplement_window
