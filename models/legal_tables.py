"""The law's numbers as dated tables: limits in working days and amounts in VND.

The numbers live in one data file shipped with the package, ``models/data/legal_tables.toml``
(docs/deadlines.md, "The legal tables"): each row has the first day it is in force, its
value, the legal source and whether it is an assumption. A maintainer follows a change in
the law by adding a row; no code changes. The file is read once per process, like the
``holidays`` package's data: it is part of the release, not configuration.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

LimitName = Literal[
    "birth_registration",
    "residence_registration",
    "residence_registration_with_verification",
    "child_health_card",
    "birth_chain",
    "birth_chain_with_verification",
    "death_registration",
    "residence_removal",
    "funeral_allowance",
    "survivor_benefits",
    "supplement_window",
]
AmountName = Literal[
    "base_salary",
    "funeral_allowance_multiple",
    "standard_assistance",
    "funeral_support_multiple",
]
LIMIT_NAMES: tuple[LimitName, ...] = get_args(LimitName)
AMOUNT_NAMES: tuple[AmountName, ...] = get_args(AmountName)


class NotInForce(LookupError):
    """No row of a table is in force on the date asked (before the table's first row)."""


class DatedValue(BaseModel):
    """One row: ``value`` is in force from ``effective_from`` until the next row's date."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    effective_from: date
    value: int = Field(ge=0)
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    assumption: bool
    note: str = ""


@dataclass(frozen=True)
class DatedTable:
    """The rows of one number, oldest first, no two on the same day."""

    name: str
    rows: tuple[DatedValue, ...]

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError(f"{self.name}: no rows")
        days = [row.effective_from for row in self.rows]
        if days != sorted(set(days)):
            raise ValueError(f"{self.name}: rows must be in date order, one per day")

    def in_force_on(self, on: date) -> DatedValue:
        """The row in force on ``on``; :class:`NotInForce` before the first row."""
        current: DatedValue | None = None
        for row in self.rows:
            if row.effective_from > on:
                break
            current = row
        if current is None:
            raise NotInForce(f"{self.name}: nothing in force on {on.isoformat()}")
        return current


class _LegalTablesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: dict[LimitName, list[DatedValue]]
    amounts: dict[AmountName, list[DatedValue]]

    @field_validator("amounts")
    @classmethod
    def _monthly(cls, amounts: dict[AmountName, list[DatedValue]]) -> object:
        """The law pays on the level of the month of death: levels change on a 1st."""
        for name, rows in amounts.items():
            if bad := [r.effective_from.isoformat() for r in rows if r.effective_from.day != 1]:
                raise ValueError(f"{name}: rows must start on the first of a month: {bad}")
        return amounts


@dataclass(frozen=True)
class LegalTables:
    """Every dated number of the law the project uses."""

    limits: Mapping[LimitName, DatedTable]
    amounts: Mapping[AmountName, DatedTable]

    def limit(self, name: LimitName, on: date) -> DatedValue:
        """The limit in force on ``on`` (the day the clock starts); the first row before it."""
        table = self.limits[name]
        if on < table.rows[0].effective_from:
            return table.rows[0]
        return table.in_force_on(on)

    def amount_in_month(self, name: AmountName, day: date) -> DatedValue:
        """The amount in force in the month of ``day`` (on the first of that month)."""
        return self.amounts[name].in_force_on(day.replace(day=1))


def parse_legal_tables(text: str) -> LegalTables:
    """Validate the data file's text: every name present, rows in order, cited."""
    data = _LegalTablesFile.model_validate(tomllib.loads(text))
    if missing := [n for n in LIMIT_NAMES if n not in data.limits] + [
        n for n in AMOUNT_NAMES if n not in data.amounts
    ]:
        raise ValueError(f"legal tables lack: {', '.join(missing)}")
    return LegalTables(
        limits={n: DatedTable(n, tuple(rows)) for n, rows in data.limits.items()},
        amounts={n: DatedTable(n, tuple(rows)) for n, rows in data.amounts.items()},
    )


@cache
def legal_tables() -> LegalTables:
    """The tables shipped with this release (``lienthong/models/data/legal_tables.toml``)."""
    resource = files("lienthong.models").joinpath("data", "legal_tables.toml")
    return parse_legal_tables(resource.read_text(encoding="utf-8"))
