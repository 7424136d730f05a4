"""The potential-duplicate rules (models/duplicates.py): normalising names and numbers, the
match keys of each chain, and the decision on a hold. Pure: no database."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.models.dossier import BirthDossier, DeathDossier
from lienthong.models.duplicates import (
    CannotResolve,
    Decision,
    DuplicateHold,
    Match,
    MatchRule,
    describe,
    fold,
    fold_number,
    match_keys,
)
from lienthong.models.validation import parse_dossier
from tests.helpers import example, example_with

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=HCM)

# The Vietnamese alphabet, every vowel with each of the five tone marks, both cases.
_BASE = "abcdefghijklmnopqrstuvwxyzđ" + "ăâêôơư"
_TONES = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
_VOWELS = "aăâeêioôơuưy"
VIETNAMESE_LETTERS = sorted(
    {unicodedata.normalize("NFC", v + t) for v in _VOWELS for t in _TONES}
    | set(_BASE)
    | {c.upper() for c in _BASE}
    | {unicodedata.normalize("NFC", v + t).upper() for v in _VOWELS for t in _TONES}
)
words = st.text(st.sampled_from(VIETNAMESE_LETTERS), min_size=1, max_size=8)
names = st.lists(words, min_size=1, max_size=5)
spacing = st.text(st.sampled_from(" \t\u00a0-'."), min_size=1, max_size=3)


def _strip_marks(text: str) -> str:
    """A plain ASCII spelling, the way an operator without a Vietnamese keyboard types it."""
    bare = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return bare.replace("đ", "d").replace("Đ", "D")


@given(names)
def test_nfc_and_nfd_spellings_fold_alike(parts: list[str]) -> None:
    name = " ".join(parts)
    assert fold(unicodedata.normalize("NFC", name)) == fold(unicodedata.normalize("NFD", name))


@given(names)
def test_case_marks_and_d_do_not_matter(parts: list[str]) -> None:
    name = " ".join(parts)
    assert fold(name) == fold(name.upper()) == fold(name.lower()) == fold(_strip_marks(name))


@given(names, st.lists(spacing, min_size=6, max_size=6), spacing, spacing)
def test_spacing_and_punctuation_between_words_do_not_matter(
    parts: list[str], between: list[str], before: str, after: str
) -> None:
    spaced = before + "".join(
        p + (between[i] if i < len(parts) - 1 else "") for i, p in enumerate(parts)
    )
    assert fold(spaced + after) == fold(" ".join(parts))


@given(st.text())
def test_folding_is_idempotent_on_any_text(text: str) -> None:
    assert fold(fold(text)) == fold(text)
    assert fold_number(fold_number(text)) == fold_number(text)


@given(st.text())
def test_a_folded_text_is_plain_lowercase_words(text: str) -> None:
    folded = fold(text)
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789 " for c in folded)
    assert folded == " ".join(folded.split())


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Nguyễn Ngọc Bảo An", "NGUYEN NGOC BAO AN"),
        ("Đặng Thị Thu-Hà", "dang thi thu ha"),
        ("Ðặng Văn Đức", "Đặng Văn Đức"),  # Icelandic eth typed for Đ
        ("  Lê   Văn  Tám ", "Lê Văn Tám"),
    ],
)
def test_names_that_are_one_name(one: str, other: str) -> None:
    assert fold(one) == fold(other)


def test_different_names_stay_different() -> None:
    assert fold("Nguyễn Minh Anh") != fold("Nguyễn Minh Khoa")
    assert fold("Lê Văn An") != fold("Lê Văn Anh")


@pytest.mark.parametrize(
    "typed", ["GCS-2026-004512", "gcs 2026 004512", "GCS2026004512", "ＧＣＳ２０２６００４５１２"]
)
def test_certificate_numbers_ignore_case_spacing_punctuation_and_width(typed: str) -> None:
    assert fold_number(typed) == "gcs2026004512"


def _birth(**changes: Any) -> BirthDossier:
    dossier = parse_dossier(example_with("birth-valid", **changes), now=NOW)
    assert isinstance(dossier, BirthDossier)
    return dossier


def _death(**changes: Any) -> DeathDossier:
    dossier = parse_dossier(example_with("death-valid-insured", **changes), now=NOW)
    assert isinstance(dossier, DeathDossier)
    return dossier


def _by_rule(dossier: BirthDossier | DeathDossier) -> dict[MatchRule, str]:
    return {k.rule: k.digest for k in match_keys(dossier)}


def test_a_birth_has_a_certificate_key_and_a_mother_key() -> None:
    assert set(_by_rule(_birth())) == {MatchRule.BIRTH_CERTIFICATE, MatchRule.MOTHER_BIRTH_NAME}


def test_the_same_child_typed_differently_has_the_same_mother_key() -> None:
    plain = _by_rule(_birth(child__full_name="NGUYEN NGOC BAO AN"))
    nfd = _by_rule(_birth(child__full_name=unicodedata.normalize("NFD", "Nguyễn  Ngọc Bảo An")))
    assert plain[MatchRule.MOTHER_BIRTH_NAME] == nfd[MatchRule.MOTHER_BIRTH_NAME]
    assert plain[MatchRule.MOTHER_BIRTH_NAME] == _by_rule(_birth())[MatchRule.MOTHER_BIRTH_NAME]


def test_a_twin_has_another_mother_key() -> None:
    first = _by_rule(_birth())
    twin = _by_rule(
        _birth(
            child__full_name="Nguyễn Ngọc Bảo Châu",
            medical_birth_certificate__number="GCS-2026-004513",
        )
    )
    assert first[MatchRule.MOTHER_BIRTH_NAME] != twin[MatchRule.MOTHER_BIRTH_NAME]
    assert first[MatchRule.BIRTH_CERTIFICATE] != twin[MatchRule.BIRTH_CERTIFICATE]


def test_another_date_of_birth_is_another_child() -> None:
    other = _by_rule(_birth(child__date_of_birth="2026-11-09"))
    assert other[MatchRule.MOTHER_BIRTH_NAME] != _by_rule(_birth())[MatchRule.MOTHER_BIRTH_NAME]


def test_a_certificate_number_of_punctuation_only_makes_no_key() -> None:
    assert MatchRule.BIRTH_CERTIFICATE not in _by_rule(
        _birth(medical_birth_certificate__number="---")
    )


def test_a_death_has_the_deceased_and_the_notice_keys() -> None:
    keys = _by_rule(_death())
    assert set(keys) == {MatchRule.DECEASED_ID, MatchRule.DEATH_NOTICE}
    retyped = _by_rule(
        _death(
            death_notice__number=" "
            + example("death-valid-insured")["death_notice"]["number"].lower()
        )
    )
    assert retyped[MatchRule.DEATH_NOTICE] == keys[MatchRule.DEATH_NOTICE]


def test_keys_carry_no_personal_data_in_clear() -> None:
    dossier = _birth()
    text = repr(match_keys(dossier))
    assert dossier.mother is not None
    assert str(dossier.mother.personal_id) not in text
    assert "GCS" not in text
    assert "Bảo" not in text


def _hold() -> DuplicateHold:
    return DuplicateHold(
        "HT-2026-000200",
        (Match("HT-2026-000123", MatchRule.BIRTH_CERTIFICATE),),
        held_at=NOW,
    )


def test_a_merge_goes_into_a_dossier_it_was_held_for() -> None:
    hold = _hold()
    with pytest.raises(CannotResolve, match="only into a dossier it was held for"):
        hold.decide(Decision.MERGE, by="op", reason="same", now=NOW, into="HT-2026-000999")
    with pytest.raises(CannotResolve, match="names the dossier"):
        hold.decide(Decision.MERGE, by="op", reason="same", now=NOW)
    assert hold.decision is None
    hold.decide(Decision.MERGE, by="op", reason="same child", now=NOW, into="HT-2026-000123")
    decided: tuple[Decision | None, str | None, str | None] = (
        hold.decision,
        hold.merged_into,
        hold.reason,
    )
    assert decided == (Decision.MERGE, "HT-2026-000123", "same child")


def test_a_decision_needs_a_reason_is_taken_once_and_only_merges_name_a_dossier() -> None:
    hold = _hold()
    with pytest.raises(CannotResolve, match="reason"):
        hold.decide(Decision.DISTINCT, by="op", reason="  ", now=NOW)
    with pytest.raises(CannotResolve, match="only a merge"):
        hold.decide(Decision.REJECT, by="op", reason="x", now=NOW, into="HT-2026-000123")
    hold.decide(Decision.DISTINCT, by="op", reason="twins", now=NOW)
    with pytest.raises(CannotResolve, match="decided already"):
        hold.decide(Decision.REJECT, by="op", reason="changed my mind", now=NOW)
    assert hold.decision == Decision.DISTINCT


def test_describe_names_references_and_rules_only() -> None:
    text = describe(
        [
            Match("HT-2026-000123", MatchRule.MOTHER_BIRTH_NAME),
            Match("HT-2026-000123", MatchRule.BIRTH_CERTIFICATE),
            Match("HT-2026-000007", MatchRule.BIRTH_CERTIFICATE),
        ]
    )
    assert text == (
        "potential duplicate of HT-2026-000007 (birth_certificate), "
        "HT-2026-000123 (birth_certificate, mother_birth_name)"
    )
