"""A supplement may only change the sections of the step that asked for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lienthong import runtime
from lienthong.bootstrap import Container
from lienthong.cli import main
from lienthong.intake import receive
from lienthong.ledger import Actor
from lienthong.supplements import (
    SUPPLEMENT_SECTIONS,
    SupplementNotAllowed,
    merged_payload,
    record_supplement,
)
from models.status import DossierStatus, StepKind
from models.tables import Supplement
from tests.helpers import request_supplement_at

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPERATOR = Actor("operator-5")
BIRTH = "HT-2026-001002"  # birth, all three steps
DEATH = "HT-2026-001008"  # death, scope 4: all four steps


def _awaiting_supplement(container: Container, reference: str, waiting: StepKind) -> str:
    """Receive the demo dossier; earlier steps succeed, ``waiting`` asks for a supplement."""
    raw = json.loads((EXAMPLES / "demo" / f"{reference}.json").read_text(encoding="utf-8"))
    assert receive(container, raw, OPERATOR).accepted
    request_supplement_at(container, reference, waiting, OPERATOR)
    return reference


def _payload_and_supplements(container: Container, reference: str) -> tuple[dict[str, Any], int]:
    with container.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        assert dossier.status == DossierStatus.AWAITING_SUPPLEMENT
        count = uow.session.scalar(
            select(func.count()).select_from(Supplement).where(Supplement.dossier_id == dossier.id)
        )
        return dict(dossier.payload), int(count or 0)


def test_every_step_kind_says_what_a_supplement_may_change() -> None:
    assert set(SUPPLEMENT_SECTIONS) == set(StepKind)


def test_the_waiting_step_s_own_section_can_be_supplemented(container: Container) -> None:
    reference = _awaiting_supplement(container, BIRTH, StepKind.RESIDENCE_REGISTRATION)
    supplement = json.loads(
        (EXAMPLES / "demo" / "supplements" / f"{BIRTH}.json").read_text(encoding="utf-8")
    )

    assert record_supplement(container, reference, supplement, OPERATOR) == (
        "residence_registration"
    )
    with container.unit_of_work() as uow:
        assert uow.dossiers.get(reference).payload["residence"]["household_head_consent"] is True


@pytest.mark.parametrize(
    "supplement",
    [
        {"child": {"full_name": "Nguyễn Văn Khác"}},  # Justice registered the child already
        {"reference": "HT-2026-009999"},
        {"chain": "death"},
        {"received_at": "2026-11-21T09:00:00+07:00"},
        {"jurisdiction": {"commune_name": "Phường Khác"}},
        {"chain_opt_in": False},
        {"healthcare_facility": {"name": "Trạm y tế khác"}},  # the next step's, not this one's
        {"residence": {"household_head_consent": True}, "mother": {"full_name": "Lê Thị B"}},
    ],
    ids=lambda s: "+".join(s),
)
def test_sections_outside_the_waiting_step_are_refused_and_nothing_changes(
    container: Container, supplement: dict[str, Any]
) -> None:
    reference = _awaiting_supplement(container, BIRTH, StepKind.RESIDENCE_REGISTRATION)
    before = _payload_and_supplements(container, reference)

    with pytest.raises(SupplementNotAllowed) as caught:
        record_supplement(container, reference, supplement, OPERATOR)

    message = str(caught.value)
    assert "residence_registration step" in message
    assert "it may only change residence" in message
    assert set(caught.value.sections) == set(supplement) - {"residence"}
    assert _payload_and_supplements(container, reference) == before


@pytest.mark.parametrize(
    ("waiting", "supplement", "allowed"),
    [
        (StepKind.FUNERAL_ALLOWANCE, {"contribution_months": 200}, True),
        (StepKind.SURVIVOR_BENEFITS, {"requester": {"relationship": "vợ"}}, True),
        (StepKind.FUNERAL_ALLOWANCE, {"scope": 2}, False),
        (StepKind.FUNERAL_ALLOWANCE, {"funeral_payer_basis": "none"}, False),
        (StepKind.SURVIVOR_BENEFITS, {"deceased": {"full_name": "Trần Văn Khác"}}, False),
        (StepKind.RESIDENCE_REMOVAL, {}, True),
        (StepKind.RESIDENCE_REMOVAL, {"requester": {"relationship": "vợ"}}, False),
        (StepKind.RESIDENCE_REMOVAL, {"death": {"place": "Nhà riêng"}}, False),
    ],
)
def test_death_chain_supplements(
    container: Container, waiting: StepKind, supplement: dict[str, Any], allowed: bool
) -> None:
    reference = _awaiting_supplement(container, DEATH, waiting)
    before = _payload_and_supplements(container, reference)

    if allowed:
        assert record_supplement(container, reference, supplement, OPERATOR) == waiting.value
        return
    with pytest.raises(SupplementNotAllowed, match=f"the {waiting.value} step cannot change"):
        record_supplement(container, reference, supplement, OPERATOR)
    assert _payload_and_supplements(container, reference) == before


def test_residence_removal_message_says_no_section_may_change() -> None:
    with pytest.raises(SupplementNotAllowed, match="may not change any dossier section"):
        merged_payload({}, {"requester": {}}, StepKind.RESIDENCE_REMOVAL)


def test_the_cli_prints_the_refusal_and_exits_1(
    container: Container,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reference = _awaiting_supplement(container, BIRTH, StepKind.RESIDENCE_REGISTRATION)
    before = _payload_and_supplements(container, reference)
    file = tmp_path / "supplement.json"
    file.write_text(json.dumps({"child": {"full_name": "Nguyễn Văn Khác"}}), encoding="utf-8")
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    runtime.install(container)
    try:
        status = main(["supplement", reference, str(file), "--no-run"])
    finally:
        runtime.install(None)

    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "error: a supplement for the residence_registration step cannot change child: "
        "it may only change residence; nothing was changed"
    )
    assert _payload_and_supplements(container, reference) == before
