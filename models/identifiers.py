"""Personal identification numbers (số định danh cá nhân, printed on the CCCD card).

Layout (Decree 137/2015 art. 13, Circular 07/2016/TT-BCA art. 7, kept by Circular
59/2021/TT-BCA): 12 digits ``PPPCYYRRRRRR`` where

- ``PPP`` is the code of the province where the birth was registered (:data:`PROVINCE_CODES`,
  the 63 provinces: a number keeps the code valid when it was issued, also after the 2025
  reorganisation), or for a birth registered abroad the country's code
  (:data:`COUNTRY_CODES`);
- ``C`` encodes century and sex: 1900s male 0 / female 1, 2000s 2/3, 2100s 4/5, 2200s 6/7,
  2300s 8/9;
- ``YY`` are the last two digits of the birth year;
- ``RRRRRR`` are random.

There is no check digit, so a well-formed number can only be checked for a known province and
for consistency with the person's sex and birth year.

Error messages never repeat the whole number: they end up in stored reasons and logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

PERSONAL_ID_LENGTH: Final = 12
OLD_ID_CARD_LENGTH: Final = 9  # chứng minh nhân dân (CMND), replaced by the 12-digit number
FIRST_CENTURY: Final = 1900
LAST_CENTURY: Final = 2300
SERIAL_LIMIT: Final = 1_000_000

# Appendix 1 of Circular 07/2016/TT-BCA (unchanged by Circular 59/2021/TT-BCA): code of the
# province or centrally-run city where the citizen's birth was registered. The 2025 merger
# into 34 provinces kept existing numbers; each merged province kept one of these codes.
PROVINCE_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "001": "Hà Nội",
        "002": "Hà Giang",
        "004": "Cao Bằng",
        "006": "Bắc Kạn",
        "008": "Tuyên Quang",
        "010": "Lào Cai",
        "011": "Điện Biên",
        "012": "Lai Châu",
        "014": "Sơn La",
        "015": "Yên Bái",
        "017": "Hòa Bình",
        "019": "Thái Nguyên",
        "020": "Lạng Sơn",
        "022": "Quảng Ninh",
        "024": "Bắc Giang",
        "025": "Phú Thọ",
        "026": "Vĩnh Phúc",
        "027": "Bắc Ninh",
        "030": "Hải Dương",
        "031": "Hải Phòng",
        "033": "Hưng Yên",
        "034": "Thái Bình",
        "035": "Hà Nam",
        "036": "Nam Định",
        "037": "Ninh Bình",
        "038": "Thanh Hóa",
        "040": "Nghệ An",
        "042": "Hà Tĩnh",
        "044": "Quảng Bình",
        "045": "Quảng Trị",
        "046": "Thừa Thiên Huế",
        "048": "Đà Nẵng",
        "049": "Quảng Nam",
        "051": "Quảng Ngãi",
        "052": "Bình Định",
        "054": "Phú Yên",
        "056": "Khánh Hòa",
        "058": "Ninh Thuận",
        "060": "Bình Thuận",
        "062": "Kon Tum",
        "064": "Gia Lai",
        "066": "Đắk Lắk",
        "067": "Đắk Nông",
        "068": "Lâm Đồng",
        "070": "Bình Phước",
        "072": "Tây Ninh",
        "074": "Bình Dương",
        "075": "Đồng Nai",
        "077": "Bà Rịa - Vũng Tàu",
        "079": "TP. Hồ Chí Minh",
        "080": "Long An",
        "082": "Tiền Giang",
        "083": "Bến Tre",
        "084": "Trà Vinh",
        "086": "Vĩnh Long",
        "087": "Đồng Tháp",
        "089": "An Giang",
        "091": "Kiên Giang",
        "092": "Cần Thơ",
        "093": "Hậu Giang",
        "094": "Sóc Trăng",
        "095": "Bạc Liêu",
        "096": "Cà Mau",
    }
)


# Appendix 2 of Circular 07/2016/TT-BCA numbers the countries where a citizen's birth may be
# registered abroad from 101 to 295. Assumption: the range is read from public decoders of
# the appendix, not from the project's sources (shared/DOMAIN.md says only "country codes
# for births registered abroad"); the codes do not overlap the provinces' 001-096.
COUNTRY_CODES: Final = range(101, 296)


def is_country_code(code: str) -> bool:
    """Whether 3-digit ``code`` is the code of a country of birth registration abroad."""
    return len(code) == 3 and code.isascii() and code.isdigit() and int(code) in COUNTRY_CODES


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"


class InvalidPersonalId(ValueError):
    """A personal ID number that is malformed or contradicts what else we know of the person.

    ``str(exc)`` is a reason an operator can act on; it never contains the whole number.
    """


def is_digits(value: str) -> bool:
    """True for a non-empty run of ASCII digits (``str.isdigit`` also accepts ``²`` or ``٣``)."""
    return value.isascii() and value.isdigit()


@dataclass(frozen=True)
class PersonalId:
    """A parsed personal ID number; ``value`` stays out of ``repr`` so it cannot leak into logs."""

    value: str = field(repr=False)
    province_code: str  # or the country's code for a birth registered abroad
    sex: Sex
    century: int  # 1900, 2000, ... 2300
    year_two_digits: int

    @property
    def registered_abroad(self) -> bool:
        return self.province_code not in PROVINCE_CODES

    @property
    def province_name(self) -> str:
        if self.registered_abroad:
            return f"abroad (country code {self.province_code})"
        return PROVINCE_CODES[self.province_code]

    @property
    def birth_year(self) -> int:
        return self.century + self.year_two_digits


def century_sex_digit(sex: Sex, birth_year: int) -> int:
    """Digit 4 of the number for a person of this sex born in this year."""
    if not FIRST_CENTURY <= birth_year < LAST_CENTURY + 100:
        raise InvalidPersonalId(
            f"birth year {birth_year} is outside the years personal ID numbers can encode "
            f"({FIRST_CENTURY}-{LAST_CENTURY + 99})"
        )
    return 2 * (birth_year // 100 - FIRST_CENTURY // 100) + (sex is Sex.FEMALE)


def parse_personal_id(value: str) -> PersonalId:
    """Parse a 12-digit personal ID number, or raise :class:`InvalidPersonalId` saying why."""
    if not is_digits(value):
        raise InvalidPersonalId("must contain only the digits 0-9")
    if len(value) == OLD_ID_CARD_LENGTH:
        raise InvalidPersonalId(
            "has 9 digits, like an old identity card (CMND) number; "
            "the 12-digit personal identification number is required"
        )
    if len(value) != PERSONAL_ID_LENGTH:
        raise InvalidPersonalId(f"must have 12 digits, not {len(value)}")
    province = value[:3]
    if province not in PROVINCE_CODES and not is_country_code(province):
        raise InvalidPersonalId(
            f"starts with {province}, which is not a province code nor a country code "
            "(Circular 07/2016/TT-BCA: 001 Hà Nội to 096 Cà Mau; 101-295 for a birth "
            "registered abroad)"
        )
    code = int(value[3])
    return PersonalId(
        value=value,
        province_code=province,
        sex=Sex.FEMALE if code % 2 else Sex.MALE,
        century=FIRST_CENTURY + 100 * (code // 2),
        year_two_digits=int(value[4:6]),
    )


def _describe(sex: Sex, century: int) -> str:
    person = "a woman" if sex is Sex.FEMALE else "a man"
    return f"{person} born in the {century}s"


def check_consistent(pid: PersonalId, sex: Sex | None, birth_year: int | None) -> None:
    """Raise :class:`InvalidPersonalId` if ``pid`` contradicts the person's sex or birth year.

    Either fact may be unknown (``None``); only what is known is checked.
    """
    if birth_year is not None:
        expected_sex = sex or pid.sex
        expected = century_sex_digit(expected_sex, birth_year)
        if int(pid.value[3]) != expected:
            raise InvalidPersonalId(
                f"digit 4 is {pid.value[3]} (meaning {_describe(pid.sex, pid.century)}) but "
                f"the person is {_describe(expected_sex, birth_year // 100 * 100)}: "
                f"digit 4 should be {expected}"
            )
        if pid.year_two_digits != birth_year % 100:
            raise InvalidPersonalId(
                f"digits 5-6 are {pid.value[4:6]} but the birth year is {birth_year}: "
                f"they should be {birth_year % 100:02d}"
            )
    elif sex is not None and sex is not pid.sex:
        raise InvalidPersonalId(
            f"digit 4 is {pid.value[3]} (meaning {_describe(pid.sex, pid.century)}) "
            f"but the person is {sex.value}"
        )


def check_born_by(pid: PersonalId, year: int) -> None:
    """Raise :class:`InvalidPersonalId` if ``pid`` encodes a birth year after ``year``.

    Digit 4 reaches the 2300s, so a slip of one digit (8 for 0) gives a well-formed number
    of someone not yet born: the number is wrong whoever holds it.
    """
    if pid.birth_year > year:
        raise InvalidPersonalId(
            f"digits 4-6 are {pid.value[3:6]}, meaning born in {pid.birth_year}, after {year}: "
            f"digit 4 gives the century (0 or 1 for the 1900s, 2 or 3 for the 2000s)"
        )


def make_personal_id(province_code: str, sex: Sex, birth_year: int, serial: int) -> str:
    """Build the number the population database would issue (used by the agency simulator)."""
    if province_code not in PROVINCE_CODES:
        raise ValueError(f"{province_code!r} is not a province code")
    if not 0 <= serial < SERIAL_LIMIT:
        raise ValueError(f"serial must be between 0 and {SERIAL_LIMIT - 1}, not {serial}")
    digit = century_sex_digit(sex, birth_year)
    return f"{province_code}{digit}{birth_year % 100:02d}{serial:06d}"
