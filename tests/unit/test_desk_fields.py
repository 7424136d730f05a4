"""The desk's dossier forms: every field of a dossier has an input, and a form filled in
from a dossier gives that dossier back (what the operator types is what the API takes)."""

from __future__ import annotations

from typing import Any

import pytest

from lienthong.api.desk.fields import (
    SECTIONS,
    dossier_from_form,
    form_values,
    supplement_from_form,
    supplement_sections,
)
from lienthong.models.status import Chain, StepKind
from tests.helpers import example

EXAMPLES = {
    Chain.BIRTH: "birth-valid",
    Chain.DEATH: "death-valid-insured",
}


def _leaves(data: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths |= _leaves(value, f"{path}.") if isinstance(value, dict) else {path}
    return paths


@pytest.mark.parametrize("chain", list(Chain))
def test_a_filled_form_gives_the_dossier_back(chain: Chain) -> None:
    dossier = example(EXAMPLES[chain])
    form = form_values(dossier, SECTIONS[chain])
    assert dossier_from_form(chain, form, dossier["jurisdiction"]) == dossier


@pytest.mark.parametrize("chain", list(Chain))
def test_every_field_of_the_dossier_has_an_input(chain: Chain) -> None:
    inputs = {f.path for s in SECTIONS[chain] for f in s.fields}
    fields = (
        _leaves(example(EXAMPLES[chain]))
        - {"chain"}
        - {p for p in _leaves(example(EXAMPLES[chain])) if p.startswith("jurisdiction.")}
    )
    assert fields <= inputs


def test_an_empty_parent_is_left_out_and_a_typed_number_stays_text_to_be_named() -> None:
    form = {"mother.full_name": "Trần Thị Hà", "mother.year_of_birth": "19a4"}
    raw = dossier_from_form(Chain.BIRTH, form, {"commune_code": "22738"})
    assert "father" not in raw
    assert raw["mother"] == {"full_name": "Trần Thị Hà", "year_of_birth": "19a4"}
    assert raw["chain_opt_in"] is False


def test_a_supplement_form_has_only_what_the_waiting_step_may_change() -> None:
    sections = supplement_sections(Chain.BIRTH, StepKind.RESIDENCE_REGISTRATION)
    assert {f.path.split(".")[0] for s in sections for f in s.fields} == {"residence"}
    form = form_values(example("birth-valid"), sections)
    form.pop("residence.household_head_consent")
    assert supplement_from_form(sections, form)["residence"]["household_head_consent"] is False
    death = supplement_sections(Chain.DEATH, StepKind.FUNERAL_ALLOWANCE)
    assert supplement_from_form(death, {"contribution_months": "96"}) == {"contribution_months": 96}
