"""The desk's dossier forms: each field of a dossier (docs/dossiers.md) with its Vietnamese
label, and the conversion of a posted form into the dossier JSON the API takes.

An input is named by the field's dotted path (``child.full_name``), so the problems that
validation reports by path land next to their field. Nothing typed is judged here: the text
goes to the same validation as the API's JSON (models/validation.py), and is sent back into
the form with the problems, so nothing the operator typed is lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from lienthong.models.dossier import VIETNAM_TZ
from lienthong.models.status import Chain, FuneralPayerBasis, StepKind
from lienthong.models.supplements import SUPPLEMENT_SECTIONS


class Kind(StrEnum):
    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime-local"
    NUMBER = "number"
    CHECKBOX = "checkbox"
    CHOICE = "choice"


@dataclass(frozen=True)
class Field:
    path: str
    label: str
    kind: Kind = Kind.TEXT
    choices: tuple[tuple[str, str], ...] = ()
    optional: bool = False


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    fields: tuple[Field, ...]
    optional: bool = False
    """An optional section (a parent) is left out when none of its fields is filled."""


_SEX = (("female", "Nữ"), ("male", "Nam"))
_PAYER = (
    (FuneralPayerBasis.INSURED.value, "Người đang đóng BHXH bắt buộc"),
    (FuneralPayerBasis.PENSIONER.value, "Người đang hưởng lương hưu"),
    (FuneralPayerBasis.MONTHLY_BENEFITS.value, "Người đang hưởng trợ cấp BHXH hằng tháng"),
    (FuneralPayerBasis.SOCIAL_PROTECTION.value, "Đối tượng bảo trợ xã hội"),
    (FuneralPayerBasis.MERITORIOUS.value, "Người có công với cách mạng"),
    (FuneralPayerBasis.NONE.value, "Không thuộc diện hưởng mai táng phí"),
)
_SCOPE = (
    ("2", "2 thủ tục: khai tử, xóa đăng ký thường trú"),
    ("3", "3 thủ tục: thêm trợ cấp mai táng"),
    ("4", "4 thủ tục: thêm trợ cấp tử tuất"),
)


def _person(role: str, *, optional_id: bool) -> tuple[Field, ...]:
    return (
        Field(f"{role}.full_name", "Họ, chữ đệm và tên"),
        Field(f"{role}.date_of_birth", "Ngày sinh", Kind.DATE, optional=True),
        Field(f"{role}.year_of_birth", "Năm sinh (nếu chỉ biết năm)", Kind.NUMBER, optional=True),
        Field(f"{role}.personal_id", "Số định danh cá nhân", optional=optional_id),
        Field(f"{role}.ethnicity", "Dân tộc"),
        Field(f"{role}.nationality", "Quốc tịch"),
        Field(f"{role}.residence", "Nơi cư trú"),
    )


def _paper(section: str, title: str) -> Section:
    return Section(
        section,
        title,
        (
            Field(f"{section}.number", "Số"),
            Field(f"{section}.issuer", "Nơi cấp"),
            Field(f"{section}.issued_on", "Ngày cấp", Kind.DATE),
        ),
    )


RECEPTION = Section(
    "reception",
    "Tiếp nhận",
    (
        Field("reference", "Mã hồ sơ"),
        Field("received_at", "Thời điểm tiếp nhận", Kind.DATETIME),
    ),
)
REQUESTER = Section(
    "requester",
    "Người yêu cầu",
    (
        Field("requester.full_name", "Họ, chữ đệm và tên"),
        Field("requester.personal_id", "Số định danh cá nhân"),
        Field("requester.relationship", "Quan hệ với người được khai"),
    ),
)
BIRTH_SECTIONS: tuple[Section, ...] = (
    RECEPTION,
    REQUESTER,
    Section(
        "child",
        "Người được khai sinh",
        (
            Field("child.full_name", "Họ, chữ đệm và tên"),
            Field("child.sex", "Giới tính", Kind.CHOICE, _SEX),
            Field("child.date_of_birth", "Ngày sinh", Kind.DATE),
            Field("child.place_of_birth", "Nơi sinh"),
            Field("child.ethnicity", "Dân tộc"),
            Field("child.nationality", "Quốc tịch"),
        ),
    ),
    Section("mother", "Mẹ", _person("mother", optional_id=True), optional=True),
    Section("father", "Cha", _person("father", optional_id=True), optional=True),
    _paper("medical_birth_certificate", "Giấy chứng sinh"),
    Section(
        "residence",
        "Đăng ký thường trú",
        (
            Field("residence.address", "Địa chỉ thường trú"),
            Field("residence.household_head_personal_id", "Số định danh của chủ hộ"),
            Field("residence.household_head_consent", "Chủ hộ đồng ý", Kind.CHECKBOX),
        ),
    ),
    Section(
        "healthcare_facility",
        "Nơi đăng ký khám chữa bệnh ban đầu",
        (
            Field("healthcare_facility.code", "Mã cơ sở"),
            Field("healthcare_facility.name", "Tên cơ sở"),
        ),
    ),
    Section(
        "chain_opt_in",
        "Liên thông",
        (Field("chain_opt_in", "Công dân đồng ý thực hiện liên thông", Kind.CHECKBOX),),
    ),
)
DEATH_SECTIONS: tuple[Section, ...] = (
    RECEPTION,
    REQUESTER,
    Section(
        "deceased",
        "Người chết",
        (
            Field("deceased.full_name", "Họ, chữ đệm và tên"),
            Field("deceased.personal_id", "Số định danh cá nhân"),
            Field("deceased.date_of_birth", "Ngày sinh", Kind.DATE),
            Field("deceased.sex", "Giới tính", Kind.CHOICE, _SEX),
            Field("deceased.last_residence", "Nơi cư trú cuối cùng"),
        ),
    ),
    Section(
        "death",
        "Việc chết",
        (
            Field("death.occurred_at", "Thời điểm chết", Kind.DATETIME),
            Field("death.place", "Nơi chết"),
            Field("death.cause", "Nguyên nhân"),
        ),
    ),
    _paper("death_notice", "Giấy báo tử"),
    Section(
        "scope",
        "Yêu cầu giải quyết",
        (
            Field("scope", "Số thủ tục", Kind.CHOICE, _SCOPE),
            Field("funeral_payer_basis", "Diện hưởng mai táng phí", Kind.CHOICE, _PAYER),
            Field(
                "contribution_months", "Số tháng đóng BHXH (nếu biết)", Kind.NUMBER, optional=True
            ),
        ),
    ),
)
SECTIONS: Mapping[Chain, tuple[Section, ...]] = {
    Chain.BIRTH: BIRTH_SECTIONS,
    Chain.DEATH: DEATH_SECTIONS,
}
_INTEGERS = frozenset({"scope"})
_LOCAL_MINUTE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?")
VIETNAM_OFFSET = "+07:00"


def _value(field: Field, text: str) -> Any:
    """The JSON value for what was typed: numbers as numbers when they are digits (else the
    text, for validation to name), a local date and time with Vietnam's offset."""
    if (field.kind is Kind.NUMBER or field.path in _INTEGERS) and text.isascii() and text.isdigit():
        return int(text)
    if field.kind is Kind.DATETIME and _LOCAL_MINUTE.fullmatch(text):
        return text + (":00" if len(text) == 16 else "") + VIETNAM_OFFSET
    return text


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        target = target.setdefault(name, {})
    target[leaf] = value


