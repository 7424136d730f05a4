"""Bounds on the dossier data an outsider hands us, checked by the domain's validation.

A dossier is a few kilobytes with two levels of objects; these bounds are far above that and
far below what could hurt us or the agencies (a 10 MB child's name would be sent on to every
agency). The byte-size bounds of files and HTTP bodies are the adapters' business and live
in ``lienthong.settings.LimitSettings``, which extends this group: one ``limits`` group of
settings, ``LIENTHONG_LIMITS__MAX_TEXT_LENGTH`` and so on.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

# A signed notification is under 4 KB; receivers (ours, the simulator's) read no more than
# this before checking its signature. Here because both sides of the contract use it.
DEFAULT_MAX_WEBHOOK_BODY_BYTES: Final = 256 * 1024


class DossierLimits(BaseModel):
    """How long a text field and how deep a dossier may be."""

    model_config = ConfigDict(frozen=True)

    # Characters (after trimming) in any one text field: a name, an address, a cause of death.
    max_text_length: int = Field(500, ge=16)
    # Levels of objects and arrays, the dossier itself being level 1 (a dossier uses 2).
    max_nesting: int = Field(8, ge=2, le=64)
