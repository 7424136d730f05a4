"""How the desk's pages write times, places and people (Jinja2 filters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jinja2 import Environment

from lienthong.api.desk.fields import SECTIONS
from lienthong.models.jurisdictions import current_commune
from lienthong.models.people import people_of

_SECTION_TITLES = {s.name: s.title for sections in SECTIONS.values() for s in sections}


def when(value: str | datetime | None) -> str:
    """A local time as the desk writes it: ``09:15 20/11/2026`` (empty when none)."""
    if value is None or value == "":
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.strftime("%H:%M %d/%m/%Y")


def clock(moment: datetime) -> str:
    """A time as the slip writes it: ``9 giờ 15 phút, ngày 20 tháng 11 năm 2026``."""
    return (
        f"{moment.hour} giờ {moment.minute:02d} phút, ngày {moment.day:02d} "
        f"tháng {moment.month:02d} năm {moment.year}"
    )


def commune_name(code: str) -> str:
    commune = current_commune(code)
    return f"{commune.name} ({code})" if commune else code


def people(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Whom the dossier names, for the operator (unmasked: the operator keeps the record)."""
    shown = []
    for section, person in people_of(payload, masked=False).items():
        name = person.get("full_name")
        if name is None or section not in _SECTION_TITLES:
            continue
        number = person.get("personal_id")
        shown.append((_SECTION_TITLES[section], f"{name} ({number})" if number else name))
    return shown


def install(environment: Environment) -> None:
    environment.filters.update(when=when, clock=clock, commune_name=commune_name, people=people)
