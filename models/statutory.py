"""The law's numbers as configurable data: statutory limits and the working-day calendar.

Read from LIENTHONG_CALENDAR__* settings (lienthong/settings.py); docs/deadlines.md cites
the source of each default.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

# The one time zone of every deadline, local day and time shown to operators.
VIETNAM_TIMEZONE = "Asia/Ho_Chi_Minh"


class StatutoryLimits(BaseModel):
    """Statutory limits in working days (docs/deadlines.md).

    A limit of N means the work is due by the end of the N-th working day after the day the
    clock starts; 0 means the same working day. Chain B's per-step limits are assumptions:
    the law sources give none.
    """

    birth_registration: int = Field(0, ge=0, description="Law: same working day.")
    residence_registration: int = Field(2, ge=0, description="Law.")
    residence_registration_with_verification: int = Field(5, ge=0, description="Law.")
    child_health_card: int = Field(2, ge=0, description="Law.")
    birth_chain: int = Field(3, ge=0, description="Law: whole chain A.")
    birth_chain_with_verification: int = Field(5, ge=0, description="Law: whole chain A.")
    death_registration: int = Field(1, ge=0, description="Assumption.")
    residence_removal: int = Field(1, ge=0, description="Assumption.")
    funeral_allowance: int = Field(5, ge=0, description="Assumption.")
    survivor_benefits: int = Field(10, ge=0, description="Assumption.")
    supplement_window: int = Field(
        7, ge=1, description="Law: working days the applicant has to supplement a dossier."
    )


class CalendarSettings(BaseModel):
    """Working days: Vietnam's public holidays plus the government's yearly moves.

    ``extra_days_off`` and ``makeup_working_days`` are added on top of the holidays package
    and the built-in moves in ``lienthong.models.calendar``, and win over both.
    """

    timezone: str = VIETNAM_TIMEZONE
    cutoff_hour: int = Field(15, ge=0, le=23)
    extra_days_off: list[date] = Field(default_factory=list)
    makeup_working_days: list[date] = Field(default_factory=list)
    limits: StatutoryLimits = Field(default_factory=StatutoryLimits)
