"""The words people read: every status, step, chain, agency, lateness and worklist need, and
the operator-facing messages, in Vietnamese (the default) and English (for maintainers).

One table, so the CLI, the Prefect artifacts, the notices to the commune and the desk say
the same thing. The language is the ``LIENTHONG_LANGUAGE`` setting (``vi`` or ``en``).
Codes stay as they are in JSON output and the API: words are for people, codes for programs.

The names of chains, steps and agencies are those of the reporting form
(models/report_form.py), so the worklist and the report name things alike.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from lienthong.models import report_form
from lienthong.models.lateness import Timeliness
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.models.worklist import Need


class Language(StrEnum):
    VI = "vi"
    EN = "en"


Named = DossierStatus | StepStatus | StepKind | Chain | Agency | Timeliness | Need

_VI: dict[type[StrEnum], Mapping[Any, str]] = {
    DossierStatus: {
        DossierStatus.RECEIVED: "Đã tiếp nhận",
        DossierStatus.HELD: "Tạm dừng: có thể trùng hồ sơ đã có",
        DossierStatus.REJECTED: "Không đủ điều kiện tiếp nhận",
        DossierStatus.IN_PROGRESS: "Đang giải quyết",
        DossierStatus.AWAITING_SUPPLEMENT: "Chờ công dân bổ sung",
        DossierStatus.COMPLETED: "Đã giải quyết xong",
        DossierStatus.REFUSED: "Từ chối giải quyết",
        DossierStatus.WITHDRAWN: "Công dân đã rút hồ sơ",
    },
    StepStatus: {
        StepStatus.PENDING: "Chưa thực hiện",
        StepStatus.IN_PROGRESS: "Đang xử lý",
        StepStatus.AWAITING_DECISION: "Chờ cơ quan quyết định",
        StepStatus.SUCCEEDED: "Đã xong",
        StepStatus.AWAITING_SUPPLEMENT: "Chờ bổ sung",
        StepStatus.REFUSED: "Bị từ chối",
        StepStatus.FAILED: "Tạm dừng: không kết nối được cơ quan",
        StepStatus.ERROR: "Dừng do lỗi, cần người xử lý",
        StepStatus.SKIPPED: "Không áp dụng",
        StepStatus.WITHDRAWN: "Đã rút",
    },
    StepKind: report_form.STEPS,
    Chain: report_form.CHAINS,
    Agency: {
        **report_form.AGENCIES,
        Agency.PROVINCE: "Sở quản lý cấp tỉnh",
    },
    Timeliness: {
        Timeliness.ON_TIME: "Đúng hạn",
        Timeliness.LATE: "Quá hạn",
        Timeliness.WITHIN: "Trong hạn",
        Timeliness.OVERDUE: "Quá hạn",
        Timeliness.NOT_JUDGED: "Chưa tính hạn",
    },
    Need: {
        Need.SUPPLEMENT_DUE: "Chờ công dân bổ sung hồ sơ",
        Need.AWAITING_CONSENT: "Chờ ý kiến đồng ý của chủ hộ",
        Need.HAND_BACK_RESULT: "Trả kết quả cho công dân",
        Need.HAND_BACK_REFUSAL: "Trả văn bản từ chối cho công dân",
        Need.CORRECT_AND_RESUBMIT: "Hướng dẫn công dân sửa và nộp lại",
        Need.STEP_STOPPED: "Bước bị dừng, cần xử lý",
        Need.DECISION_OVERDUE: "Cơ quan quá hạn quyết định",
        Need.DUPLICATE_DECISION: "Có thể trùng hồ sơ đã có: cần người quyết định",
    },
}

_EN: dict[type[StrEnum], Mapping[Any, str]] = {
    DossierStatus: {
        DossierStatus.RECEIVED: "Received",
        DossierStatus.HELD: "Held: a potential duplicate",
        DossierStatus.REJECTED: "Rejected at intake",
        DossierStatus.IN_PROGRESS: "In progress",
        DossierStatus.AWAITING_SUPPLEMENT: "Awaiting the citizen's supplement",
        DossierStatus.COMPLETED: "Completed",
        DossierStatus.REFUSED: "Refused",
        DossierStatus.WITHDRAWN: "Withdrawn",
    },
    StepStatus: {
        StepStatus.PENDING: "Pending",
        StepStatus.IN_PROGRESS: "In progress",
        StepStatus.AWAITING_DECISION: "Awaiting the agency's decision",
        StepStatus.SUCCEEDED: "Succeeded",
        StepStatus.AWAITING_SUPPLEMENT: "Awaiting supplement",
        StepStatus.REFUSED: "Refused",
        StepStatus.FAILED: "Failed: agency unreachable",
        StepStatus.ERROR: "Stopped with an error",
        StepStatus.SKIPPED: "Not applicable",
        StepStatus.WITHDRAWN: "Withdrawn",
    },
    StepKind: {
        StepKind.BIRTH_REGISTRATION: "Birth registration",
        StepKind.RESIDENCE_REGISTRATION: "Permanent residence registration",
        StepKind.CHILD_HEALTH_CARD: "Health insurance card (child under 6)",
        StepKind.DEATH_REGISTRATION: "Death registration",
        StepKind.RESIDENCE_REMOVAL: "Removal of permanent residence",
        StepKind.FUNERAL_ALLOWANCE: "Funeral allowance",
        StepKind.SURVIVOR_BENEFITS: "Survivor benefits",
    },
    Chain: {
        Chain.BIRTH: "Birth chain",
        Chain.DEATH: "Death chain",
    },
    Agency: {
        Agency.JUSTICE: "Justice",
        Agency.POLICE: "Police",
        Agency.SOCIAL_INSURANCE: "Social insurance",
        Agency.SOCIAL_AFFAIRS: "Social affairs",
        Agency.COMMUNE: "Commune one-stop shop",
        Agency.PROVINCE: "Province",
    },
    Timeliness: {
        Timeliness.ON_TIME: "On time",
        Timeliness.LATE: "Late",
        Timeliness.WITHIN: "Within time",
        Timeliness.OVERDUE: "Overdue",
        Timeliness.NOT_JUDGED: "No deadline running",
    },
    Need: {
        Need.SUPPLEMENT_DUE: "Supplement due from the citizen",
        Need.AWAITING_CONSENT: "Waiting for the household head's consent",
        Need.HAND_BACK_RESULT: "Hand the result back to the citizen",
        Need.HAND_BACK_REFUSAL: "Hand the written refusal back to the citizen",
        Need.CORRECT_AND_RESUBMIT: "Have the citizen correct it and resubmit",
        Need.STEP_STOPPED: "Step stopped: needs a person",
        Need.DECISION_OVERDUE: "Agency decision overdue",
        Need.DUPLICATE_DECISION: "Potential duplicate: a person decides",
    },
}

# By type first: a step's ``in_progress`` is not a dossier's, though as StrEnum members of
# equal value they would be one dictionary key.
WORDS: Mapping[Language, Mapping[type[StrEnum], Mapping[Any, str]]] = {
    Language.VI: _VI,
    Language.EN: _EN,
}


def word(value: Named, language: Language = Language.VI) -> str:
    """The word people read for a status, step, chain, agency, lateness or need."""
    return WORDS[language][type(value)][value]


# Operator-facing messages. Placeholders are the same in both languages (a test checks).
PHRASES: Mapping[str, Mapping[Language, str]] = {
    "received": {
        Language.VI: "Đã tiếp nhận  {reference} ({chain})",
        Language.EN: "received  {reference} ({chain})",
    },
    "late_filing": {
        Language.VI: " — đăng ký quá hạn: {reason}",
        Language.EN: " — late filing: {reason}",
    },
    "rejected": {
        Language.VI: "KHÔNG TIẾP NHẬN  {reference}: đã lưu kèm lý do; sửa tệp rồi nộp lại "
        "(cùng số hồ sơ): lienthong submit {path}",
        Language.EN: "REJECTED  {reference}: kept on record with its reasons; correct the file, "
        "then (same reference): lienthong submit {path}",
    },
    "resubmitted": {
        Language.VI: " — nộp lại sau khi sửa (lần từ chối vẫn lưu trong nhật ký)",
        Language.EN: " — resubmitted corrected (the rejection stays in the audit trail)",
    },
    "handed_back": {
        Language.VI: "Đã trả cho công dân  {reference} ({status})",
        Language.EN: "handed back  {reference} ({status})",
    },
    "withdrawn": {
        Language.VI: "Đã rút hồ sơ  {reference}: {reason}",
        Language.EN: "withdrawn {reference}: {reason}",
    },
    "supplement_recorded": {
        Language.VI: "Đã nhận bổ sung cho {reference}; bước {step} sẽ được gửi lại",
        Language.EN: "supplement recorded for {reference}; {step} will be sent again",
    },
    "supplement_parked": {
        Language.VI: "Chưa chạy tiếp; đợt quét tiếp theo sẽ chạy, hoặc: lienthong run {reference}",
        Language.EN: "not run now; the next sweep runs it, or: lienthong run {reference}",
    },
    "worklist_title": {
        Language.VI: "Danh sách hồ sơ: {unit} — {count} hồ sơ, lúc {at}",
        Language.EN: "Dossiers: {unit} — {count}, at {at}",
    },
    "cannot_hand_back": {
        Language.VI: "không trả được {reference}: {why}",
        Language.EN: "cannot hand back {reference}: {why}",
    },
    "queued": {
        Language.VI: "Đã chuyển cho máy chạy  {reference}: lượt chạy {run}",
        Language.EN: "queued    {reference}: flow run {run}",
    },
    "dossier_title": {
        Language.VI: "Hồ sơ {reference} — {chain}",
        Language.EN: "Dossier {reference} — {chain}",
    },
    "dossier_state": {
        Language.VI: "Trạng thái: {status} · {lateness} · xã/phường {commune} · hạn {due}",
        Language.EN: "Status: {status} · {lateness} · commune {commune} · due {due}",
    },
    "step_line": {
        Language.VI: "  {position}. {step} — {agency}: {status} ({lateness}), hạn {due}, "
        "số lần gửi {attempts}, số của cơ quan {agency_reference}",
        Language.EN: "  {position}. {step} — {agency}: {status} ({lateness}), due {due}, "
        "attempts {attempts}, agency reference {agency_reference}",
    },
    "missing": {
        Language.VI: "thiếu: {items}",
        Language.EN: "missing: {items}",
    },
    "timeline": {
        Language.VI: "Nhật ký:",
        Language.EN: "Timeline:",
    },
    "handed_back_at": {
        Language.VI: "Đã trả cho công dân lúc {at}",
        Language.EN: "Handed back to the citizen at {at}",
    },
    "waiting_refused": {
        Language.VI: "{reference} đang chờ: {what}; lượt chạy {run} sẽ tự tiếp tục khi {when}: "
        "không chạy thêm",
        Language.EN: "{reference} is {what}; its run {run} resumes when {when}: nothing started",
    },
    "resumes_on_supplement": {
        Language.VI: "nhận được bổ sung (lienthong supplement {reference} FILE.json)",
        Language.EN: "the supplement is recorded (lienthong supplement {reference} FILE.json)",
    },
    "resumes_on_decision": {
        Language.VI: "cơ quan gửi quyết định (lienthong api nhận; lienthong sweep hỏi lại khi "
        "quá hạn)",
        Language.EN: "the decision is recorded (lienthong api receives it; lienthong sweep polls "
        "for an overdue one)",
    },
    "supplement_refused": {
        Language.VI: "không nhận bổ sung cho {reference}; không có gì thay đổi:",
        Language.EN: "supplement for {reference} not accepted; nothing changed:",
    },
    "waiting_supplement": {
        Language.VI: "chờ công dân bổ sung ({step}), hạn {due}",
        Language.EN: "waiting for the citizen's supplement ({step}), due {due}",
    },
    "waiting_decision": {
        Language.VI: "chờ quyết định của {agency} về {step}{verification} từ {since}, hạn {due}",
        Language.EN: "waiting for {agency} decision on {step}{verification} since {since}, "
        "due {due}",
    },
    "verification": {
        Language.VI: " (phải xác minh)",
        Language.EN: " (verification)",
    },
    "artifact_summary": {
        Language.VI: "Cập nhật lúc {at} · {count} hồ sơ cần xử lý · {late} hồ sơ quá hạn",
        Language.EN: "Updated at {at} · {count} dossiers need a person · {late} late",
    },
    "artifact_columns": {
        Language.VI: "Số hồ sơ;Xã/phường;Trạng thái;Trong/quá hạn;Việc cần làm;Lệnh;Hạn giải quyết",
        Language.EN: "Reference;Commune;Status;Lateness;To do;Command;Chain due",
    },
    "timeline_columns": {
        Language.VI: "#;Thủ tục;Cơ quan;Trạng thái;Số lần gửi;Số của cơ quan;Hạn;Trong/quá hạn;"
        "Lý do",
        Language.EN: "#;Step;Agency;Status;Attempts;Agency reference;Due;Lateness;Reason",
    },
    "artifact_more": {
        Language.VI: "… và {count} hồ sơ nữa: lienthong list",
        Language.EN: "… and {count} more: lienthong list",
    },
    "worklist_of_commune": {
        Language.VI: "Việc cần xử lý — xã/phường {code}",
        Language.EN: "Worklist — commune {code}",
    },
    "worklist_of_province": {
        Language.VI: "Việc cần xử lý — tỉnh/thành phố {code}",
        Language.EN: "Worklist — province {code}",
    },
    "prefect_not_updated": {
        Language.VI: "CẢNH BÁO  đã ghi nhận, nhưng chưa cập nhật được Prefect ({reason}); lần "
        "chạy hoặc lần quét sau sẽ cập nhật",
        Language.EN: "WARNING   recorded, but Prefect was not updated ({reason}); the next run "
        "or sweep updates it",
    },
    "run_stopped": {
        Language.VI: "{step}: {status} ({reason}); chạy lại: lienthong run {reference}",
        Language.EN: "{step}: {status} ({reason}); resume with: lienthong run {reference}",
    },
    "run_refused": {
        Language.VI: "từ chối giải quyết: {reason}",
        Language.EN: "refused: {reason}",
    },
    "run_withdrawn": {
        Language.VI: "công dân đã rút hồ sơ",
        Language.EN: "withdrawn by the applicant",
    },
    "run_done": {
        Language.VI: "hồ sơ {status}",
        Language.EN: "dossier {status}",
    },
    "waiting_now": {
        Language.VI: "Đang {what}",
        Language.EN: "Now {what}",
    },
    "nothing_to_do": {
        Language.VI: "Không có hồ sơ nào cần xử lý.",
        Language.EN: "Nothing needs a person.",
    },
    "supplement_by": {
        Language.VI: "hạn bổ sung {date}",
        Language.EN: "supplement by {date}",
    },
    "due_on": {
        Language.VI: "hạn {date}",
        Language.EN: "due {date}",
    },
}


# What the audit trail's actions are called in a timeline people read; other actions are
# shown as their code with spaces.
ACTIONS: Mapping[str, Mapping[Language, str]] = {
    "dossier_received": {Language.VI: "tiếp nhận hồ sơ", Language.EN: "dossier received"},
    "dossier_rejected": {Language.VI: "không tiếp nhận", Language.EN: "rejected at intake"},
    "dossier_resubmitted": {
        Language.VI: "nộp lại sau khi sửa",
        Language.EN: "resubmitted corrected",
    },
    "dossier_status_changed": {Language.VI: "hồ sơ", Language.EN: "dossier"},
    "step_status_changed": {Language.VI: "bước", Language.EN: "step"},
    "step_resumed": {Language.VI: "gửi lại (tiếp tục)", Language.EN: "step resumed"},
    "step_verification_needed": {
        Language.VI: "cơ quan cần xác minh",
        Language.EN: "verification needed",
    },
    "handed_back": {Language.VI: "trả cho công dân", Language.EN: "handed back"},
    "decision_reminder_sent": {
        Language.VI: "nhắc cơ quan quyết định",
        Language.EN: "decision reminder sent",
    },
    "decision_escalated": {
        Language.VI: "báo cáo xã và tỉnh: quá hạn quyết định",
        Language.EN: "late decision escalated",
    },
    "supplement_window_lapsed": {
        Language.VI: "hết hạn bổ sung",
        Language.EN: "supplementation window lapsed",
    },
}


def action_word(action: str, language: Language = Language.VI) -> str:
    """An audit action as a timeline shows it."""
    named = ACTIONS.get(action)
    return named[language] if named else action.replace("_", " ")


def say(key: str, language: Language = Language.VI, **values: object) -> str:
    """A message in ``language`` with its placeholders filled."""
    return PHRASES[key][language].format(**values)


def placeholders(template: str) -> set[str]:
    """The names a message template fills in (for the consistency test)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def local_day(moment: datetime | None, timezone: str) -> str:
    """A day as people write it in Vietnam (07/03/2025), in the local time zone."""
    return "-" if moment is None else f"{moment.astimezone(ZoneInfo(timezone)):%d/%m/%Y}"


def day_time(at: str | None) -> str:
    """A local ISO time (as the views hold them) as people read it: 25/11/2026 23:59."""
    return "-" if at is None else f"{datetime.fromisoformat(at):%d/%m/%Y %H:%M}"
