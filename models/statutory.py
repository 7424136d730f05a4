"""Calendar settings and the statutory limits in force on a day.

The limits themselves are dated rows of ``models/data/legal_tables.toml``
(``models/legal_tables.py``); the settings (LIENTHONG_CALENDAR__*, lienthong/settings.py)
may override them. docs/deadlines.md cites the source of each number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, Field

# The one time zone of every deadline, local day and time shown to operators.
VIETNAM_TIMEZONE = "Asia/Ho_Chi_Minh"


class LimitOverrides(BaseModel):
    """An operator's overrides of the legal tables' limits, in working days.

    ``None`` (the default) takes the row of ``models/data/legal_tables.toml`` in force on
    the day the clock starts; a number replaces it for every date. docs/deadlines.md cites
    the source of each row and says which are assumptions.
    """

    birth_registration: int | None = Field(None, ge=0)
    residence_registration: int | None = Field(None, ge=0)
    residence_registration_with_verification: int | None = Field(None, ge=0)
    child_health_card: int | None = Field(None, ge=0)
    birth_chain: int | None = Field(None, ge=0)
    birth_chain_with_verification: int | None = Field(None, ge=0)
    death_registration: int | None = Field(None, ge=0)
    residence_removal: int | None = Field(None, ge=0)
    funeral_allowance: int | None = Field(None, ge=0)
    survivor_benefits: int | None = Field(None, ge=0)
    supplement_window: int | None = Field(
        None, ge=1, description="Working days the applicant has to supplement a dossier."
    )


@dataclass(frozen=True)
class StatutoryLimits:
    """The limits in force on one day, in working days (``Deadlines.limits_on``).

    A limit of N means the work is due by the end of the N-th working day after the day the
    clock starts; 0 means the same working day.
    """

    birth_registration: int
    residence_registration: int
    residence_registration_with_verification: int
    child_health_card: int
    birth_chain: int
    birth_chain_with_verification: int
    death_registration: int
    residence_removal: int
    funeral_allowance: int
    survivor_benefits: int
    supplement_window: int


class CalendarSettings(BaseModel):
    """Working days: Vietnam's public holidays plus the government's yearly moves.

    ``extra_days_off`` and ``makeup_working_days`` are added on top of the holidays package
    and the built-in moves in ``lienthong.models.calendar``, and win over both.
    """

    timezone: str = VIETNAM_TIMEZONE
    cutoff_hour: int = Field(15, ge=0, le=23)
    extra_days_off: list[date] = Field(default_factory=list)
    makeup_working_days: list[date] = Field(default_factory=list)
    swap_years: list[int] = Field(
        default_factory=list,
        description="Years whose day swaps are configured in full (also a year with none); "
        "other years than the built-in ones make the CLI and the sweep warn.",
    )
    limits: LimitOverrides = Field(default_factory=LimitOverrides)
