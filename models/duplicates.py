"""Potential duplicates at intake: which dossiers may be about the same child or deceased.

The same child registered twice gets two personal ID numbers and two health cards; the same
death registered twice reaches every agency twice. Intake therefore compares each valid
dossier with the record *before* any agency is called, by match keys:

- a birth: the medical birth certificate's number (giấy chứng sinh), and the mother's
  personal ID with the child's date of birth and name;
- a death: the deceased's personal ID, and the death notice's number (giấy báo tử).

A key is a digest of its rule and the normalised values (:func:`fold`, :func:`fold_number`),
so one indexed equality finds every dossier sharing it, across references and communes.
Normalising is deliberately tolerant: the same name typed in NFC or NFD, with or without
tone marks, with đ or d, in any case or spacing is one name. A key in common makes a
*potential* duplicate only: the dossier is held and a person decides (distinct, as twins
are; merged into the dossier it repeats; or rejected). docs/dossiers.md has the rules.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from lienthong.models.dossier import BirthDossier, DeathDossier

# Đ/đ are letters of their own, not D with a mark: Unicode does not decompose them. Ð/ð
# (Icelandic eth) look the same and are typed for them by some keyboards and fonts.
_D_LETTERS = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"})
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
_SEPARATOR = "\x1f"


def _bare(text: str) -> str:
    """Compatibility-decomposed (full-width forms, ligatures) without its combining marks."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold(text: str) -> str:
    """A name as intake compares it: no tone or vowel marks, đ as d, case folded, words
    separated by one space (punctuation between words is a space: Thị-Thu is Thị Thu).

    NFC and NFD input fold alike. Letters outside a-z and digits (other scripts) are
    separators too: Vietnamese names are written in the Latin alphabet, which this keeps.
    """
    folded = _bare(_bare(text.translate(_D_LETTERS)).casefold())
    return " ".join(_NOT_ALNUM.split(folded)).strip()


def fold_number(text: str) -> str:
    """A certificate's number as intake compares it: letters and digits only, folded
    (GCS-2026-004512, gcs 2026 004512 and GCS2026004512 are one number)."""
    return fold(text).replace(" ", "")


class MatchRule(StrEnum):
    """Why two dossiers may be about the same person."""

    BIRTH_CERTIFICATE = "birth_certificate"  # the same medical birth certificate number
    MOTHER_BIRTH_NAME = "mother_birth_name"  # the same mother, date of birth and child's name
    DECEASED_ID = "deceased_id"  # the same deceased's personal ID
    DEATH_NOTICE = "death_notice"  # the same death notice number


@dataclass(frozen=True, order=True)
class MatchKey:
    """One rule's digest of a dossier's normalised values: no personal data in clear."""

    rule: MatchRule
    digest: str


def match_key(rule: MatchRule, *values: str) -> MatchKey:
    text = _SEPARATOR.join([rule.value, *values])
    return MatchKey(rule, hashlib.sha256(text.encode()).hexdigest())


def match_keys(dossier: BirthDossier | DeathDossier) -> tuple[MatchKey, ...]:
    """The keys a valid dossier is looked up and indexed by; a value that folds to nothing
    (a number of punctuation only) makes no key rather than one shared by every such
    dossier."""
    found: list[MatchKey] = []
    if isinstance(dossier, BirthDossier):
        if number := fold_number(dossier.medical_birth_certificate.number):
            found.append(match_key(MatchRule.BIRTH_CERTIFICATE, number))
        mother, child = dossier.mother, dossier.child
        if mother is not None and mother.personal_id and (name := fold(child.full_name)):
            found.append(
                match_key(
                    MatchRule.MOTHER_BIRTH_NAME,
                    mother.personal_id,
                    child.date_of_birth.isoformat(),
                    name,
                )
            )
    else:
        found.append(match_key(MatchRule.DECEASED_ID, dossier.deceased.personal_id))
        if number := fold_number(dossier.death_notice.number):
            found.append(match_key(MatchRule.DEATH_NOTICE, number))
    return tuple(sorted(found))


@dataclass(frozen=True, order=True)
class Match:
    """A dossier on record sharing a key with the one received, and by which rule."""

    reference: str
    rule: MatchRule


def describe(matches: Sequence[Match]) -> str:
    """E.g. "potential duplicate of HT-2026-000123 (birth_certificate)": references only."""
    rules: dict[str, list[str]] = {}
    for match in matches:
        rules.setdefault(match.reference, []).append(match.rule.value)
    listed = ", ".join(f"{ref} ({', '.join(sorted(r))})" for ref, r in sorted(rules.items()))
    return f"potential duplicate of {listed}"


class Decision(StrEnum):
    """A person's decision on a held dossier."""

    # Not the same person (twins, a reused number): the chain goes on.
    DISTINCT = "distinct"
    # The same case as a dossier on record: closed, linked to it, which carries on.
    MERGE = "merge"
    # Refused as a duplicate submission: closed.
    REJECT = "reject"


class CannotResolve(ValueError):
    """The decision does not fit the hold (already decided, merged into a stranger...)."""


@dataclass
class DuplicateHold:
    """A dossier held at intake as a potential duplicate, and what a person decided."""

    reference: str
    matches: tuple[Match, ...]
    held_at: datetime
    decision: Decision | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    merged_into: str | None = None
    reason: str | None = None

    @property
    def references(self) -> tuple[str, ...]:
        """The dossiers it may repeat, each once, in order."""
        return tuple(sorted({m.reference for m in self.matches}))

    def decide(
        self, decision: Decision, *, by: str, reason: str, now: datetime, into: str | None = None
    ) -> None:
        """Record the decision, or raise :class:`CannotResolve` changing nothing.

        A merge names the dossier it repeats, one of those it was held for; the other
        decisions name none. Every decision gives its reason: it is the audit's answer to
        "why was this child registered (or not)".
        """
        if self.decision is not None:
            raise CannotResolve(
                f"dossier {self.reference} was decided already ({self.decision.value} "
                f"by {self.decided_by})"
            )
        if not reason.strip():
            raise CannotResolve("give the reason for the decision: it is kept in the audit trail")
        if decision == Decision.MERGE:
            if into is None:
                raise CannotResolve("a merge names the dossier this one repeats")
            if into not in self.references:
                raise CannotResolve(
                    f"dossier {self.reference} can be merged only into a dossier it was held "
                    f"for ({', '.join(self.references)}), not {into}"
                )
        elif into is not None:
            raise CannotResolve(f"only a merge names another dossier, not {decision.value}")
        self.decision = decision
        self.decided_at = now
        self.decided_by = by
        self.merged_into = into
        self.reason = reason.strip()


@dataclass(frozen=True)
class DuplicateFigures:
    """The report's duplicate figures for a period and scope."""

    # Dossiers held at intake in the period.
    held: int
    # Decisions taken in the period.
    distinct: int
    merged: int
    rejected: int
    # Held and not decided at the end of the period.
    still_held: int
