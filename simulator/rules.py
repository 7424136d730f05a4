"""The agencies' rules the simulator applies: pure functions of the request, no I/O.

Amounts come from the dated legal tables (``models/data/legal_tables.toml``): the level in
force in the month of death. Before a table's first row there is no amount and
:class:`~lienthong.models.legal_tables.NotInForce` is raised; the endpoints refuse.
"""

from __future__ import annotations

import calendar
from datetime import date

from lienthong.models.legal_tables import legal_tables

SURVIVOR_MONTHLY_MIN_CONTRIBUTION_MONTHS = 180
INSURED_MIN_CONTRIBUTION_MONTHS = 12


def base_salary_vnd(on: date) -> int:
    """Lương cơ sở (from 1/7/2025 the reference level) in force in the month of ``on``."""
    return legal_tables().amount_in_month("base_salary", on).value


def standard_assistance_vnd(on: date) -> int:
    """Mức chuẩn trợ giúp xã hội in force in the month of ``on``."""
    return legal_tables().amount_in_month("standard_assistance", on).value


def funeral_allowance_vnd(date_of_death: date) -> int:
    """Social insurance funeral allowance: N x the base salary in the month of death."""
    multiple = legal_tables().amount_in_month("funeral_allowance_multiple", date_of_death)
    return multiple.value * base_salary_vnd(date_of_death)


def funeral_allowance_basis(date_of_death: date) -> str:
    tables = legal_tables()
    law = tables.amount_in_month("funeral_allowance_multiple", date_of_death).source
    level = tables.amount_in_month("base_salary", date_of_death).source
    return f"{law}; lương cơ sở / mức tham chiếu: {level}"


def funeral_support_vnd(date_of_death: date) -> int:
    """Social affairs funeral-cost support: N x the standard assistance level (the minimum)."""
    multiple = legal_tables().amount_in_month("funeral_support_multiple", date_of_death)
    return multiple.value * standard_assistance_vnd(date_of_death)


def funeral_support_basis(date_of_death: date) -> str:
    tables = legal_tables()
    law = tables.amount_in_month("funeral_support_multiple", date_of_death).source
    level = tables.amount_in_month("standard_assistance", date_of_death).source
    return f"{law}; mức chuẩn trợ giúp xã hội: {level}"


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
