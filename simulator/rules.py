"""The agencies' rules the simulator applies: pure functions of the request, no I/O.

Amounts are simplified to the two tiers either side of 2024-07-01 that DOMAIN.md names;
earlier tiers (before the 2023 raise) are not modelled.
"""

from __future__ import annotations

import calendar
from datetime import date

RAISE_DATE = date(2024, 7, 1)
SURVIVOR_MONTHLY_MIN_CONTRIBUTION_MONTHS = 180
INSURED_MIN_CONTRIBUTION_MONTHS = 12


def base_salary_vnd(on: date) -> int:
    """Lương cơ sở: Decree 24/2023 (1,800,000) until 30/6/2024, Decree 73/2024 (2,340,000)."""
    return 2_340_000 if on >= RAISE_DATE else 1_800_000


def standard_assistance_vnd(on: date) -> int:
    """Mức chuẩn trợ giúp xã hội: Decree 20/2021 (360,000), Decree 76/2024 (500,000)."""
    return 500_000 if on >= RAISE_DATE else 360_000


def funeral_allowance_vnd(date_of_death: date) -> int:
    """Social insurance funeral allowance: 10 x base salary in the month of death."""
    return 10 * base_salary_vnd(date_of_death)


def funeral_allowance_basis(date_of_death: date) -> str:
    decree = "73/2024/NĐ-CP" if date_of_death >= RAISE_DATE else "24/2023/NĐ-CP"
    return f"Luật BHXH 2014 Điều 66-67; lương cơ sở theo Nghị định {decree}"


def funeral_support_vnd(date_of_death: date) -> int:
    """Social affairs funeral-cost support: 20 x the standard assistance level."""
    return 20 * standard_assistance_vnd(date_of_death)


def funeral_support_basis(date_of_death: date) -> str:
    decree = "76/2024/NĐ-CP" if date_of_death >= RAISE_DATE else "20/2021/NĐ-CP"
    return f"Nghị định 20/2021/NĐ-CP Điều 11; mức chuẩn trợ giúp xã hội theo Nghị định {decree}"


def survivor_monthly_vnd(date_of_death: date) -> int:
    """Monthly survivor allowance per relative: 50% of the base salary (simplified)."""
    return base_salary_vnd(date_of_death) // 2


def survivor_lump_sum_vnd(date_of_death: date, contribution_months: int) -> int:
    """Lump sum: 1.5 x base salary per contribution year, at least 3 x (simplified: the law
    uses the average insured salary, which the simulator does not know)."""
    years = contribution_months / 12
    return int(max(3.0, 1.5 * years) * base_salary_vnd(date_of_death))


def child_card_valid_to(date_of_birth: date) -> date:
    """Decree 146/2018 art. 13: the under-6 card runs to 72 months of age. A child who turns
    72 months before 30 September is covered to 30 September of that year; otherwise to the
    last day of the month in which the child turns 72 months."""
    year = date_of_birth.year + 6
    if (date_of_birth.month, date_of_birth.day) < (9, 30):
        return date(year, 9, 30)
    last_day = calendar.monthrange(year, date_of_birth.month)[1]
    return date(year, date_of_birth.month, last_day)
