"""Who a dossier is about, as an answer shows it: names and ID numbers, masked or not.

The citizen-facing channel (the portal) shows them masked (models/masking.py): whoever
holds a reference learns whose dossier it is only as far as its owner can recognise it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lienthong.models.masking import mask_name, mask_personal_id

_NAME = "full_name"
_ID_FIELDS = ("personal_id", "household_head_personal_id")


def people_of(payload: Mapping[str, Any], *, masked: bool) -> dict[str, dict[str, str]]:
    """Each section of the dossier that names a person: its name and ID numbers."""
    people: dict[str, dict[str, str]] = {}
    for section, value in payload.items():
        if not isinstance(value, Mapping):
            continue
        found = {
            key: item
            for key, item in value.items()
            if key in (_NAME, *_ID_FIELDS) and isinstance(item, str)
        }
        if masked:
            found = {
                key: mask_name(item) if key == _NAME else mask_personal_id(item)
                for key, item in found.items()
            }
        if found:
            people[str(section)] = found
    return people
