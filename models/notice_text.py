"""What a notice says to the people who read it (the commune's one-stop shop, the province,
an agency's officer): one sentence in Vietnamese (``summary``) and in English
(``summary_en``), beside the codes programs read. References, codes, statuses and dates
only: no personal data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.models.wording import Language, local_day, word

# Why the sweep sends a notice (services/overdue_notices.py), in words.
WHY: Mapping[str, Mapping[Language, str]] = {
    "step.overdue": {Language.VI: "đã quá hạn", Language.EN: "overdue"},
    "step.due_soon": {Language.VI: "sắp đến hạn", Language.EN: "due soon"},
    "decision.reminder": {
        Language.VI: "đề nghị cơ quan ra quyết định (đã quá hạn)",
        Language.EN: "please decide (overdue)",
    },
    "decision.escalated": {
        Language.VI: "cơ quan quá hạn quyết định từ một ngày làm việc trở lên",
        Language.EN: "the agency's decision is a working day or more late",
    },
    "dossier.overdue": {
        Language.VI: "hồ sơ liên thông đã quá hạn giải quyết",
        Language.EN: "the chain is past its due date",
    },
}


def summaries(
    reference: str,
    *,
    event: str,
    chain: Chain | None = None,
    step: StepKind | None = None,
    status: StepStatus | DossierStatus | None = None,
    agency: Agency | None = None,
    due_at: datetime | None = None,
    timezone: str,
) -> dict[str, str]:
    """``{"summary": <Vietnamese>, "summary_en": <English>}`` for a notice's body."""
    return {
        "summary": _sentence(
            Language.VI, reference, event, chain, step, status, agency, due_at, timezone
        ),
        "summary_en": _sentence(
            Language.EN, reference, event, chain, step, status, agency, due_at, timezone
        ),
    }


def _sentence(
    language: Language,
    reference: str,
    event: str,
    chain: Chain | None,
    step: StepKind | None,
    status: StepStatus | DossierStatus | None,
    agency: Agency | None,
    due_at: datetime | None,
    timezone: str,
) -> str:
    parts = [("Hồ sơ " if language == Language.VI else "Dossier ") + reference]
    if chain is not None:
        parts[0] += f" ({word(chain, language)})"
    if step is not None:
        performed = f" — {word(agency, language)}" if agency is not None else ""
        parts.append(word(step, language) + performed)
    if status is not None:
        parts.append(word(status, language))
    if event in WHY:
        parts.append(WHY[event][language])
    if due_at is not None:
        due = "hạn" if language == Language.VI else "due"
        parts.append(f"{due} {local_day(due_at, timezone)}")
    return ": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:]) + "."
