"""Properties of the status rules in models/status.py, for steps and for dossiers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.models.status import (
    DOSSIER_TRANSITIONS,
    STEP_TRANSITIONS,
    STOPPED_STEP_STATUSES,
    TERMINAL_DOSSIER_STATUSES,
    TERMINAL_STEP_STATUSES,
    DossierStatus,
    IllegalTransition,
    StepStatus,
    check_dossier_transition,
    check_step_transition,
)


@dataclass(frozen=True)
class Rules:
    name: str
    statuses: type[StrEnum]
    initial: StrEnum
    table: Mapping[Any, frozenset[Any]]
    terminal: frozenset[Any]
    check: Callable[[Any, Any], None]


STEP = Rules(
    "step",
    StepStatus,
    StepStatus.PENDING,
    STEP_TRANSITIONS,
    TERMINAL_STEP_STATUSES,
    check_step_transition,
)
DOSSIER = Rules(
    "dossier",
    DossierStatus,
    DossierStatus.RECEIVED,
    DOSSIER_TRANSITIONS,
    TERMINAL_DOSSIER_STATUSES,
    check_dossier_transition,
)
RULES = pytest.mark.parametrize("rules", [STEP, DOSSIER], ids=lambda rules: rules.name)


def _reachable(rules: Rules, start: Any) -> set[Any]:
    seen = {start}
    frontier = [start]
    while frontier:
        for after in rules.table[frontier.pop()]:
            if after not in seen:
                seen.add(after)
                frontier.append(after)
    return seen


@RULES
def test_the_table_names_every_status_and_only_statuses(rules: Rules) -> None:
    assert set(rules.table) == set(rules.statuses)
    for allowed in rules.table.values():
        assert allowed <= set(rules.statuses)


@RULES
def test_every_status_is_reachable_from_the_initial_one(rules: Rules) -> None:
    assert _reachable(rules, rules.initial) == set(rules.statuses)


@RULES
def test_every_status_can_still_end(rules: Rules) -> None:
    """No status is a trap: from anywhere, some path leads to a terminal status."""
    for status in rules.statuses:
        assert _reachable(rules, status) & rules.terminal, status


@RULES
def test_terminal_statuses_have_no_way_out(rules: Rules) -> None:
    assert rules.terminal, "a lifecycle without an end"
    assert rules.initial not in rules.terminal
    for status in rules.terminal:
        for after in rules.statuses:
            with pytest.raises(IllegalTransition):
                rules.check(status, after)


def test_steps_stopped_without_an_outcome_can_be_resumed() -> None:
    for status in STOPPED_STEP_STATUSES:
        assert status not in TERMINAL_STEP_STATUSES
        check_step_transition(status, StepStatus.IN_PROGRESS)


def _walk(rules: Rules, attempts: list[Any]) -> None:
    """Attempt every change in turn: each either follows the table or is refused."""
    current = rules.initial
    for after in attempts:
        if after in rules.table[current]:
            rules.check(current, after)
            current = after
        else:
            with pytest.raises(IllegalTransition) as refused:
                rules.check(current, after)
            assert (refused.value.before, refused.value.after) == (current, after)
            assert repr(str(current)) in str(refused.value)
            assert repr(str(after)) in str(refused.value)


@given(st.lists(st.sampled_from(StepStatus), max_size=40))
def test_any_sequence_of_step_changes_follows_the_table_or_is_refused(
    attempts: list[StepStatus],
) -> None:
    _walk(STEP, attempts)


@given(st.lists(st.sampled_from(DossierStatus), max_size=40))
def test_any_sequence_of_dossier_changes_follows_the_table_or_is_refused(
    attempts: list[DossierStatus],
) -> None:
    _walk(DOSSIER, attempts)


@RULES
def test_a_change_is_allowed_exactly_when_the_table_lists_it(rules: Rules) -> None:
    for before in rules.statuses:
        for after in rules.statuses:
            if after in rules.table[before]:
                rules.check(before, after)
            else:
                with pytest.raises(IllegalTransition):
                    rules.check(before, after)
