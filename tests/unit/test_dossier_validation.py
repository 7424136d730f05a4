from __future__ import annotations

import copy
import json
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from lienthong.adapters.dossier_files import DossierFileError, load_dossier_file
from lienthong.models.dossier import BirthDossier, DeathDossier
from lienthong.models.identifiers import Sex, make_personal_id
from lienthong.models.status import Chain
from lienthong.models.validation import DossierInvalid, Problem, parse_dossier

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VALID_FILES = sorted([*EXAMPLES.glob("*.json"), *(EXAMPLES / "demo").glob("*.json")])

# Every file under examples/invalid/ and the field its (first) problem must name.
INVALID_EXAMPLES: dict[str, str] = {
    "bad-reference.json": "reference",
    "both-parents-missing.json": "mother",
    "child-six-or-older.json": "child.date_of_birth",
    "death-before-birth.json": "death.occurred_at",
    "death-notice-before-death.json": "death_notice.issued_on",
    "future-date.json": "child.date_of_birth",
    "id-birth-year-mismatch.json": "deceased.personal_id",
    "id-century-sex-mismatch.json": "father.personal_id",
    "id-old-cmnd.json": "requester.personal_id",
    "id-unknown-province.json": "mother.personal_id",
    "id-wrong-length.json": "requester.personal_id",
    "missing-required-field.json": "medical_birth_certificate",
    "naive-datetime.json": "received_at",
    "name-with-digits.json": "child.full_name",
    "not-opted-in.json": "chain_opt_in",
    "scope-out-of-range.json": "scope",
    "unknown-chain.json": "chain",
    "unknown-field.json": "residence.household_head_concent",
    "unknown-province-jurisdiction.json": "jurisdiction.province_code",
}


def load(name: str) -> dict[str, Any]:
    return load_dossier_file(EXAMPLES / name)


def problems_of(data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(data)
    return caught.value.problems


def paths_of(data: dict[str, Any]) -> set[str]:
    return {problem.path for problem in problems_of(data)}


@pytest.fixture
def birth() -> dict[str, Any]:
    return load("birth-valid.json")


@pytest.fixture
def death() -> dict[str, Any]:
    return load("death-valid-insured.json")


# --- the examples


def test_the_invalid_mapping_covers_every_invalid_example() -> None:
    assert {p.name for p in (EXAMPLES / "invalid").glob("*.json")} == set(INVALID_EXAMPLES)


@pytest.mark.parametrize(("name", "path"), sorted(INVALID_EXAMPLES.items()))
def test_each_invalid_example_is_rejected_naming_its_field(name: str, path: str) -> None:
    problems = problems_of(load(f"invalid/{name}"))
    assert path in {p.path for p in problems}
    for problem in problems:
        assert problem.message
        assert "Value error" not in problem.message
        assert "pydantic" not in problem.message.lower()


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.name)
def test_each_valid_example_is_accepted(path: Path) -> None:
    dossier = parse_dossier(load_dossier_file(path))
    if path.parent.name == "demo":
        assert dossier.reference == path.stem


def test_demo_set_has_the_cases_the_simulator_reacts_to() -> None:
    demo = [parse_dossier(load_dossier_file(p)) for p in sorted((EXAMPLES / "demo").glob("*.json"))]
    births = [d for d in demo if isinstance(d, BirthDossier)]
    assert len({d.reference for d in demo}) == len(demo) >= 8
    assert any(isinstance(d, DeathDossier) for d in demo)
    assert [d.medical_birth_certificate.number for d in births].count("GCS-DUPLICATE-0001") == 1
    no_consent = [d for d in births if not d.residence.household_head_consent]
    assert len(no_consent) == 1
    supplement = load(f"demo/supplements/{no_consent[0].reference}.json")
    assert set(supplement) == {"residence"}
    fixed = no_consent[0].model_dump(mode="json") | supplement
    assert parse_dossier(fixed).residence.household_head_consent is True  # type: ignore[union-attr]


