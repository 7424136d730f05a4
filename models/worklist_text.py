"""A worklist in words: the same lines for ``lienthong list``, the Prefect artifacts and the
desk. References, codes, statuses and dates only (no personal data)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from lienthong.models.lateness import Timeliness
from lienthong.models.masking import scrub
from lienthong.models.status import TERMINAL_DOSSIER_STATUSES
from lienthong.models.wording import Language, local_day, say, word
from lienthong.models.worklist import Need, Task, WorkItem

# Which command does what the need asks (the operator's next step at the counter).
COMMANDS: dict[Need, str] = {
    Need.SUPPLEMENT_DUE: "lienthong supplement {reference} FILE.json",
    Need.AWAITING_CONSENT: "lienthong supplement {reference} FILE.json",
    Need.HAND_BACK_RESULT: "lienthong hand-back {reference}",
    Need.HAND_BACK_REFUSAL: "lienthong hand-back {reference}",
    Need.CORRECT_AND_RESUBMIT: "lienthong submit FILE.json",
    Need.STEP_STOPPED: "lienthong run {reference}",
    Need.DECISION_OVERDUE: "lienthong sweep",
    Need.DUPLICATE_DECISION: "lienthong duplicates show {reference}",
}


@dataclass(frozen=True)
class Line:
    """One worklist line in words."""

    reference: str
    chain: str
    status: str
    lateness: str
    late: bool
    commune_code: str
    tasks: tuple[str, ...]
    commands: tuple[str, ...]


def task_text(task: Task, language: Language, timezone: str) -> str:
    """E.g. "Chờ công dân bổ sung hồ sơ (Trợ cấp mai táng) — hạn bổ sung 02/12/2026"."""
    text = word(task.need, language)
    if task.step is not None:
        text += f" ({word(task.step, language)})"
    if task.due_at is not None:
        key = "supplement_by" if task.need in _SUPPLEMENTS else "due_on"
        text += " — " + say(key, language, date=local_day(task.due_at, timezone))
    return text


_SUPPLEMENTS = frozenset({Need.SUPPLEMENT_DUE, Need.AWAITING_CONSENT})


def line(item: WorkItem, language: Language, timezone: str) -> Line:
    return Line(
        reference=item.reference,
        chain="-" if item.chain is None else word(item.chain, language),
        status=word(item.status, language),
        lateness=word(_lateness(item), language),
        late=item.late,
        commune_code=item.commune_code,
        tasks=tuple(task_text(t, language, timezone) for t in item.tasks),
        commands=tuple(
            dict.fromkeys(COMMANDS[t.need].format(reference=item.reference) for t in item.tasks)
        ),
    )


def _lateness(item: WorkItem) -> Timeliness:
    """The chain's lateness, unless only a step is late: then late (a closed dossier) or
    overdue (an open one) all the same."""
    if not item.late or item.timeliness.late:
        return item.timeliness
    return Timeliness.LATE if item.status in TERMINAL_DOSSIER_STATUSES else Timeliness.OVERDUE


def as_json(item: WorkItem, language: Language, timezone: str) -> dict[str, Any]:
    """Codes for programs, words for people, both in one object."""
    text = line(item, language, timezone)
    return {
        "reference": item.reference,
        "chain": item.chain,
        "status": item.status,
        "status_text": text.status,
        "province_code": item.province_code,
        "commune_code": item.commune_code,
        "received_at": item.received_at.isoformat(),
        "due_at": None if item.due_at is None else item.due_at.isoformat(),
        "timeliness": item.timeliness,
        "late": item.late,
        "needs_action": item.needs_action,
        "tasks": [
            {
                "need": t.need,
                "step": t.step,
                "step_status": t.step_status,
                "due_at": None if t.due_at is None else t.due_at.isoformat(),
                "text": task_text(t, language, timezone),
            }
            for t in item.tasks
        ],
        "commands": list(text.commands),
    }


def _cell(text: object) -> str:
    """A markdown table cell: outsiders' text scrubbed of personal numbers, no pipes."""
    return scrub(str(text)).replace("|", "\\|").replace("\n", " ")


def markdown(
    title: str, items: Sequence[WorkItem], language: Language, timezone: str, at: datetime
) -> str:
    """A worklist as a Prefect markdown artifact: most urgent first, at most
    :data:`ARTIFACT_ROWS` rows (the rest counted), references and codes only."""
    late = sum(1 for i in items if i.late)
    lines = [
        f"## {title}",
        "",
        say(
            "artifact_summary",
            language,
            at=at.astimezone(ZoneInfo(timezone)).strftime("%H:%M %d/%m/%Y"),
            count=len(items),
            late=late,
        ),
        "",
    ]
    if not items:
        return "\n".join([*lines, say("nothing_to_do", language)]) + "\n"
    lines += [
        "| " + " | ".join(say("artifact_columns", language).split(";")) + " |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in items[:ARTIFACT_ROWS]:
        text = line(item, language, timezone)
        cells = (
            text.reference,
            text.commune_code,
            text.status,
            ("**" + text.lateness + "**") if text.late else text.lateness,
            "<br>".join(text.tasks),
            "<br>".join(f"`{c}`" for c in text.commands),
            local_day(item.due_at, timezone),
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if len(items) > ARTIFACT_ROWS:
        lines += ["", say("artifact_more", language, count=len(items) - ARTIFACT_ROWS)]
    return "\n".join(lines) + "\n"


# A province's list can be long: the artifact shows the most urgent; `lienthong list` all.
ARTIFACT_ROWS = 200