def input_names(sections: tuple[Section, ...]) -> set[str]:
    """Where a problem can be shown: each field's input, or its whole section."""
    return {f.path for s in sections for f in s.fields} | {s.name for s in sections}


def section_values(section: Section, form: Mapping[str, str]) -> dict[str, Any]:
    """The dossier JSON of one section's posted fields; an empty field is left out (a
    required one is then reported missing), a checkbox is true or false."""
    raw: dict[str, Any] = {}
    for field in section.fields:
        if field.kind is Kind.CHECKBOX:
            _put(raw, field.path, field.path in form)
            continue
        text = form.get(field.path, "").strip()
        if text:
            _put(raw, field.path, _value(field, text))
    return raw


def filled(section: Section, form: Mapping[str, str]) -> bool:
    return any(form.get(f.path, "").strip() for f in section.fields)


def dossier_from_form(
    chain: Chain, form: Mapping[str, str], jurisdiction: Mapping[str, str]
) -> dict[str, Any]:
    """The dossier JSON for ``chain`` from a posted form, in the operator's ``jurisdiction``."""
    raw: dict[str, Any] = {"chain": chain.value, "jurisdiction": dict(jurisdiction)}
    for section in SECTIONS[chain]:
        if section.optional and not filled(section, form):
            continue
        for name, value in section_values(section, form).items():
            if isinstance(value, dict):
                raw.setdefault(name, {}).update(value)
            else:
                raw[name] = value
    return raw


def supplement_sections(chain: Chain, step: StepKind) -> tuple[Section, ...]:
    """The form's sections a supplement for ``step`` may change (models/supplements.py)."""
    allowed = SUPPLEMENT_SECTIONS[step]
    return tuple(
        Section(s.name, s.title, tuple(f for f in s.fields if f.path.split(".")[0] in allowed))
        for s in SECTIONS[chain]
        if any(f.path.split(".")[0] in allowed for f in s.fields)
    )


def supplement_from_form(sections: tuple[Section, ...], form: Mapping[str, str]) -> dict[str, Any]:
    """The supplement JSON: only the fields filled in (the rest of a section stays as on
    record: models/supplements.merged_payload merges section by section)."""
    raw: dict[str, Any] = {}
    for section in sections:
        for name, value in section_values(section, form).items():
            if isinstance(value, dict):
                raw.setdefault(name, {}).update(value)
            elif value is not False:
                raw[name] = value
    return raw


def _local_minute(text: str) -> str:
    """A stored date and time as a ``datetime-local`` input shows it: Vietnam's time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(VIETNAM_TZ)
    return moment.strftime("%Y-%m-%dT%H:%M")


def form_values(payload: Mapping[str, Any], sections: tuple[Section, ...]) -> dict[str, str]:
    """A stored dossier as the form's values (for a supplement form shown filled in)."""
    values: dict[str, str] = {}
    for section in sections:
        for field in section.fields:
            value: Any = payload
            for name in field.path.split("."):
                value = value.get(name) if isinstance(value, Mapping) else None
            if value is True:
                values[field.path] = "on"
            elif field.kind is Kind.DATETIME and isinstance(value, str):
                values[field.path] = _local_minute(value)
            elif value is not None and value is not False:
                values[field.path] = str(value)
    return values
