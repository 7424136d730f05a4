"""How the desk's pages write times, places and people (Jinja2 filters)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment

from lienthong.api.desk.fields import SECTIONS
from lienthong.models.jurisdictions import current_commune
from lienthong.models.lateness import Timeliness
from lienthong.models.people import people_of
from lienthong.models.status import DossierStatus, StepKind, StepStatus
from lienthong.models.wording import Language, Named, word
from lienthong.services.ledger import SYSTEM_ACTOR
from lienthong.services.views import Waiting

_SECTION_TITLES = {s.name: s.title for sections in SECTIONS.values() for s in sections}
# The audit trail's actions as the timeline names them (the codes: models/lifecycle.py, the
# sweep's services/resumptions.py and overdue_notices.py, services/refusals.py).
EVENT_WORDS = {
    "dossier_received": "Tiếp nhận hồ sơ",
    "dossier_rejected": "Không tiếp nhận: hồ sơ không hợp lệ",
    "dossier_status_changed": "Hồ sơ chuyển trạng thái",
    "step_status_changed": "Bước chuyển trạng thái",
    "step_resumed": "Tiếp tục bước sau khi bổ sung",
    "step_verification_needed": "Cần xác minh",
    "handed_back": "Đã trả kết quả cho công dân",
    "access_refused": "Từ chối truy cập",
    "supplement_window_lapsed": "Hết hạn bổ sung",
    "overdue_notified": "Thông báo quá hạn",
    "decision_reminder_sent": "Nhắc cơ quan quyết định",
    "decision_escalated": "Báo cáo cấp tỉnh: cơ quan quá hạn",
    "due_soon_notified": "Thông báo sắp đến hạn",
    "chain_overdue_notified": "Thông báo hồ sơ quá hạn",
    "stuck_step_resumed": "Chạy lại bước bị treo",
    "stalled_dossier_started": "Bắt đầu hồ sơ chưa chạy",
    "stalled_chain_continued": "Chạy tiếp hồ sơ bị dừng",
}
_TONES = {
    DossierStatus.AWAITING_SUPPLEMENT: "needs",
    DossierStatus.REFUSED: "bad",
    DossierStatus.REJECTED: "bad",
    DossierStatus.COMPLETED: "good",
}


def when(value: str | datetime | None) -> str:
    """A local time as the desk writes it: ``09:15 20/11/2026`` (empty when none)."""
    if value is None or value == "":
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.strftime("%H:%M %d/%m/%Y")


def day(value: str | datetime | None) -> str:
    """A due date: the day only (a due instant is the end of its working day)."""
    if value is None or value == "":
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.strftime("%d/%m/%Y")


def clock(moment: datetime) -> str:
    """A time as the slip writes it: ``9 giờ 15 phút, ngày 20 tháng 11 năm 2026``."""
    return (
        f"{moment.hour} giờ {moment.minute:02d} phút, ngày {moment.day:02d} "
        f"tháng {moment.month:02d} năm {moment.year}"
    )


def appointment(moment: datetime) -> str:
    """The day the result is returned, as the slip writes it: the due instant is the end of
    that working day, so the citizen comes during its office hours."""
    return f"trong giờ làm việc ngày {moment.day:02d} tháng {moment.month:02d} năm {moment.year}"


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


def event_name(action: str) -> str:
    return EVENT_WORDS.get(action, f"Sự kiện khác ({action})")


def actor_name(actor: str, names: Mapping[str, str]) -> str:
    """Who did it: the system, or a client by its name (``names``: actor id -> name)."""
    if actor == SYSTEM_ACTOR:
        return "Hệ thống"
    return names.get(actor, actor)


def status_tone(status: DossierStatus) -> str:
    """The badge's colour class: a refusal is not shown like a completion."""
    return _TONES.get(status, "")


def tone(timeliness: Timeliness) -> str:
    """The colour class of a lateness: late in red, on time or within in green, not judged
    (no clock running) plain."""
    if timeliness.late:
        return "late"
    return "muted" if timeliness == Timeliness.NOT_JUDGED else "ontime"


def install(environment: Environment, language: Language, timezone: str) -> None:
    """The desk's filters, its words in ``language`` (models/wording.py), its times local."""

    def local(moment: datetime | None) -> str:
        return "" if moment is None else when(moment.astimezone(ZoneInfo(timezone)))

    def local_day(moment: datetime | None) -> str:
        return "" if moment is None else day(moment.astimezone(ZoneInfo(timezone)))

    def named(value: Named) -> str:
        return word(value, language)

    def event_status(event: Mapping[str, Any]) -> str:
        """The status an audit event left: its step's, or else the dossier's."""
        code = event.get("after")
        if not isinstance(code, str):
            return ""
        kind = StepStatus if event.get("step") else DossierStatus
        return named(kind(code)) if code in kind.__members__.values() else code

    def waiting_words(waiting: Waiting) -> str:
        step = named(waiting.kind)
        if waiting.status == StepStatus.AWAITING_SUPPLEMENT:
            return f"Công dân bổ sung cho bước {step}, hạn {day(waiting.due)}"
        return (
            f"{named(waiting.agency)} quyết định bước {step} (từ {when(waiting.since)}), "
            f"hạn {day(waiting.due)}"
        )

    environment.filters.update(
        when=when,
        local=local,
        clock=clock,
        appointment=appointment,
        commune_name=commune_name,
        people=people,
        event_name=event_name,
        actor_name=actor_name,
        status_tone=status_tone,
        word=named,
        event_status=event_status,
        day=day,
        local_day=local_day,
        waiting_words=waiting_words,
        step_word=lambda code: named(StepKind(code)),
        late=lambda timeliness: Timeliness(timeliness).late,
        tone=tone,
    )
