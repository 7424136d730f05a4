"""The reporting form's Vietnamese words: column headings and the names of chains, steps and
agencies, as a provincial one-stop shop files them (terms of the seed reports and of the
form for administrative procedures: "tiếp nhận", "từ kỳ trước chuyển sang", "trước hạn",
"đúng hạn", "quá hạn", "đang giải quyết", "trả hồ sơ bổ sung", "rút hồ sơ")."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from lienthong.models.identifiers import PROVINCE_CODES
from lienthong.models.report import Period, Row, Scope
from lienthong.models.status import Agency, Chain, StepKind

TITLE = "BÁO CÁO TÌNH HÌNH TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ LIÊN THÔNG (ĐỀ ÁN 06)"

# One heading per column of services.report_render.COLUMNS, in the same order.
HEADINGS: dict[str, str] = {
    "chain": "Nhóm thủ tục liên thông",
    "step": "Thủ tục",
    "agency": "Cơ quan giải quyết",
    "received": "Tổng số hồ sơ nhận giải quyết",
    "carried_over": "Nhận: từ kỳ trước chuyển sang",
    "new": "Nhận: mới tiếp nhận trong kỳ",
    "resolved": "Tổng số hồ sơ đã giải quyết",
    "resolved_early": "Đã giải quyết: trước hạn",
    "resolved_on_time": "Đã giải quyết: đúng hạn",
    "resolved_late": "Đã giải quyết: quá hạn",
    "in_progress": "Tổng số hồ sơ đang giải quyết",
    "in_progress_within": "Đang giải quyết: trong hạn",
    "in_progress_overdue": "Đang giải quyết: quá hạn",
    "returned": "Trả hồ sơ bổ sung",
    "refused": "Từ chối giải quyết",
    "withdrawn": "Rút hồ sơ",
    "on_time_rate": "Tỷ lệ giải quyết trước hạn và đúng hạn",
}

CHAINS: dict[Chain, str] = {
    Chain.BIRTH: "Khai sinh - thường trú - thẻ BHYT trẻ em dưới 6 tuổi",
    Chain.DEATH: "Khai tử - xóa đăng ký thường trú - mai táng phí, tử tuất",
}
# The chain's name where there is little room (the charts' labels).
SHORT_CHAINS: dict[Chain, str] = {Chain.BIRTH: "Khai sinh", Chain.DEATH: "Khai tử"}
STEPS: dict[StepKind, str] = {
    StepKind.BIRTH_REGISTRATION: "Đăng ký khai sinh",
    StepKind.RESIDENCE_REGISTRATION: "Đăng ký thường trú",
    StepKind.CHILD_HEALTH_CARD: "Cấp thẻ BHYT cho trẻ em dưới 6 tuổi",
    StepKind.DEATH_REGISTRATION: "Đăng ký khai tử",
    StepKind.RESIDENCE_REMOVAL: "Xóa đăng ký thường trú",
    StepKind.FUNERAL_ALLOWANCE: "Trợ cấp mai táng / hỗ trợ chi phí mai táng",
    StepKind.SURVIVOR_BENEFITS: "Chế độ tử tuất",
}
AGENCIES: dict[Agency, str] = {
    Agency.JUSTICE: "Tư pháp - Hộ tịch",
    Agency.POLICE: "Công an",
    Agency.SOCIAL_INSURANCE: "Bảo hiểm xã hội",
    Agency.SOCIAL_AFFAIRS: "Lao động - Thương binh và Xã hội",
    Agency.COMMUNE: "UBND cấp xã (bộ phận một cửa)",
}
WHOLE_CHAIN = "Cả nhóm thủ tục (một cửa)"
ALL_STEPS = "Các thủ tục của cơ quan"
WHOLE_COUNTRY = "Toàn quốc"


def labels(row: Row) -> tuple[str, str, str]:
    """The row's chain, step and agency in the form's words."""
    if row.step is not None:
        step = STEPS[row.step]
    else:
        step = WHOLE_CHAIN if row.agency is None else ALL_STEPS
    return CHAINS[row.chain], step, AGENCIES[row.agency] if row.agency else ""


def period_label(period: Period) -> str:
    """``Tháng 03/2025``, ``Quý 1/2025`` or ``Năm 2025``, and the dates it covers."""
    first = period.start.date()
    last = (period.end - timedelta(days=1)).date()
    label = period.label
    if "-Q" in label:
        year, quarter = label.split("-Q")
        name = f"Quý {quarter}/{year}"
    elif "-" in label:
        year, month = label.split("-")
        name = f"Tháng {month}/{year}"
    else:
        name = f"Năm {label}"
    return f"{name} (từ ngày {first:%d/%m/%Y} đến ngày {last:%d/%m/%Y})"


def unit_label(scope: Scope) -> str:
    """The reporting unit: the country, a province (by its name), a commune of it."""
    if scope.province is None and scope.commune is None:
        return WHOLE_COUNTRY
    parts = []
    if scope.province is not None:
        parts.append(f"Tỉnh/thành phố {PROVINCE_CODES[scope.province]} (mã {scope.province})")
    if scope.commune is not None:
        parts.append(f"xã/phường mã {scope.commune}")
    return ", ".join(parts)


# The form's two-row heading: each group of columns (by the names of HEADINGS) under its
# group heading; a group of one column spans both rows.
COLUMN_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Số hồ sơ nhận giải quyết", ("received", "carried_over", "new")),
    ("Số hồ sơ đã giải quyết", ("resolved", "resolved_early", "resolved_on_time", "resolved_late")),
    ("Số hồ sơ đang giải quyết", ("in_progress", "in_progress_within", "in_progress_overdue")),
    ("Trả hồ sơ bổ sung", ("returned",)),
    ("Từ chối giải quyết", ("refused",)),
    ("Rút hồ sơ", ("withdrawn",)),
    ("Tỷ lệ giải quyết trước hạn và đúng hạn", ("on_time_rate",)),
)
# Within a group, the short heading of each column under the group's.
SUB_HEADINGS: dict[str, str] = {
    "received": "Tổng số",
    "carried_over": "Từ kỳ trước chuyển sang",
    "new": "Mới tiếp nhận",
    "resolved": "Tổng số",
    "resolved_early": "Trước hạn",
    "resolved_on_time": "Đúng hạn",
    "resolved_late": "Quá hạn",
    "in_progress": "Tổng số",
    "in_progress_within": "Trong hạn",
    "in_progress_overdue": "Quá hạn",
}

# The heading of an administrative document (Decree 30/2020/ND-CP, form of the national
# name and motto) and the sign-off block under the table.
NATIONAL_NAME = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
PREPARER = "NGƯỜI LẬP BIỂU"
PREPARER_HINT = "(Ký, ghi rõ họ tên)"
HEAD_OF_UNIT = "THỦ TRƯỞNG ĐƠN VỊ"
HEAD_OF_UNIT_HINT = "(Ký tên, đóng dấu)"
UNKNOWN_PLACE = "…………"


def place_of(scope: Scope) -> str:
    """Where the report is signed: the province's name; dots to fill in for the country."""
    if scope.province is None:
        return UNKNOWN_PLACE
    return PROVINCE_CODES[scope.province]


