"""Administrative units: current ones from vietnam-provinces after 1/7/2025, old ones before."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest
import vietnam_provinces

from lienthong.models.dossier import BirthDossier
from lienthong.models.identifiers import PROVINCE_CODES
from lienthong.models.jurisdictions import (
    PROVINCE_SUCCESSORS,
    current_commune,
    current_province,
    grouped_provinces,
    jurisdiction_problems,
    successor_province,
)
from lienthong.models.validation import DossierInvalid, parse_dossier
from tests.helpers import example

BEFORE, AFTER = date(2025, 6, 30), date(2025, 7, 1)


def test_the_package_carries_the_2025_map() -> None:
    provinces = list(vietnam_provinces.Province.iter_all())
    assert len(provinces) == 34
    assert current_province("056") is not None
    assert current_province("058") is None  # Ninh Thuận, merged into Khánh Hòa
    commune = current_commune("22738")
    assert commune is not None
    assert commune.name == "Phường Đô Vinh"
    assert int(commune.province_code) == 56


def test_every_old_province_has_one_current_successor() -> None:
    assert set(PROVINCE_SUCCESSORS) == set(PROVINCE_CODES)
    successors = set(PROVINCE_SUCCESSORS.values())
    assert len(successors) == 34
    assert all(current_province(code) is not None for code in successors)
    # A current province keeps its own code.
    assert all(PROVINCE_SUCCESSORS[code] == code for code in successors)


@pytest.mark.parametrize(
    ("old", "current"),
    [("058", "056"), ("049", "048"), ("074", "079"), ("077", "079"), ("079", "079")],
)
def test_reports_group_old_units_under_their_successors(old: str, current: str) -> None:
    assert successor_province(old) == current


def test_a_report_on_a_current_province_counts_its_predecessors() -> None:
    assert grouped_provinces("079") == ("074", "077", "079")
    assert grouped_provinces("056") == ("056", "058")
    assert grouped_provinces("058") == ("058",)  # an old province alone
    assert grouped_provinces("001") == ("001",)


def test_an_unknown_code_has_no_successor() -> None:
    with pytest.raises(ValueError, match="not a province code"):
        successor_province("099")


@pytest.mark.parametrize(
    ("province", "commune", "on", "field", "reason"),
    [
        ("056", "22738", AFTER, None, None),
        ("001", "00004", AFTER, None, None),
        ("058", "22736", BEFORE, None, None),  # the old units, on the last day they existed
        ("058", "99999", BEFORE, None, None),  # old communes cannot be checked
        ("058", "22736", AFTER, "province_code", "merged into 056 (Khánh Hòa)"),
        ("056", "22736", AFTER, None, None),  # Đặc khu Trường Sa, a current unit of 056
        ("056", "2273", AFTER, "commune_code", "not a current commune code"),
        ("056", "00004", AFTER, "commune_code", "is in province 001, not 056"),
        ("099", "00004", BEFORE, "province_code", "was not a province"),
    ],
)
def test_units_must_exist_when_the_dossier_is_received(
    province: str, commune: str, on: date, field: str | None, reason: str | None
) -> None:
    problems = jurisdiction_problems(province, commune, on)
    if field is None:
        assert problems == []
    else:
        [(where, why)] = problems
        assert where == field
        assert reason is not None
        assert reason in why


def with_jurisdiction(data: dict[str, Any], province: str, commune: str) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    changed["jurisdiction"].update(province_code=province, commune_code=commune)
    return changed


def test_a_dossier_received_after_the_reorganisation_must_name_current_units() -> None:
    birth = example("birth-valid")
    assert isinstance(parse_dossier(birth), BirthDossier)
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(with_jurisdiction(birth, "058", "22736"))
    paths = [problem.path for problem in caught.value.problems]
    assert paths == ["jurisdiction.province_code"]


def test_an_older_record_keeps_the_units_of_its_day() -> None:
    birth = with_jurisdiction(example("birth-valid"), "058", "22736")
    birth["received_at"] = "2025-06-30T09:15:00+07:00"
    birth["child"]["date_of_birth"] = "2025-06-20"
    birth["medical_birth_certificate"]["issued_on"] = "2025-06-20"
    dossier = parse_dossier(birth)
    assert dossier.province_code == "058"
    assert successor_province(dossier.province_code) == "056"
