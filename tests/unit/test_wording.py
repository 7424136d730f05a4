"""Every word people read exists in Vietnamese and English, and no message loses a value."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from lienthong.models.lateness import Timeliness
from lienthong.models.notice_text import summaries
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.models.wording import (
    ACTIONS,
    PHRASES,
    Language,
    action_word,
    placeholders,
    say,
    word,
)
from lienthong.models.worklist import Need
from lienthong.services.container import Container
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.settings import Settings
from tests.fakes import FakeStore
from tests.helpers import example, request_supplement_at

NAMED = [*DossierStatus, *StepStatus, *StepKind, *Chain, *Agency, *Timeliness, *Need]


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("value", NAMED, ids=lambda v: f"{type(v).__name__}.{v.value}")
def test_every_status_step_chain_agency_and_need_has_a_word(
    value: DossierStatus, language: Language
) -> None:
    text = word(value, language)
    assert text
    assert not re.search(r"[a-z]_[a-z]", text), text  # words, not snake_case


def test_vietnamese_is_not_english() -> None:
    assert word(DossierStatus.AWAITING_SUPPLEMENT) == "Chờ công dân bổ sung"
    assert sum(word(v) != word(v, Language.EN) for v in NAMED) == len(NAMED)


@pytest.mark.parametrize("key", sorted(PHRASES))
def test_every_message_has_both_languages_with_the_same_placeholders(key: str) -> None:
    assert set(PHRASES[key]) == set(Language)
    assert placeholders(PHRASES[key][Language.VI]) == placeholders(PHRASES[key][Language.EN])


def test_the_language_is_a_setting_vietnamese_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().language == Language.VI
    monkeypatch.setenv("LIENTHONG_LANGUAGE", "en")
    assert Settings().language == Language.EN
    assert say("withdrawn", Settings().language, reference="R", reason="x") == "withdrawn R: x"


def test_every_audit_action_word_has_both_languages() -> None:
    assert all(set(words) == set(Language) for words in ACTIONS.values())
    assert action_word("handed_back") == "trả cho công dân"
    assert action_word("some_new_action", Language.EN) == "some new action"


def test_notices_say_what_happened_in_vietnamese_and_english(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    reference = receive(container, example("demo/HT-2026-001002"), Actor("op")).reference
    request_supplement_at(container, reference, StepKind.RESIDENCE_REGISTRATION, Actor("op"))
    told = [
        n.notice.payload
        for n in store.notices
        if n.notice.payload.get("status") == (StepStatus.AWAITING_SUPPLEMENT)
    ]
    assert told
    assert told[0]["summary"] == (
        "Hồ sơ HT-2026-001002 (Khai sinh - thường trú - thẻ BHYT trẻ em dưới 6 tuổi): "
        "Đăng ký thường trú — Công an; Chờ bổ sung."
    )
    assert told[0]["summary_en"] == (
        "Dossier HT-2026-001002 (Birth chain): Permanent residence registration — Police; "
        "Awaiting supplement."
    )
    assert "058095774216" not in str(told[0]["summary"])  # no personal data


def test_a_sweep_notice_says_why_and_by_when() -> None:
    due = datetime(2026, 12, 2, 16, 59, tzinfo=UTC)
    words = summaries(
        "HT-1",
        event="decision.escalated",
        step=StepKind.RESIDENCE_REGISTRATION,
        status=StepStatus.AWAITING_DECISION,
        agency=Agency.POLICE,
        due_at=due,
        timezone="Asia/Ho_Chi_Minh",
    )
    assert words["summary"].endswith(
        "quá hạn quyết định từ một ngày làm việc trở lên; hạn 02/12/2026."
    )