def place_and_date(place: str, day: date) -> str:
    """``Hà Nội, ngày 02 tháng 03 năm 2025``, as a Vietnamese document is dated."""
    return f"{place}, ngày {day:%d} tháng {day:%m} năm {day:%Y}"


def unit_heading(scope: Scope) -> str:
    """The reporting unit in the document's top-left corner: the province's people's
    committee, or the Project 06 working group for the whole country."""
    if scope.province is None:
        return "TỔ CÔNG TÁC TRIỂN KHAI ĐỀ ÁN 06"
    return f"UBND {PROVINCE_CODES[scope.province].upper()}"


def moment_label(moment: datetime) -> str:
    """``07:00 ngày 02/03/2025 (UTC+07:00)``: a local instant as a document gives it."""
    offset = moment.strftime("%z")
    return f"{moment:%H:%M} ngày {moment:%d/%m/%Y} (UTC{offset[:3]}:{offset[3:]})"


def vietnamese_count(value: int) -> str:
    """``1.234.567``: thousands separated by dots, as Vietnamese documents write them."""
    return f"{value:,}".replace(",", ".")


def vietnamese_rate(rate: float | None) -> str:
    """``92,5%`` (a decimal comma); a dash when nothing was resolved."""
    return "-" if rate is None else f"{rate:.1%}".replace(".", ",")