def test_death_examples_cover_each_payer_and_scope() -> None:
    cases = {
        "death-valid-insured.json": (3, "insured"),
        "death-valid-social-protection.json": (3, "social_protection"),
        "death-valid-no-payer.json": (3, "none"),
        "death-valid-scope4.json": (4, "pensioner"),
    }
    for name, (scope, basis) in cases.items():
        dossier = parse_dossier(load(name))
        assert isinstance(dossier, DeathDossier)
        assert (dossier.scope, dossier.funeral_payer_basis.value) == (scope, basis)


# --- convenience properties


def test_birth_dossier_exposes_what_the_pipeline_needs(birth: dict[str, Any]) -> None:
    dossier = parse_dossier(birth)
    assert isinstance(dossier, BirthDossier)
    assert dossier.chain is Chain.BIRTH
    assert dossier.province_code == "056"
    assert dossier.commune_code == birth["jurisdiction"]["commune_code"]
    assert dossier.child_age_months_at(date(2027, 11, 9)) == 11
    assert dossier.child_age_months_at(date(2027, 11, 10)) == 12
    assert dossier.late_filing is False
    assert dossier.late_filing_reason is None


def test_death_dossier_exposes_what_the_pipeline_needs(death: dict[str, Any]) -> None:
    dossier = parse_dossier(death)
    assert isinstance(dossier, DeathDossier)
    assert dossier.chain is Chain.DEATH
    assert dossier.province_code == "001"
    assert dossier.date_of_death == date(2026, 11, 14)


@pytest.mark.parametrize("example", ["birth-valid.json", "death-valid-scope4.json"])
def test_a_dumped_dossier_parses_back_to_the_same_model(example: str) -> None:
    dossier = parse_dossier(load(example))
    assert parse_dossier(json.loads(dossier.model_dump_json())) == dossier


# --- late filings are flagged, not rejected


@pytest.mark.parametrize(("days", "late"), [(60, False), (61, True)])
def test_birth_is_late_after_60_days(birth: dict[str, Any], days: int, late: bool) -> None:
    born = date.fromisoformat(birth["child"]["date_of_birth"])
    birth["received_at"] = f"{born + timedelta(days=days)}T09:00:00+07:00"
    dossier = parse_dossier(birth)
    assert dossier.late_filing is late
    if late:
        assert dossier.late_filing_reason == (
            "received 61 days after the birth; a birth must be registered within 60 days"
        )


@pytest.mark.parametrize(("days", "late"), [(15, False), (16, True)])
def test_death_is_late_after_15_days(death: dict[str, Any], days: int, late: bool) -> None:
    died = datetime.fromisoformat(death["death"]["occurred_at"]).date()
    death["received_at"] = f"{died + timedelta(days=days)}T09:00:00+07:00"
    dossier = parse_dossier(death)
    assert dossier.late_filing is late
    assert (dossier.late_filing_reason is not None) is late


# --- rules


def test_every_problem_is_reported_in_one_pass(birth: dict[str, Any]) -> None:
    del birth["residence"]
    birth["child"]["date_of_birth"] = "2026-12-25"
    birth["mother"]["personal_id"] = make_personal_id("058", Sex.MALE, 1994, 1)
    birth["requester"]["personal_id"] = "12345"
    birth["chain_opt_in"] = False
    assert paths_of(birth) >= {
        "residence",
        "child.date_of_birth",
        "mother.personal_id",
        "requester.personal_id",
        "chain_opt_in",
    }


def test_rules_run_even_when_optional_sections_are_broken(birth: dict[str, Any]) -> None:
    birth["father"]["full_name"] = "Nguyễn 123"
    del birth["mother"]
    # The broken father is not mistaken for a missing one.
    assert paths_of(birth) == {"father.full_name"}


def test_the_child_must_be_under_six(birth: dict[str, Any]) -> None:
    birth["received_at"] = "2032-11-09T09:00:00+07:00"  # the day before the 6th birthday
    assert parse_dossier(birth).late_filing
    birth["received_at"] = "2032-11-10T09:00:00+07:00"
    problems = problems_of(birth)
    assert [p.path for p in problems] == ["child.date_of_birth"]
    assert "under 6" in problems[0].message


