"""A dossier problem (models/validation.py) in Vietnamese, for the operator's desk.

The validation rules word their problems in English for maintainers and the API; the
operator reads them in Vietnamese next to the field. Each English wording the rules produce
has its Vietnamese here, fixed texts by equality and texts with values by pattern (the
values are carried over). A wording not listed (a new rule not yet translated) is shown in
Vietnamese words around the English text, never dropped: tests/unit/test_problem_wording.py
runs every invalid example through this table and fails on such a gap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from lienthong.models.dossier import DATE_MESSAGE, DATETIME_MESSAGE, NAIVE_MESSAGE

_FIXED: Mapping[str, str] = {
    "is required": "bắt buộc phải khai",
    "is not a known field (check its spelling)": "không phải là mục của hồ sơ",
    "must be text": "phải là chữ",
    "must not be empty": "không được để trống",
    "must be true or false": "phải chọn có hoặc không",
    "must be a whole number": "phải là số nguyên",
    DATE_MESSAGE: "phải là ngày có thật (ngày/tháng/năm)",
    DATETIME_MESSAGE: "phải là ngày và giờ có thật",
    NAIVE_MESSAGE: "phải ghi kèm múi giờ (+07:00 là giờ Việt Nam)",
    "has 9 digits, like an old identity card (CMND) number; the 12-digit personal "
    "identification number is required": (
        "có 9 chữ số, giống số chứng minh nhân dân cũ: cần số định danh cá nhân 12 chữ số"
    ),
    "must be valid Unicode text (it holds a lone surrogate)": "có ký tự không hợp lệ",
    "must be an object ({...})": "phải là một mục gồm các trường",
    "must contain only letters, spaces, apostrophes or hyphens": (
        "chỉ được gồm chữ cái, dấu cách, dấu nháy đơn hoặc gạch nối"
    ),
    "must contain only the digits 0-9": "chỉ được gồm các chữ số 0-9",
    "must not contain control characters (NUL, line breaks, tabs)": (
        "không được chứa ký tự điều khiển (xuống dòng, tab)"
    ),
    "must look like HT-2026-000123 (capital letters, year, sequence number of up to 8 digits) "
    "and contain no personal data": (
        "phải có dạng HT-2026-000123 (chữ in hoa, năm, số thứ tự tối đa 8 chữ số) và không "
        "chứa thông tin cá nhân"
    ),
    "is required (or year_of_birth if only that is known)": (
        "bắt buộc phải khai (hoặc chỉ năm sinh nếu chỉ biết năm)"
    ),
    "give either date_of_birth or year_of_birth, not both": (
        "chỉ khai ngày sinh hoặc năm sinh, không khai cả hai"
    ),
    "give the mother, the father or both: at least one parent is required": (
        "phải khai ít nhất thông tin của mẹ hoặc của cha"
    ),
    "the citizen has not opted in to the interconnected procedure (liên thông): confirm the "
    "citizen's choice (true) or file each procedure separately": (
        "công dân chưa đồng ý thực hiện liên thông: xác nhận lựa chọn của công dân, hoặc làm "
        "từng thủ tục riêng"
    ),
}

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(english), vietnamese)
    for english, vietnamese in (
        (
            r"(?P<v>\S+) is in the future: the dossier was received on (?P<d>\S+)",
            "{v} là ngày trong tương lai: hồ sơ được tiếp nhận ngày {d}",
        ),
        (
            r"(?P<v>\S+) is in the future \(it is now (?P<d>\S+)\): .*",
            "{v} là thời điểm trong tương lai (bây giờ là {d}): ghi đúng ngày giờ nhận hồ sơ",
        ),
        (
            r"(?P<v>\S+) is in the future: the dossier was received at (?P<d>\S+)",
            "{v} là thời điểm sau lúc tiếp nhận hồ sơ ({d})",
        ),
        (r"(?P<v>\d+) is in the future", "năm {v} chưa tới"),
        (r"must be before the child's \((?P<d>[^)]+)\)", "phải trước ngày sinh của trẻ ({d})"),
        (
            r"must not be after the child's birth year \((?P<d>\d+)\)",
            "không được sau năm sinh của trẻ ({d})",
        ),
        (r"is before the child's birth \((?P<d>[^)]+)\)", "trước ngày sinh của trẻ ({d})"),
        (r"is before the death \((?P<d>[^)]+)\)", "trước ngày mất ({d})"),
        (
            r"is before the deceased's date of birth \((?P<d>[^)]+)\)",
            "trước ngày sinh của người mất ({d})",
        ),
        (
            r"the child was (?P<v>\d+) years old when the dossier was received; .*",
            "trẻ đã {v} tuổi khi tiếp nhận hồ sơ: liên thông khai sinh (kèm thẻ BHYT miễn phí) "
            "chỉ dành cho trẻ dưới 6 tuổi, hãy đăng ký khai sinh riêng",
        ),
        (r"must have 12 digits, not (?P<v>\d+)", "số định danh phải có 12 chữ số, không phải {v}"),
        (
            r"starts with (?P<v>\S+), which is not a province code nor a country code.*",
            "số định danh bắt đầu bằng {v}, không phải mã tỉnh hay mã quốc gia",
        ),
        (
            r"digit 4 is (?P<v>\d) \(meaning [^)]*\) but the person is .*",
            "chữ số thứ 4 ({v}) không khớp với giới tính và thế kỷ sinh của người này",
        ),
        (
            r"digits 5-6 are (?P<v>\d+) but the birth year is (?P<d>\d+).*",
            "chữ số thứ 5-6 ({v}) không khớp với năm sinh {d}",
        ),
        (
            r"digits 4-6 are (?P<v>\d+), meaning born in (?P<d>\d+), after .*",
            "chữ số thứ 4-6 ({v}) cho năm sinh {d}, sau ngày tiếp nhận hồ sơ",
        ),
        (
            r"(?P<v>\S+) is not a 3-digit province code.*",
            "{v} không phải mã tỉnh 3 chữ số (ví dụ 056 là Khánh Hòa)",
        ),
        (
            r"(?P<v>\S+) is not a current province.*",
            "{v} không phải mã tỉnh hiện hành (từ 1/7/2025 hồ sơ ghi đơn vị hành chính mới)",
        ),
        (
            r"(?P<v>\S+) is not a current commune code.*",
            "{v} không phải mã xã hiện hành (5 chữ số, ví dụ 22738 là Phường Đô Vinh)",
        ),
        (r"(?P<v>\S+) \((?P<d>[^)]+)\) is in province .*", "{v} ({d}) không thuộc tỉnh này"),
        (r"is not a known chain: .*", "không phải nhóm thủ tục liên thông khai sinh hay khai tử"),
        (r"must be (?P<v>-?\d+) or more", "phải từ {v} trở lên"),
        (r"must be (?P<v>-?\d+) or less", "không được quá {v}"),
        (
            r"is (?P<v>\d+) characters long: at most (?P<d>\d+) are allowed",
            "dài {v} ký tự, tối đa {d} ký tự",
        ),
        (r"must be in the years (?P<v>\d+) to (?P<d>\d+)", "phải trong các năm {v} đến {d}"),
        (r"must be (?P<v>.+)", "phải là một trong các lựa chọn: {v}"),
    )
)


def in_vietnamese(message: str) -> str:
    """``message`` (a problem's English wording) in Vietnamese."""
    fixed = _FIXED.get(message)
    if fixed is not None:
        return fixed
    for pattern, vietnamese in _PATTERNS:
        matched = pattern.fullmatch(message)
        if matched:
            return vietnamese.format(**matched.groupdict())
    return f"không hợp lệ ({message})"


def translated(message: str) -> bool:
    """Whether ``message`` has its own Vietnamese wording here."""
    return message in _FIXED or any(p.fullmatch(message) for p, _ in _PATTERNS)
