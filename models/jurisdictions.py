"""Administrative units: the current map from ``vietnam-provinces``, the old one for old records.

Since 1 July 2025 (Resolution 202/2025/QH15 and the National Assembly Standing Committee's
resolutions on communes) Vietnam has 34 provinces and communes directly under them, with
new commune codes. The ``vietnam-provinces`` package (pure data, General Statistics Office
codes, pinned in pyproject.toml) carries that current map; a new release of it is how the
map is updated. What it does not carry is kept here:

- the 63 provinces before the reorganisation (:data:`PROVINCE_CODES_BEFORE_2025`, in
  ``models/identifiers.py``): records received before 1 July 2025 and personal ID numbers
  keep the codes valid when they were issued;
- which current province succeeded each old one (:data:`PROVINCE_SUCCESSORS`), so that
  reports can group old units under their successors. Communes are not mapped: the package
  has no old-to-new commune table.

Dossiers received on or after :data:`REORGANISATION_DATE` must name a current province and
a current commune of it (:func:`jurisdiction_problems`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Final

from vietnam_provinces import Province, ProvinceCode, Ward, WardCode

from lienthong.models.identifiers import PROVINCE_CODES

REORGANISATION_DATE: Final = date(2025, 7, 1)
PROVINCE_CODES_BEFORE_2025: Final = PROVINCE_CODES
COMMUNE_CODE_LENGTH: Final = 5

# Resolution 202/2025/QH15 (in force 12/6/2025, units from 1/7/2025): each old province
# code -> the current province that took it over. A current province keeps the code of
# one of the provinces merged into it. tests/unit/test_jurisdictions.py checks that every
# old code is mapped and every successor is a current province of the package.
PROVINCE_SUCCESSORS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "001": "001",
        "002": "008",  # Hà Giang -> Tuyên Quang
        "004": "004",
        "006": "019",  # Bắc Kạn -> Thái Nguyên
        "008": "008",
        "010": "015",  # Lào Cai + Yên Bái -> Lào Cai (015)
        "011": "011",
        "012": "012",
        "014": "014",
        "015": "015",
        "017": "025",  # Hòa Bình -> Phú Thọ
        "019": "019",
        "020": "020",
        "022": "022",
        "024": "024",  # Bắc Giang + Bắc Ninh -> Bắc Ninh (024)
        "025": "025",
        "026": "025",  # Vĩnh Phúc -> Phú Thọ
        "027": "024",
        "030": "031",  # Hải Dương -> Hải Phòng
        "031": "031",
        "033": "033",
        "034": "033",  # Thái Bình -> Hưng Yên
        "035": "037",  # Hà Nam -> Ninh Bình
        "036": "037",  # Nam Định -> Ninh Bình
        "037": "037",
        "038": "038",
        "040": "040",
        "042": "042",
        "044": "044",  # Quảng Bình + Quảng Trị -> Quảng Trị (044)
        "045": "044",
        "046": "046",
        "048": "048",
        "049": "048",  # Quảng Nam -> Đà Nẵng
        "051": "051",
        "052": "052",  # Bình Định + Gia Lai -> Gia Lai (052)
        "054": "066",  # Phú Yên -> Đắk Lắk
        "056": "056",
        "058": "056",  # Ninh Thuận -> Khánh Hòa
        "060": "068",  # Bình Thuận -> Lâm Đồng
        "062": "051",  # Kon Tum -> Quảng Ngãi
        "064": "052",
        "066": "066",
        "067": "068",  # Đắk Nông -> Lâm Đồng
        "068": "068",
        "070": "075",  # Bình Phước -> Đồng Nai
        "072": "080",  # Tây Ninh + Long An -> Tây Ninh (080)
        "074": "079",  # Bình Dương -> TP. Hồ Chí Minh
        "075": "075",
        "077": "079",  # Bà Rịa - Vũng Tàu -> TP. Hồ Chí Minh
        "079": "079",
        "080": "080",
        "082": "082",  # Tiền Giang + Đồng Tháp -> Đồng Tháp (082)
        "083": "086",  # Bến Tre -> Vĩnh Long
        "084": "086",  # Trà Vinh -> Vĩnh Long
        "086": "086",
        "087": "082",
        "089": "091",  # An Giang + Kiên Giang -> An Giang (091)
        "091": "091",
        "092": "092",
        "093": "092",  # Hậu Giang -> Cần Thơ
        "094": "092",  # Sóc Trăng -> Cần Thơ
        "095": "096",  # Bạc Liêu -> Cà Mau
        "096": "096",
    }
)


def _as_number(code: str, length: int) -> int | None:
    """A code written with exactly ``length`` ASCII digits as a number, else ``None``."""
    if len(code) != length or not (code.isascii() and code.isdigit()):
        return None
    return int(code)


def current_province(code: str) -> Province | None:
    """The current province with 3-digit ``code`` ("056"), or ``None``."""
    number = _as_number(code, 3)
    try:
        return None if number is None else Province.from_code(ProvinceCode(number))
    except ValueError:
        return None


def current_commune(code: str) -> Ward | None:
    """The current commune (xã, phường, đặc khu) with 5-digit ``code`` ("22738"), or ``None``."""
    number = _as_number(code, COMMUNE_CODE_LENGTH)
    try:
        return None if number is None else Ward.from_code(WardCode(number))
    except ValueError:
        return None


def successor_province(code: str) -> str:
    """The current province code that groups ``code`` (old or current) in reports."""
    try:
        return PROVINCE_SUCCESSORS[code]
    except KeyError:
        raise ValueError(f"{code!r} is not a province code, old or current") from None


def grouped_provinces(code: str) -> tuple[str, ...]:
    """The province codes a report on ``code`` counts: a current province with the old ones
    it took over (``079``: 074, 077, 079); any other code alone."""
    merged = tuple(sorted(old for old, new in PROVINCE_SUCCESSORS.items() if new == code))
    return merged or (code,)


def jurisdiction_problems(
    province_code: str, commune_code: str, received_on: date
) -> list[tuple[str, str]]:
    """Why a dossier received on ``received_on`` may not name these units, as (field,
    reason) pairs; empty when it may.

    From 1 July 2025 the units must be current; before, the province must be one of the 63
    (old communes cannot be checked: no data package carries them).
    """
    if received_on < REORGANISATION_DATE:
        if province_code not in PROVINCE_CODES_BEFORE_2025:
            return [("province_code", f"{province_code} was not a province on {received_on}")]
        return []
    province = current_province(province_code)
    if province is None:
        successor = PROVINCE_SUCCESSORS.get(province_code)
        merged = (
            f"; it was merged into {successor} ({current_province(successor)}) on 1 July 2025"
            if successor is not None and successor != province_code
            else ""
        )
        return [
            (
                "province_code",
                f"{province_code} is not a current province{merged}: dossiers received since "
                "1 July 2025 name current units",
            )
        ]
    commune = current_commune(commune_code)
    if commune is None:
        return [
            (
                "commune_code",
                f"{commune_code} is not a current commune code (5 digits, e.g. 22738 for "
                "Phường Đô Vinh): dossiers received since 1 July 2025 name current units",
            )
        ]
    if commune.province_code != province.code:
        return [
            (
                "commune_code",
                f"{commune_code} ({commune.name}) is in province "
                f"{int(commune.province_code):03d}, not {province_code} ({province.name})",
            )
        ]
    return []