def test_dates_are_compared_in_vietnam_time(birth: dict[str, Any]) -> None:
    birth["child"]["date_of_birth"] = "2026-11-20"
    birth["medical_birth_certificate"]["issued_on"] = "2026-11-20"
    birth["received_at"] = "2026-11-19T18:00:00+00:00"  # 01:00 on the 20th in Vietnam
    assert parse_dossier(birth).received_at.tzinfo is not None
    birth["received_at"] = "2026-11-19T16:00:00+00:00"  # 23:00 on the 19th in Vietnam
    assert paths_of(birth) == {"child.date_of_birth", "medical_birth_certificate.issued_on"}


def test_naive_datetimes_are_rejected_with_a_hint(death: dict[str, Any]) -> None:
    death["death"]["occurred_at"] = "2026-11-14T05:30:00"
    [problem] = problems_of(death)
    assert problem.path == "death.occurred_at"
    assert "+07:00" in problem.message


def test_a_death_in_the_future_is_rejected(death: dict[str, Any]) -> None:
    death["death"]["occurred_at"] = "2026-11-18T11:00:00+07:00"  # an hour after reception
    # ... which also makes the death notice older than the death.
    assert paths_of(death) == {"death.occurred_at", "death_notice.issued_on"}


def test_mother_must_be_female_coded_and_father_male_coded(birth: dict[str, Any]) -> None:
    birth["mother"]["personal_id"], birth["father"]["personal_id"] = (
        birth["father"]["personal_id"],
        birth["mother"]["personal_id"],
    )
    assert {"mother.personal_id", "father.personal_id"} <= paths_of(birth)


def test_deceased_id_must_match_sex(death: dict[str, Any]) -> None:
    death["deceased"]["sex"] = "female"
    problems = problems_of(death)
    assert [p.path for p in problems] == ["deceased.personal_id"]
    assert death["deceased"]["personal_id"] not in problems[0].message


def test_a_parent_may_give_only_a_year_of_birth(birth: dict[str, Any]) -> None:
    father = birth["father"]
    father["year_of_birth"] = int(father.pop("date_of_birth")[:4])
    parse_dossier(birth)
    father["date_of_birth"] = "1991-08-03"
    assert paths_of(birth) == {"father.year_of_birth"}
    del father["date_of_birth"], father["year_of_birth"]
    assert paths_of(birth) == {"father.date_of_birth"}


def test_a_parent_born_after_the_child_is_rejected(birth: dict[str, Any]) -> None:
    birth["mother"]["date_of_birth"] = "2026-11-11"
    birth["mother"].pop("personal_id")
    assert paths_of(birth) == {"mother.date_of_birth"}


def test_one_parent_is_enough(birth: dict[str, Any]) -> None:
    del birth["father"]
    assert parse_dossier(birth).father is None  # type: ignore[union-attr]


def test_household_head_refusal_is_valid_and_left_to_the_police(birth: dict[str, Any]) -> None:
    birth["residence"]["household_head_consent"] = False
    parse_dossier(birth)


# --- names and text


def test_names_are_normalised_to_nfc(birth: dict[str, Any]) -> None:
    composed = "Nguyễn Thị Ánh Tuyết"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    birth["child"]["full_name"] = f"  {decomposed.replace(' ', '  ')} "
    birth["child"]["place_of_birth"] = unicodedata.normalize("NFD", "Bệnh viện Đa khoa")
    dossier = parse_dossier(birth)
    assert isinstance(dossier, BirthDossier)
    assert dossier.child.full_name == composed
    assert dossier.child.place_of_birth == "Bệnh viện Đa khoa"


@pytest.mark.parametrize("name", ["H'Hen Niê", "Nông Thị Mỷ", "Ksor Y-Ban", "Đặng Thị Ngọc Hà"])
def test_minority_and_hyphenated_names_are_accepted(birth: dict[str, Any], name: str) -> None:
    birth["child"]["full_name"] = name
    parse_dossier(birth)


def test_blank_strings_are_rejected(birth: dict[str, Any]) -> None:
    birth["child"]["place_of_birth"] = "   "
    [problem] = problems_of(birth)
    assert (problem.path, problem.message) == ("child.place_of_birth", "must not be empty")


# --- DossierInvalid carries what the pipeline stores


