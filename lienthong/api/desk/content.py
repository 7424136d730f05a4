"""What the desk's pages show, from the services' answers: pure functions, no I/O."""

from __future__ import annotations

from lienthong.models.jurisdictions import current_commune, current_province
from lienthong.models.lifecycle import HANDED_BACK_STATUSES
from lienthong.models.problem_wording import in_vietnamese
from lienthong.models.status import DossierStatus, StepStatus
from lienthong.models.validation import Problem
from lienthong.models.wording import Language, word
from lienthong.services.dossier_status import DossierStatusReport
from lienthong.services.views import Waiting

_OPEN = frozenset(
    {DossierStatus.RECEIVED, DossierStatus.IN_PROGRESS, DossierStatus.AWAITING_SUPPLEMENT}
)


def jurisdiction_of(commune_code: str) -> dict[str, str]:
    """The dossier's ``jurisdiction`` section for a current commune code (names included)."""
    commune = current_commune(commune_code)
    if commune is None:
        return {"commune_code": commune_code}
    province_code = f"{int(commune.province_code):03d}"
    province = current_province(province_code)
    return {
        "province_code": province_code,
        "province_name": province.name if province else "",
        "commune_code": commune_code,
        "commune_name": commune.name,
    }


def problems_by_field(
    problems: list[Problem], known: set[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Each problem in Vietnamese, next to its field (or its field's section, e.g. a missing
    parent): by input name, and the ones that belong to no input of the form."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for problem in problems:
        message = in_vietnamese(problem.message)
        path = problem.path
        while path and path not in known:
            path = path.rpartition(".")[0]
        if path:
            by_field.setdefault(path, []).append(message)
        else:
            general.append(f"{problem.path}: {message}" if problem.path else message)
    return by_field, general


def missing(report: DossierStatusReport, waiting: Waiting | None) -> list[str]:
    """What the citizen must still bring: the items of the step awaiting a supplement."""
    if waiting is None or waiting.status != StepStatus.AWAITING_SUPPLEMENT:
        return []
    return list(report.view.step(waiting.kind).missing_items or [])


def actions(report: DossierStatusReport) -> list[str]:
    """Which of the desk's actions apply to the dossier now."""
    status = report.view.status
    actions = []
    if status == DossierStatus.AWAITING_SUPPLEMENT:
        actions.append("supplement")
    if status in _OPEN:
        actions.append("withdrawal")
    if report.view.chain is not None and status != DossierStatus.REJECTED:
        actions.append("slip")
    if status in HANDED_BACK_STATUSES and report.view.handed_back_at is None:
        actions.append("hand_back")
    if status == DossierStatus.REJECTED and report.view.chain is not None:
        actions.append("correction")
    return actions


def procedure(report: DossierStatusReport) -> str:
    """What the citizen asks for, as the slip writes it: the chain's procedures."""
    names = [
        _lower_first(word(s.kind, Language.VI))
        for s in report.view.steps
        if s.status != StepStatus.SKIPPED
    ]
    return "Liên thông các thủ tục hành chính: " + "; ".join(names)


def rejection(report: DossierStatusReport) -> list[Problem]:
    """Why a dossier was rejected at intake, as its submitter was told."""
    return [Problem.model_validate(p) for p in report.rejection_reasons if isinstance(p, dict)]


def _lower_first(name: str) -> str:
    """A name inside a sentence: "Cấp thẻ BHYT" -> "cấp thẻ BHYT" (acronyms kept)."""
    return name[:1].lower() + name[1:]


def problem_line(problem: Problem) -> str:
    message = in_vietnamese(problem.message)
    return f"{problem.path}: {message}" if problem.path else message


def unit_name(commune_code: str | None) -> str:
    """The page header's unit: the operator's commune, or the administration."""
    if commune_code is None:
        return "Quản trị hệ thống liên thông"
    commune = current_commune(commune_code)
    name = commune.name if commune else commune_code
    return f"UBND {name} · Bộ phận một cửa"
