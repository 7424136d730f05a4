"""Escalation above the commune: a province's late work, summarised once a working day.

The province's supervisors (the provincial department that answers for the one-stop shops
of its communes) are not told dossier by dossier: the commune is (services/overdue_notices.py).
The province gets one notice per working day: what is late in its communes on that day, as
the sweep finds it:

- ``overdue_steps``: steps past their due instant while their agency's clock runs (an agency
  late with its work or its decision);
- ``escalated_decisions``: of those, the decisions a full working day late (models/overdue.py),
  each named (reference, step, agency, due instant): the cases the province chases;
- ``overdue_chains``: dossiers past their chain's due instant.

Counted per commune and per step and agency. A dossier recorded under an old province code
(before 1 July 2025) is reported to the province that took it over
(``models.jurisdictions.successor_province``). No personal data: references and codes only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lienthong.models.jurisdictions import successor_province
from lienthong.models.overdue import DossierItem, Findings, StepItem

EVENT = "province.late_work"
# The escalated decisions a notice names; beyond, it gives their number only.
NAMED_UP_TO = 200


def _province(code: str) -> str:
    """The current province that answers for ``code``; an unknown code stays itself."""
    try:
        return successor_province(code)
    except ValueError:
        return code


@dataclass
class ProvinceLateWork:
    """One province's late work on one local day."""

    province_code: str
    local_day: date
    overdue_steps: list[StepItem] = field(default_factory=list)
    escalated: list[StepItem] = field(default_factory=list)
    overdue_chains: list[DossierItem] = field(default_factory=list)

    def payload(self, now: datetime) -> dict[str, Any]:
        """The notice's body: totals, per commune, per step and agency, the escalations."""
        items: list[StepItem | DossierItem] = [*self.overdue_steps, *self.overdue_chains]
        communes = sorted({i.commune_code for i in items})

        def count(items: Iterable[StepItem | DossierItem], commune: str) -> int:
            return sum(1 for i in items if i.commune_code == commune)

        steps = Counter((i.kind.value, i.agency.value) for i in self.overdue_steps)
        escalated_steps = Counter((i.kind.value, i.agency.value) for i in self.escalated)
        named = sorted(self.escalated, key=lambda i: (i.due_at or now, i.reference))
        return {
            "event": EVENT,
            "province_code": self.province_code,
            "local_day": self.local_day.isoformat(),
            "overdue_steps": len(self.overdue_steps),
            "escalated_decisions": len(self.escalated),
            "overdue_chains": len(self.overdue_chains),
            "by_commune": [
                {
                    "commune_code": commune,
                    "overdue_steps": count(self.overdue_steps, commune),
                    "escalated_decisions": count(self.escalated, commune),
                    "overdue_chains": count(self.overdue_chains, commune),
                }
                for commune in communes
            ],
            "by_step": [
                {
                    "step": kind,
                    "performed_by": agency,
                    "overdue": steps[(kind, agency)],
                    "escalated": escalated_steps[(kind, agency)],
                }
                for kind, agency in sorted(steps.keys() | escalated_steps.keys())
            ],
            "escalated": [
                {
                    "dossier_reference": i.reference,
                    "commune_code": i.commune_code,
                    "step": i.kind.value,
                    "performed_by": i.agency.value,
                    "due_at": i.due_at.isoformat() if i.due_at else None,
                }
                for i in named[:NAMED_UP_TO]
            ],
            "occurred_at": now.isoformat(),
        }


def late_work_by_province(findings: Findings, local_day: date) -> list[ProvinceLateWork]:
    """Each province with late work in ``findings``, by province code."""
    provinces: dict[str, ProvinceLateWork] = {}

    def of(code: str) -> ProvinceLateWork:
        province = _province(code)
        return provinces.setdefault(province, ProvinceLateWork(province, local_day))

    for item in findings.overdue:
        of(item.province_code).overdue_steps.append(item)
    for item in findings.escalated:
        of(item.province_code).escalated.append(item)
    for chain in findings.overdue_chains:
        of(chain.province_code).overdue_chains.append(chain)
    return [provinces[code] for code in sorted(provinces)]
