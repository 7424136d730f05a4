"""The law's numbers as dated data: the shipped file, its checks, and what depends on dates."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from lienthong.models.calendar import WorkingCalendar
from lienthong.models.deadlines import Deadlines
from lienthong.models.legal_tables import (
    AMOUNT_NAMES,
    LIMIT_NAMES,
    NotInForce,
    legal_tables,
    parse_legal_tables,
)
from lienthong.models.status import StepKind
from lienthong.models.statutory import LimitOverrides, StatutoryLimits
from lienthong.simulator import rules

SHIPPED = legal_tables()


def table_text(death_rows: str, base_salary_rows: str) -> str:
    """A complete tables file whose death limit and base salary the test chooses."""
    row = '{ effective_from = 2016-01-01, value = 1, source = "test", assumption = true }'
    limits = "\n".join(f"{n} = [{row}]" for n in LIMIT_NAMES if n != "death_registration")
    amounts = "\n".join(f"{n} = [{row}]" for n in AMOUNT_NAMES if n != "base_salary")
    return (
        f"[limits]\n{limits}\ndeath_registration = [{death_rows}]\n"
        f"[amounts]\n{amounts}\nbase_salary = [{base_salary_rows}]\n"
    )


def test_the_shipped_file_names_every_number_and_cites_every_row() -> None:
    assert set(SHIPPED.limits) == set(LIMIT_NAMES)
    assert set(SHIPPED.amounts) == set(AMOUNT_NAMES)
    for table in [*SHIPPED.limits.values(), *SHIPPED.amounts.values()]:
        for row in table.rows:
            assert row.source, table.name
            if row.assumption:
                assert "none found" in row.source or row.note, table.name


def test_limit_names_match_the_settings_and_the_resolved_limits() -> None:
    assert tuple(f.name for f in fields(StatutoryLimits)) == LIMIT_NAMES
    assert tuple(LimitOverrides.model_fields) == LIMIT_NAMES


@pytest.mark.parametrize(
    ("on", "vnd"),
    [
        (date(2019, 7, 1), 1_490_000),
        (date(2023, 6, 30), 1_490_000),
        (date(2023, 7, 1), 1_800_000),
        (date(2024, 6, 30), 1_800_000),
        (date(2024, 7, 31), 2_340_000),
        (date(2025, 7, 1), 2_340_000),  # the reference level of the Social Insurance Law 2024
        (date(2026, 11, 30), 2_340_000),
    ],
)
def test_base_salary_history(on: date, vnd: int) -> None:
    assert rules.base_salary_vnd(on) == vnd


def test_funeral_amounts_depend_on_the_month_of_death() -> None:
    assert rules.funeral_allowance_vnd(date(2023, 6, 30)) == 14_900_000
    assert rules.funeral_allowance_vnd(date(2023, 7, 1)) == 18_000_000
    assert rules.funeral_allowance_vnd(date(2024, 7, 1)) == 23_400_000
    assert rules.funeral_support_vnd(date(2021, 7, 1)) == 7_200_000
    assert rules.funeral_support_vnd(date(2024, 7, 15)) == 10_000_000
    assert "Nghị định 24/2023/NĐ-CP" in rules.funeral_allowance_basis(date(2023, 7, 1))
    assert "Nghị định 76/2024/NĐ-CP" in rules.funeral_support_basis(date(2024, 7, 1))


def test_no_money_before_the_first_row() -> None:
    with pytest.raises(NotInForce, match="base_salary"):
        rules.funeral_allowance_vnd(date(2019, 6, 30))
    with pytest.raises(NotInForce, match="nothing in force on 2021-06-01"):
        rules.funeral_support_vnd(date(2021, 6, 30))


def test_the_month_decides_even_when_a_level_changes_mid_month() -> None:
    tables = parse_legal_tables(
        table_text(
            '{ effective_from = 2016-01-01, value = 0, source = "x", assumption = false }',
            '{ effective_from = 2030-01-01, value = 100, source = "a", assumption = false },'
            '{ effective_from = 2030-02-01, value = 200, source = "b", assumption = false }',
        )
    )
    assert tables.amount_in_month("base_salary", date(2030, 1, 31)).value == 100
    assert tables.amount_in_month("base_salary", date(2030, 2, 28)).value == 200


def test_death_registration_is_due_the_same_working_day_by_law() -> None:
    row = SHIPPED.limit("death_registration", date(2026, 3, 2))
    assert row.value == 0
    assert "Luật Hộ tịch 2014 Điều 34" in row.source
    assert not row.assumption


def test_a_new_row_changes_a_limit_from_its_date_without_code() -> None:
    tables = parse_legal_tables(
        table_text(
            '{ effective_from = 2016-01-01, value = 1, source = "old", assumption = false },'
            '{ effective_from = 2026-03-02, value = 0, source = "new", assumption = false }',
            '{ effective_from = 2016-01-01, value = 1, source = "x", assumption = false }',
        )
    )
    deadlines = Deadlines(WorkingCalendar(), tables=tables)
    assert deadlines.step_limit(StepKind.DEATH_REGISTRATION, date(2026, 2, 27)) == 1
    assert deadlines.step_limit(StepKind.DEATH_REGISTRATION, date(2026, 3, 2)) == 0
    # A clock started on Friday 27/2 at 16:00 counts from Monday 2/3: the new row applies.
    friday_late = datetime(2026, 2, 27, 9, tzinfo=UTC)  # 16:00 in Vietnam
    due = deadlines.step_due_at(StepKind.DEATH_REGISTRATION, friday_late)
    assert deadlines.calendar.to_local(due).date() == date(2026, 3, 2)
    # Before the first row, the first row applies.
    assert deadlines.step_limit(StepKind.DEATH_REGISTRATION, date(2000, 1, 1)) == 1
    # An operator's override wins over every row.
    overridden = Deadlines(WorkingCalendar(), LimitOverrides(death_registration=2), tables)
    assert overridden.step_limit(StepKind.DEATH_REGISTRATION, date(2026, 3, 2)) == 2


@pytest.mark.parametrize(
    ("death_rows", "salary_rows", "error"),
    [
        (
            '{ effective_from = 2020-01-01, value = 1, source = "x", assumption = false },'
            '{ effective_from = 2019-01-01, value = 0, source = "x", assumption = false }',
            '{ effective_from = 2016-01-01, value = 1, source = "x", assumption = false }',
            "date order",
        ),
        (
            '{ effective_from = 2020-01-01, value = 1, source = "x", assumption = false }',
            '{ effective_from = 2016-01-15, value = 1, source = "x", assumption = false }',
            "first of a month",
        ),
        (
            '{ effective_from = 2020-01-01, value = 1, source = "  ", assumption = false }',
            '{ effective_from = 2016-01-01, value = 1, source = "x", assumption = false }',
            "source",
        ),
        (
            '{ effective_from = 2020-01-01, value = -1, source = "x", assumption = false }',
            '{ effective_from = 2016-01-01, value = 1, source = "x", assumption = false }',
            "value",
        ),
        (
            "",
            '{ effective_from = 2016-01-01, value = 1, source = "x", assumption = false }',
            "no rows",
        ),
    ],
)
def test_a_broken_file_is_refused(death_rows: str, salary_rows: str, error: str) -> None:
    with pytest.raises((ValueError, ValidationError), match=error):
        parse_legal_tables(table_text(death_rows, salary_rows))


def test_an_unknown_or_missing_number_is_refused() -> None:
    text = table_text(
        '{ effective_from = 2016-01-01, value = 0, source = "x", assumption = false }',
        '{ effective_from = 2016-01-01, value = 1, source = "x", assumption = false }',
    )
    with pytest.raises(ValidationError, match="birth_chainz"):
        parse_legal_tables(text.replace("birth_chain =", "birth_chainz ="))
    with pytest.raises(ValueError, match="lack: birth_chain"):
        parse_legal_tables(text.replace("birth_chain =", "# birth_chain ="))
