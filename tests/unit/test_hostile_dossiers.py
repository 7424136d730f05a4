"""Hostile and absurd dossier data at the domain's edge (issue 10, points 2, 3, 6 and 8): each
case ends as a specific problem by field, never as an exception or an accepted dossier, and
what a rejected dossier keeps is JSON any database stores. The same, generated, through the
real databases and the CLI: tests/integration/test_intake_hostile.py."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lienthong.models.dossier import BirthDossier
from lienthong.models.limits import DossierLimits
from lienthong.models.status import StepKind
from lienthong.models.supplements import SupplementNotAllowed
from lienthong.models.validation import DossierInvalid, parse_dossier, storable
from tests.helpers import example

NOW = datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
LIMITS = DossierLimits()


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(data, now=NOW, limits=LIMITS)
    return {p.path: p.message for p in caught.value.problems}


def birth(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(example("birth-valid"))
    data.update(changes)
    return data


def death(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(example("death-valid-scope4"))
    data.update(changes)
    return data


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_an_integer_is_not_read_as_a_datetime() -> None:
    found = problems(birth(received_at=1763863200))
    assert found == {
        "received_at": "must be a date and time with its UTC offset, written like "
        "2026-11-20T09:30:00+07:00"
    }


@pytest.mark.parametrize("value", [20539, "20260101", "2026-W01-1", "2026-02-30", "1899-12-31"])
def test_a_date_is_only_a_real_yyyy_mm_dd_in_range(value: Any) -> None:
    data = birth()
    data["child"]["date_of_birth"] = value
    assert "child.date_of_birth" in problems(data)


def test_a_time_without_offset_says_so() -> None:
    assert problems(birth(received_at="2026-11-20T09:30:00"))["received_at"].startswith(
        "must include its UTC offset"
    )


def test_whitespace_is_trimmed_from_dates_enums_and_choices_like_from_text() -> None:
    data = birth(chain=" birth ", received_at=" 2026-11-20T09:30:00+07:00 ")
    data["child"]["date_of_birth"] = " 2026-11-01 "
    data["child"]["sex"] = " female\n"
    dossier = parse_dossier(data, now=NOW, limits=LIMITS)
    assert isinstance(dossier, BirthDossier)
    assert (str(dossier.child.date_of_birth), dossier.child.sex.value) == ("2026-11-01", "female")
    assert dossier.received_at.isoformat() == "2026-11-20T09:30:00+07:00"


def test_a_reference_with_surrounding_whitespace_is_trimmed_even_when_the_dossier_is_invalid() -> (
    None
):
    """The revalidation of the valid parts once raised pydantic's error on this."""
    data = birth(reference=" HT-2026-000123 ")
    del data["residence"]
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(data, now=NOW, limits=LIMITS)
    assert caught.value.reference == "HT-2026-000123"
    assert [p.path for p in caught.value.problems] == ["residence"]


@pytest.mark.parametrize("months", [10**20, 721, -1, 300.0, "300", True])
def test_contribution_months_are_a_bounded_whole_number(months: Any) -> None:
    message = problems(death(contribution_months=months))["contribution_months"]
    assert message in {"must be 720 or less", "must be 0 or more", "must be a whole number"}


@pytest.mark.parametrize("scope", [4.0, "4", True, 5])
def test_scope_is_exactly_2_3_or_4(scope: Any) -> None:
    assert problems(death(scope=scope))["scope"] in {"must be a whole number", "must be 2, 3 or 4"}


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_booleans_are_json_booleans(value: Any) -> None:
    assert problems(birth(chain_opt_in=value)) == {"chain_opt_in": "must be true or false"}


@pytest.mark.parametrize("digit", ["4", "8"])  # born in 2179, 2379: after the dossier
def test_a_personal_id_of_someone_not_yet_born_is_refused(digit: str) -> None:
    data = birth()
    requester_id = data["requester"]["personal_id"]
    data["requester"]["personal_id"] = requester_id[:3] + digit + "79" + requester_id[6:]
    message = problems(data)["requester.personal_id"]
    assert "after 2026" in message
    assert "digit 4 gives the century" in message


def test_a_household_head_not_yet_born_is_refused() -> None:
    data = birth()
    head = data["residence"]["household_head_personal_id"]
    data["residence"]["household_head_personal_id"] = head[:3] + "5" + head[4:]
    assert "after 2026" in problems(data)["residence.household_head_personal_id"]


def test_a_ten_megabyte_name_is_refused_by_its_length() -> None:
    data = birth()
    data["child"]["full_name"] = "A" * 10_000_000
    assert problems(data) == {
        "child.full_name": "is 10000000 characters long: at most 500 are allowed"
    }


def test_without_limits_a_stored_dossier_is_not_judged_by_them() -> None:
    data = birth()
    data["child"]["place_of_birth"] = "B" * 600
    dossier = parse_dossier(data)
    assert isinstance(dossier, BirthDossier)
    assert dossier.child.place_of_birth == "B" * 600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Bệnh viện\x00", "must not contain control characters (NUL, line breaks, tabs)"),
        ("Bệnh viện\ud800", "must be valid Unicode text (it holds a lone surrogate)"),
    ],
)
def test_nul_and_lone_surrogates_are_refused(text: str, message: str) -> None:
    data = birth()
    data["child"]["place_of_birth"] = text
    assert problems(data) == {"child.place_of_birth": message}


def test_an_unknown_key_is_quoted_short_and_visible() -> None:
    found = problems(birth(**{"\x00" + "k" * 100_000: 1}))
    [(path, message)] = found.items()
    assert path == "\\x00" + "k" * 39 + "…"
    assert message == "is not a known field (check its spelling)"


def test_a_flood_of_unknown_keys_is_listed_up_to_a_hundred_problems() -> None:
    found = problems(birth(**{f"k{i}": i for i in range(5000)}))
    assert len(found) == 100
    assert found["dossier"] == "and 4901 more"


def test_nesting_deep_enough_for_recursion_error_is_a_problem() -> None:
    assert problems(birth(extra=nested(100_000))) == {
        "extra" + "[0]" * 7: "nests objects and arrays deeper than 8 levels (a dossier uses 2)"
    }


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused(value: float) -> None:
    assert problems(death(contribution_months=value)) == {
        "contribution_months": "must be a whole number"
    }


def test_what_a_rejected_dossier_keeps_is_json_every_database_stores() -> None:
    raw = birth(
        reference=" HT-2026-000123 ",
        extra=[float("nan"), float("inf"), 10**400, "a\x00b\ud800c", nested(100_000)],
        **{"k\x00" * 600: "v" * 600},
    )
    kept = storable(raw, LIMITS)
    text = json.dumps(kept, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in text
    assert kept["extra"][:4] == ["NaN", "Infinity", "(an integer of 1329 bits, not kept)", "a�b�c"]
    assert kept["reference"] == " HT-2026-000123 "  # kept as handed in
    [long_key] = [key for key in kept if key.startswith("k")]
    assert long_key.endswith("… (1200 characters in all)")
    assert kept[long_key] == "v" * 500 + "… (600 characters in all)"


def test_a_supplement_with_unknown_sections_names_them_short_and_few() -> None:
    message = str(SupplementNotAllowed(StepKind.RESIDENCE_REGISTRATION, ["\x00" + "s" * 10**6]))
    assert message.startswith("a supplement for the residence_registration step cannot change ")
    assert "\\x00" + "s" * 39 + "…:" in message
    assert len(message) < 200
