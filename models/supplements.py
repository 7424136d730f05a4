"""What a supplement may change: the rule that keeps it to the waiting step's sections.

A supplement answers one agency's request, so it may only change the dossier sections that
the waiting step sends (:data:`SUPPLEMENT_SECTIONS`). It can never touch the dossier's
identity (``reference``, ``chain``, ``received_at``, ``jurisdiction``), what the citizen
asked for (``scope``, ``funeral_payer_basis``, ``chain_opt_in``), or data an agency has
already registered in an earlier step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lienthong.models.dossier import shown
from lienthong.models.status import StepKind

SUPPLEMENT_SECTIONS: Mapping[StepKind, frozenset[str]] = {
    # Chain A. Nothing is registered before step 1, so everything Justice is sent is open.
    StepKind.BIRTH_REGISTRATION: frozenset(
        {"child", "mother", "father", "medical_birth_certificate", "requester"}
    ),
    # The child's identity is now Justice's; the police only get the residence section.
    StepKind.RESIDENCE_REGISTRATION: frozenset({"residence"}),
    # The card's address is the residence the police registered: only the facility is open.
    StepKind.CHILD_HEALTH_CARD: frozenset({"healthcare_facility"}),
    # Chain B. The requester is the declarant Justice records.
    StepKind.DEATH_REGISTRATION: frozenset({"deceased", "death", "death_notice", "requester"}),
    # The police are sent only what Justice registered (the deceased, the death and its
    # registration number): a supplement can bring papers, never change those data.
    StepKind.RESIDENCE_REMOVAL: frozenset(),
    # Social insurance asks for the contribution record or the claimant (the requester).
    StepKind.FUNERAL_ALLOWANCE: frozenset({"contribution_months", "requester"}),
    StepKind.SURVIVOR_BENEFITS: frozenset({"contribution_months", "requester"}),
}
"""The top-level dossier sections a supplement may change, by the step awaiting it."""


class SupplementNotAllowed(ValueError):
    """The supplement changes sections that do not belong to the step awaiting it."""

    def __init__(self, step: StepKind, sections: list[str]) -> None:
        allowed = sorted(SUPPLEMENT_SECTIONS[step])
        may = (
            f"it may only change {', '.join(allowed)}"
            if allowed
            else "it may not change any dossier section (an empty supplement {} records "
            "that the papers were brought)"
        )
        super().__init__(
            f"a supplement for the {step.value} step cannot change {_listed(sections)}: "
            f"{may}; nothing was changed"
        )
        self.step = step
        self.sections = sections


_LISTED = 10


def _listed(sections: list[str]) -> str:
    """The sections named in a message: unknown keys may be anything, of any length."""
    named = ", ".join(shown(section) for section in sections[:_LISTED])
    return named + (f" and {len(sections) - _LISTED} more" if len(sections) > _LISTED else "")


def check_supplement(step: StepKind, supplement: Mapping[str, Any]) -> None:
    """Raise :class:`SupplementNotAllowed` if ``supplement`` has sections ``step`` does not own."""
    outside = sorted(
        str(section) for section in supplement if section not in SUPPLEMENT_SECTIONS[step]
    )
    if outside:
        raise SupplementNotAllowed(step, outside)


def merged_payload(
    payload: Mapping[str, Any], supplement: Mapping[str, Any], step: StepKind
) -> dict[str, Any]:
    """The dossier with the supplied sections replacing its own, section by section.

    Raises :class:`SupplementNotAllowed` when a section does not belong to ``step``.
    """
    check_supplement(step, supplement)
    merged = dict(payload)
    for section, value in supplement.items():
        if isinstance(value, Mapping) and isinstance(merged.get(section), Mapping):
            merged[section] = {**merged[section], **value}
        else:
            merged[section] = value
    return merged
