"""Supplements as a use case, on the fake unit of work: a supplement may only change the
sections of the step that asked for it, is kept, reopens that step under a new key and
restarts the statutory clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lienthong.adapters.errors import SupplementRequired
from lienthong.bootstrap import use_container
from lienthong.cli import database as cli_database
from lienthong.cli import main
from lienthong.models.clock import ManualClock
from lienthong.models.lifecycle import DossierNotFound
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.models.supplements import SUPPLEMENT_SECTIONS, SupplementNotAllowed, merged_payload
from lienthong.models.validation import DossierInvalid
from lienthong.services.begin_step import begin_step
from lienthong.services.container import Container
from lienthong.services.finish_step import finish_step
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.step_outcomes import outcome_of
from lienthong.services.supplements import NotAwaitingSupplement, record_supplement
from tests.fakes import FakeStore
from tests.helpers import act_as, example, request_supplement_at

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
OPERATOR = Actor("operator-5")
BIRTH = "HT-2026-001002"  # birth, all three steps
DEATH = "HT-2026-001008"  # death, scope 4: all four steps


def _awaiting_supplement(container: Container, reference: str, waiting: StepKind) -> str:
    """Receive the demo dossier; earlier steps succeed, ``waiting`` asks for a supplement."""
    assert receive(container, example(f"demo/{reference}"), OPERATOR).accepted
    request_supplement_at(container, reference, waiting, OPERATOR)
    return reference


def _state(store: FakeStore, reference: str) -> tuple[Any, ...]:
    """Everything a refused supplement must leave as it was."""
    dossier = store.dossiers[reference]
    assert dossier.status == DossierStatus.AWAITING_SUPPLEMENT
    return (
        json.dumps(dossier.payload, sort_keys=True),
        [(s.status, s.idempotency_key, s.missing_items) for s in dossier.steps],
        dossier.due_at,
        len(store.supplements),
        [e.hash for e in store.audit],
        len(store.notices),
        store.commits,
    )


def test_every_step_kind_says_what_a_supplement_may_change() -> None:
    assert set(SUPPLEMENT_SECTIONS) == set(StepKind)


def test_the_waiting_step_s_own_section_can_be_supplemented(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    reference = _awaiting_supplement(container, BIRTH, StepKind.RESIDENCE_REGISTRATION)
    supplement = example(f"demo/supplements/{BIRTH}")
    audited = len(store.audit)
    clock.advance(timedelta(days=1))

    assert record_supplement(container, reference, supplement, OPERATOR) == (
        "residence_registration"
    )

    dossier = store.dossiers[reference]
    assert dossier.payload["residence"]["household_head_consent"] is True
    assert dossier.status == DossierStatus.IN_PROGRESS
    residence = dossier.step(StepKind.RESIDENCE_REGISTRATION)
    assert residence.status == StepStatus.PENDING
    assert residence.missing_items is None
    assert residence.idempotency_key == f"{reference}:residence_registration:r1"
    # Kept as brought, never overwritten.
    assert store.supplements == [
        (reference, StepKind.RESIDENCE_REGISTRATION, clock.now(), "operator-5", supplement)
    ]
    events = [e.record for e in store.audit[audited:]]
    assert [(e.action, e.step_kind, e.status_before, e.status_after, e.reason) for e in events] == [
        (
            "step_status_changed",
            "residence_registration",
            "awaiting_supplement",
            "pending",
            "supplement received",
        ),
        (
            "dossier_status_changed",
            None,
            "awaiting_supplement",
            "in_progress",
            "supplement received",
        ),
    ]
    assert events[0].details == {"round": 1}
    assert all(e.actor == "operator-5" and e.occurred_at == clock.now() for e in events)


def test_each_supplement_opens_a_new_round_with_a_new_key(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    reference = _awaiting_supplement(container, BIRTH, StepKind.RESIDENCE_REGISTRATION)
    residence = StepKind.RESIDENCE_REGISTRATION
    record_supplement(container, reference, {}, OPERATOR)
    # The police ask again.
    begin_step(container, reference, residence, OPERATOR)
    asked = SupplementRequired(Agency.POLICE, "still missing", ["consent"])
    finish_step(container, reference, residence, outcome_of(asked), OPERATOR)

    record_supplement(container, reference, example(f"demo/supplements/{BIRTH}"), OPERATOR)

    step = store.dossiers[reference].step(residence)
    assert step.idempotency_key == f"{reference}:residence_registration:r2"
    assert [kind for _, kind, *_ in store.supplements] == [residence, residence]


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
    app: tuple[Container, FakeStore], supplement: dict[str, Any]
) -> None:
    container, store = app
    reference = _awaiting_supplement(container, BIRTH, StepKind.RESIDENCE_REGISTRATION)
    before = _state(store, reference)

    with pytest.raises(SupplementNotAllowed) as caught:
        record_supplement(container, reference, supplement, OPERATOR)

    message = str(caught.value)
    assert "residence_registration step" in message
    assert "it may only change residence" in message
    assert set(caught.value.sections) == set(supplement) - {"residence"}
    assert _state(store, reference) == before


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
    app: tuple[Container, FakeStore],
    waiting: StepKind,
    supplement: dict[str, Any],
    allowed: bool,
) -> None:
    container, store = app
    reference = _awaiting_supplement(container, DEATH, waiting)
    before = _state(store, reference)

    if allowed:
        assert record_supplement(container, reference, supplement, OPERATOR) == waiting.value
        dossier = store.dossiers[reference]
        assert dossier.step(waiting).status == StepStatus.PENDING
        for section, value in supplement.items():
            if isinstance(value, dict):
                assert dossier.payload[section].items() >= value.items()
            else:
                assert dossier.payload[section] == value
        return
    with pytest.raises(SupplementNotAllowed, match=f"the {waiting.value} step cannot change"):
        record_supplement(container, reference, supplement, OPERATOR)
    assert _state(store, reference) == before


def test_residence_removal_message_says_no_section_may_change() -> None:
    with pytest.raises(SupplementNotAllowed, match="may not change any dossier section"):
        merged_payload({}, {"requester": {}}, StepKind.RESIDENCE_REMOVAL)


def test_sections_are_merged_field_by_field() -> None:
    payload: dict[str, Any] = {
        "residence": {"address": "8/3 Ngô Gia Tự", "consent": False},
        "child": {"x": 1},
    }
    merged = merged_payload(
        payload, {"residence": {"consent": True}}, StepKind.RESIDENCE_REGISTRATION
    )
    assert merged == {
        "residence": {"address": "8/3 Ngô Gia Tự", "consent": True},
        "child": {"x": 1},
    }
    assert payload["residence"]["consent"] is False, "the stored payload is not changed"


def test_a_supplement_that_makes_the_dossier_invalid_changes_nothing(
    app: tuple[Container, FakeStore],
) -> None:
    container, store = app
    reference = _awaiting_supplement(container, BIRTH, StepKind.RESIDENCE_REGISTRATION)
    before = _state(store, reference)

    with pytest.raises(DossierInvalid) as caught:
        record_supplement(
            container, reference, {"residence": {"household_head_personal_id": "123"}}, OPERATOR
        )

    assert [p.path for p in caught.value.problems] == ["residence.household_head_personal_id"]
    assert _state(store, reference) == before


def test_only_a_dossier_awaiting_a_supplement_takes_one(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    assert receive(container, example(f"demo/{BIRTH}"), OPERATOR).accepted
    commits = store.commits

    with pytest.raises(NotAwaitingSupplement, match=f"{BIRTH} is received, not awaiting"):
        record_supplement(container, BIRTH, {}, OPERATOR)
    with pytest.raises(DossierNotFound):
        record_supplement(container, "HT-2026-999999", {}, OPERATOR)
    assert store.supplements == []
    assert store.commits == commits


def test_supplement_restarts_the_step_and_chain_clocks(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    """A request for supplementation stops the statutory clock; the supplement restarts it."""
    container, store = app
    # Received Monday 23 November 2026, 09:00; the police ask for supplementation that day.
    raw = example(f"demo/{BIRTH}")
    raw["received_at"] = clock.now().isoformat()
    intake = receive(container, raw, OPERATOR)
    assert intake.accepted, intake.problems
    reference = intake.reference
    deadlines = container.deadlines
    first_due = store.dossiers[reference].due_at
    assert first_due == deadlines.chain_due_at(Chain.BIRTH, clock.now())
    request_supplement_at(container, reference, StepKind.RESIDENCE_REGISTRATION, OPERATOR)
    assert first_due is not None

    # The applicant comes back the next Monday, 30 November, at 16:00 (after the cut-off).
    clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=HCM))
    record_supplement(container, reference, example(f"demo/supplements/{BIRTH}"), OPERATOR)

    dossier = store.dossiers[reference]
    assert dossier.status == DossierStatus.IN_PROGRESS
    assert dossier.clock_started_at == clock.now()
    # 3 working days counted from Tuesday 1 December (after 15:00): due Friday 4 December.
    assert dossier.due_at == datetime(2026, 12, 4, 23, 59, 59, 999999, tzinfo=HCM)
    assert dossier.due_at > first_due + timedelta(days=5)
    residence = dossier.step(StepKind.RESIDENCE_REGISTRATION)
    assert residence.status == StepStatus.PENDING
    assert residence.idempotency_key.endswith(":r1"), "a new round, a new key"

    call = begin_step(container, reference, StepKind.RESIDENCE_REGISTRATION, OPERATOR)

    assert call.idempotency_key == residence.idempotency_key
    assert call.dossier["residence"]["household_head_consent"] is True
    # The step's own 2 working days also restart: Tuesday 1 -> Thursday 3 December.
    residence = store.dossiers[reference].step(StepKind.RESIDENCE_REGISTRATION)
    assert residence.started_at == clock.now()
    assert residence.due_at == datetime(2026, 12, 3, 23, 59, 59, 999999, tzinfo=HCM)


def test_the_cli_prints_the_refusal_and_exits_1(
    app: tuple[Container, FakeStore],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    container, store = app
    reference = _awaiting_supplement(container, BIRTH, StepKind.RESIDENCE_REGISTRATION)
    act_as(container, monkeypatch, "operator:22738")
    before = _state(store, reference)
    file = tmp_path / "supplement.json"
    file.write_text(json.dumps({"child": {"full_name": "Nguyễn Văn Khác"}}), encoding="utf-8")
    # The command checks the configured database's schema first: not this test's subject.
    checked: list[str] = []
    monkeypatch.setattr(cli_database, "require_current_schema", checked.append)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", f"sqlite:///{tmp_path / 'unused.db'}")

    with use_container(container):
        status = main(["supplement", reference, str(file), "--no-run"])

    assert status == 1
    assert checked == [f"sqlite:///{tmp_path / 'unused.db'}"]
    err = capsys.readouterr().err
    assert err.startswith(
        "error: a supplement for the residence_registration step cannot change child: "
        "it may only change residence; nothing was changed"
    )
    assert _state(store, reference) == before
