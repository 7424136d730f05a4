"""The receipt and appointment slip (Giấy tiếp nhận hồ sơ và hẹn trả kết quả): what it says.

The one-stop shop gives the citizen this slip when it receives a dossier (the one-stop
mechanism of Decree 61/2018; form Mẫu số 01 of Circular 01/2018/TT-VPCP): the receiving
unit, the receipt number, who handed the dossier in, what is asked, the papers received,
the time allowed by law, when the dossier was received and when the result will be
returned. The appointment is the chain's due date, counted in working days
(models/deadlines.py); the papers are those the dossier holds, named as the
interconnected procedures' forms (Decree 63/2024). Pure: the slip's content from the
stored dossier; the desk prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lienthong.models.status import Chain

_IDENTITY_PAPER = "Giấy tờ tùy thân của người yêu cầu (xuất trình, không lưu bản chính)"


@dataclass(frozen=True)
class ReceiptSlip:
    reference: str
    receipt_number: str
    province_name: str
    commune_name: str
    applicant: str
    applicant_address: str
    procedure: str
    papers: tuple[str, ...]
    working_days: int
    received_at: datetime
    appointment_at: datetime


def receipt_number(reference: str) -> str:
    """The slip's number ``<sequence>/TNHS``: the sequence of the dossier's reference, the
    number the one-stop shop gave the dossier (HT-2026-000123 -> 000123/TNHS)."""
    return f"{reference.rsplit('-', 1)[-1]}/TNHS"


def _text(payload: Mapping[str, Any], *path: str) -> str:
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, str) else ""


def _day(text: str) -> str:
    """A stored ISO date as the slip writes it: dd/mm/yyyy."""
    try:
        return date.fromisoformat(text).strftime("%d/%m/%Y")
    except ValueError:
        return text


def _paper(payload: Mapping[str, Any], section: str, name: str) -> str:
    number = _text(payload, section, "number")
    issuer = _text(payload, section, "issuer")
    issued = _day(_text(payload, section, "issued_on"))
    return f"{name} số {number} do {issuer} cấp ngày {issued}"


def papers_received(chain: Chain, payload: Mapping[str, Any]) -> tuple[str, ...]:
    """The papers a valid dossier of ``chain`` was received with, as the slip lists them."""
    if chain is Chain.BIRTH:
        papers = [
            "Tờ khai đăng ký khai sinh",
            _paper(payload, "medical_birth_certificate", "Giấy chứng sinh"),
            "Tờ khai thay đổi thông tin cư trú (đăng ký thường trú cho trẻ)",
        ]
        residence = payload.get("residence")
        if isinstance(residence, Mapping) and residence.get("household_head_consent") is True:
            papers.append("Ý kiến đồng ý của chủ hộ cho đăng ký thường trú")
        papers.append("Tờ khai tham gia bảo hiểm y tế (cấp thẻ BHYT cho trẻ em dưới 6 tuổi)")
    else:
        scope = payload.get("scope")
        papers = [
            "Tờ khai đăng ký khai tử",
            _paper(payload, "death_notice", "Giấy báo tử"),
            "Tờ khai thay đổi thông tin cư trú (xóa đăng ký thường trú)",
        ]
        if isinstance(scope, int) and scope >= 3:
            papers.append("Tờ khai đề nghị hưởng trợ cấp mai táng")
        if scope == 4:
            papers.append("Tờ khai đề nghị hưởng trợ cấp tuất")
    papers.append(_IDENTITY_PAPER)
    return tuple(papers)


def applicant(payload: Mapping[str, Any]) -> tuple[str, str]:
    """Who handed the dossier in, and the address the slip gives for them."""
    name = _text(payload, "requester", "full_name")
    address = (
        _text(payload, "residence", "address")
        or _text(payload, "mother", "residence")
        or _text(payload, "father", "residence")
        or _text(payload, "deceased", "last_residence")
    )
    return name, address
