"""The reporting form's Vietnamese words: column headings and the names of chains, steps and
agencies, as a provincial one-stop shop files them (terms of the seed reports and of the
form for administrative procedures: "tiếp nhận", "từ kỳ trước chuyển sang", "trước hạn",
"đúng hạn", "quá hạn", "đang giải quyết", "trả hồ sơ bổ sung", "rút hồ sơ")."""

from __future__ import annotations

from datetime import timedelta

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
