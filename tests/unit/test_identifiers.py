from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.models.identifiers import (
    PROVINCE_CODES,
    InvalidPersonalId,
    Sex,
    check_consistent,
    is_country_code,
    make_personal_id,
    parse_personal_id,
)

provinces = st.sampled_from(sorted(PROVINCE_CODES))
sexes = st.sampled_from(list(Sex))
birth_years = st.integers(min_value=1900, max_value=2399)
serials = st.integers(min_value=0, max_value=999_999)
unknown_provinces = (
    st.integers(0, 999)
    .map(lambda n: f"{n:03d}")
    .filter(lambda code: code not in PROVINCE_CODES and not is_country_code(code))
)


def test_province_list_is_the_63_province_list_of_circular_07_2016() -> None:
    assert len(PROVINCE_CODES) == 63
    assert all(len(code) == 3 and code.isdigit() for code in PROVINCE_CODES)
    assert PROVINCE_CODES["001"] == "Hà Nội"
    assert PROVINCE_CODES["031"] == "Hải Phòng"
    assert PROVINCE_CODES["048"] == "Đà Nẵng"
    assert PROVINCE_CODES["058"] == "Ninh Thuận"
    assert PROVINCE_CODES["079"] == "TP. Hồ Chí Minh"
    assert PROVINCE_CODES["091"] == "Kiên Giang"
    assert PROVINCE_CODES["096"] == "Cà Mau"
    # Codes are not contiguous: these were never assigned.
    assert {"003", "005", "097", "000"}.isdisjoint(PROVINCE_CODES)


@pytest.mark.parametrize(
    ("sex", "year", "digit"),
    [
        (Sex.MALE, 1990, "0"),
        (Sex.FEMALE, 1990, "1"),
        (Sex.MALE, 2026, "2"),
        (Sex.FEMALE, 2000, "3"),
        (Sex.MALE, 2100, "4"),
        (Sex.FEMALE, 2199, "5"),
        (Sex.MALE, 2250, "6"),
        (Sex.FEMALE, 2250, "7"),
        (Sex.MALE, 2301, "8"),
        (Sex.FEMALE, 2399, "9"),
    ],
)
def test_digit_four_encodes_century_and_sex(sex: Sex, year: int, digit: str) -> None:
    value = make_personal_id("058", sex, year, 42)
    assert value[3] == digit
    assert value[4:6] == f"{year % 100:02d}"
    assert value[6:] == "000042"


@given(provinces, sexes, birth_years, serials)
def test_make_then_parse_round_trips(province: str, sex: Sex, year: int, serial: int) -> None:
    value = make_personal_id(province, sex, year, serial)
    pid = parse_personal_id(value)
    assert len(value) == 12
    assert (pid.province_code, pid.sex, pid.birth_year) == (province, sex, year)
    assert pid.century == year // 100 * 100
    assert pid.year_two_digits == year % 100
    assert pid.province_name == PROVINCE_CODES[province]
    check_consistent(pid, sex, year)  # must not raise


@given(provinces, sexes, birth_years, serials, st.integers(0, 9))
def test_every_other_digit_four_is_rejected(
    province: str, sex: Sex, year: int, serial: int, digit: int
) -> None:
    value = make_personal_id(province, sex, year, serial)
    if int(value[3]) == digit:
        return
    tampered = parse_personal_id(value[:3] + str(digit) + value[4:])
    with pytest.raises(InvalidPersonalId, match="digit 4"):
        check_consistent(tampered, sex, year)


@given(provinces, sexes, birth_years, serials, st.integers(0, 99))
def test_wrong_year_digits_are_rejected(
    province: str, sex: Sex, year: int, serial: int, two_digits: int
) -> None:
    value = make_personal_id(province, sex, year, serial)
    if two_digits == year % 100:
        return
    tampered = parse_personal_id(f"{value[:4]}{two_digits:02d}{value[6:]}")
    with pytest.raises(InvalidPersonalId, match="digits 5-6"):
        check_consistent(tampered, sex, year)


@given(provinces, birth_years, serials)
def test_sex_alone_is_checked_when_the_birth_year_is_unknown(
    province: str, year: int, serial: int
) -> None:
    pid = parse_personal_id(make_personal_id(province, Sex.MALE, year, serial))
    check_consistent(pid, Sex.MALE, None)
    check_consistent(pid, None, None)
    with pytest.raises(InvalidPersonalId, match="but the person is female"):
        check_consistent(pid, Sex.FEMALE, None)


@given(unknown_provinces, st.text("0123456789", min_size=9, max_size=9))
def test_unknown_province_codes_are_rejected(code: str, rest: str) -> None:
    with pytest.raises(InvalidPersonalId, match=f"starts with {code}, which is not a province"):
        parse_personal_id(code + rest)


@pytest.mark.parametrize("country", ["101", "175", "295"])
def test_births_registered_abroad_carry_a_country_code(country: str) -> None:
    pid = parse_personal_id(f"{country}3{26:02d}000123")
    assert pid.registered_abroad
    assert pid.province_name == f"abroad (country code {country})"
    assert (pid.sex, pid.birth_year) == (Sex.FEMALE, 2026)


@pytest.mark.parametrize("code", ["097", "100", "296", "999"])
def test_codes_neither_province_nor_country_are_refused(code: str) -> None:
    with pytest.raises(InvalidPersonalId, match="nor a country code"):
        parse_personal_id(f"{code}091203118")


@given(st.text("0123456789", max_size=20).filter(lambda s: len(s) not in (9, 12)))
def test_wrong_lengths_are_rejected(value: str) -> None:
    with pytest.raises(InvalidPersonalId):
        parse_personal_id(value)


@pytest.mark.parametrize(
    "value",
    ["05809412345a", "058 94123456", "０５８０９４１２３４５６", "058094١٢٣٤٥٦", ""],
)
def test_non_ascii_digits_are_rejected(value: str) -> None:
    with pytest.raises(InvalidPersonalId, match="only the digits"):
        parse_personal_id(value)


def test_an_old_nine_digit_card_number_gets_a_specific_reason() -> None:
    with pytest.raises(InvalidPersonalId, match="old identity card"):
        parse_personal_id("285104377")


def test_errors_and_repr_never_show_the_whole_number() -> None:
    value = make_personal_id("001", Sex.MALE, 1990, 123456)
    pid = parse_personal_id(value)
    assert value not in repr(pid)
    with pytest.raises(InvalidPersonalId) as caught:
        check_consistent(pid, Sex.FEMALE, 1990)
    assert value not in str(caught.value)


def test_invalid_personal_id_is_a_value_error() -> None:
    assert issubclass(InvalidPersonalId, ValueError)


@pytest.mark.parametrize(
    ("province", "year", "serial", "match"),
    [
        ("003", 2026, 1, "not a province code"),
        ("058", 1899, 1, "outside the years"),
        ("058", 2400, 1, "outside the years"),
        ("058", 2026, -1, "serial"),
        ("058", 2026, 1_000_000, "serial"),
    ],
)
def test_make_personal_id_rejects_what_cannot_be_encoded(
    province: str, year: int, serial: int, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        make_personal_id(province, Sex.FEMALE, year, serial)