def test_invalid_dossier_carries_reference_and_chain(birth: dict[str, Any]) -> None:
    birth["chain_opt_in"] = False
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(birth)
    assert caught.value.reference == "HT-2026-000123"
    assert caught.value.chain is Chain.BIRTH


@pytest.mark.parametrize("reference", [None, 42, "001094123456", ""])
def test_a_missing_or_malformed_reference_is_not_carried(
    birth: dict[str, Any], reference: object
) -> None:
    birth["reference"] = reference
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(birth)
    assert caught.value.reference is None
    assert [p.path for p in caught.value.problems] == ["reference"]


@pytest.mark.parametrize("chain", [None, "marriage", ["birth"]])
def test_an_unknown_chain_is_reported_alone(birth: dict[str, Any], chain: object) -> None:
    birth["chain"] = chain
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(birth)
    assert caught.value.chain is None
    assert [p.path for p in caught.value.problems] == ["chain"]
    assert "'birth' or 'death'" in caught.value.problems[0].message


def test_problem_messages_never_show_a_whole_id(birth: dict[str, Any]) -> None:
    data = copy.deepcopy(birth)
    data["father"]["personal_id"] = birth["mother"]["personal_id"]
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(data)
    assert birth["mother"]["personal_id"] not in str(caught.value)


# --- files


def test_load_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DossierFileError, match="no such file"):
        load_dossier_file(tmp_path / "nope.json")


def test_load_reports_bad_json_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"chain": "birth",\n  "reference": }', encoding="utf-8")
    with pytest.raises(DossierFileError, match=r"not valid JSON \(line 2, column 16"):
        load_dossier_file(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"[1, 2]", "one JSON object, not list"), (b"\xff\xfe{}", "not UTF-8")],
)
def test_load_reports_files_that_are_not_a_json_object(
    tmp_path: Path, content: bytes, match: str
) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(DossierFileError, match=match):
        load_dossier_file(path)


def test_load_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text('{"chain": "birth"}', encoding="utf-8-sig")
    assert load_dossier_file(path) == {"chain": "birth"}


def test_datetimes_keep_their_offset(death: dict[str, Any]) -> None:
    dossier = parse_dossier(death)
    assert dossier.received_at.utcoffset() == timezone(timedelta(hours=7)).utcoffset(None)


# --- received_at against the clock

RECEIVED = datetime(2026, 11, 20, 9, 15, tzinfo=timezone(timedelta(hours=7)))  # birth-valid


def test_a_received_at_in_the_future_is_a_problem(birth: dict[str, Any]) -> None:
    birth["received_at"] = "2027-12-01T09:00:00+07:00"
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(birth, now=RECEIVED)
    [problem] = caught.value.problems
    assert problem.path == "received_at"
    assert problem.message.startswith("2027-12-01T09:00:00+07:00 is in the future")
    assert "it is now 2026-11-20T09:15+07:00" in problem.message
    assert "+07:00 for Vietnam" in problem.message


def test_a_few_minutes_of_clock_skew_are_tolerated(birth: dict[str, Any]) -> None:
    assert parse_dossier(birth, now=RECEIVED - timedelta(minutes=5)).reference
    assert parse_dossier(birth, now=RECEIVED.astimezone(UTC)).reference
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(birth, now=RECEIVED - timedelta(minutes=5, seconds=1))
    assert [p.path for p in caught.value.problems] == ["received_at"]


def test_a_future_received_at_is_reported_with_the_other_problems(
    death: dict[str, Any],
) -> None:
    death["received_at"] = "2027-12-01T09:00:00+07:00"
    death["scope"] = 7
    with pytest.raises(DossierInvalid) as caught:
        parse_dossier(death, now=RECEIVED)
    assert {p.path for p in caught.value.problems} == {"received_at", "scope"}


def test_without_now_received_at_is_not_compared_with_the_clock(birth: dict[str, Any]) -> None:
    """Stored payloads are re-read later without a clock; that must keep working."""
    birth["received_at"] = "2027-12-01T09:00:00+07:00"
    assert parse_dossier(birth).received_at.year == 2027
    assert BirthDossier.model_validate(birth).received_at.year == 2027


def test_now_must_be_timezone_aware(birth: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_dossier(birth, now=datetime(2026, 11, 20, 9, 15))
