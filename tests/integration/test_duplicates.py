"""Potential duplicates on the real databases (SQLite and PostgreSQL): intake finds them
through the match-key index across references and communes, two copies received at once
do not miss each other, decisions are stored and audited, and the report's figures count
them. The rules themselves are tests/unit/test_duplicate_rules.py."""

from __future__ import annotations

import dataclasses
import threading
import unicodedata
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from lienthong.adapters import tables
from lienthong.models.clock import ManualClock
from lienthong.models.duplicates import Decision, DuplicateFigures, MatchRule
from lienthong.models.report import Period, Scope
from lienthong.models.status import DossierStatus, StepStatus
from lienthong.services.audit_trail import verify
from lienthong.services.container import Container
from lienthong.services.duplicates import duplicate_figures, held_dossier, held_dossiers, resolve
from lienthong.services.intake import IntakeResult, receive
from lienthong.services.ledger import Actor
from lienthong.services.report import monthly_report
from lienthong.services.report_html import render_html
from lienthong.services.report_render import render_table
from tests.conftest import record_session
from tests.helpers import example, example_with

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
OPERATOR = Actor("operator-3")
FIRST = "HT-2026-000123"
NOVEMBER = Period.of_month("2026-11", HCM)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 9, tzinfo=HCM))


@pytest.fixture
def app(container: Container, clock: ManualClock) -> Container:
    return dataclasses.replace(container, clock=clock)


def test_the_same_child_is_held_across_references_and_communes(app: Container) -> None:
    receive(app, example("birth-valid"), OPERATOR)
    other_commune = example_with(
        "birth-valid",
        "HT-2026-000200",
        medical_birth_certificate__number="gcs 2026 004512",
        child__full_name=unicodedata.normalize("NFD", "Nguyễn Ngọc Bảo An"),
    )
    other_commune["jurisdiction"]["commune_code"] = "22741"
    other_commune["jurisdiction"]["commune_name"] = "Phường Bảo An"

    result = receive(app, other_commune, OPERATOR)

    assert sorted((m.reference, m.rule) for m in result.held_for) == [
        (FIRST, MatchRule.BIRTH_CERTIFICATE),
        (FIRST, MatchRule.MOTHER_BIRTH_NAME),
    ]
    (held,) = held_dossiers(app)
    assert (held.reference, held.status, held.commune_code) == (
        "HT-2026-000200",
        DossierStatus.HELD,
        "22741",
    )
    assert [m.reference for m in held.matches] == [FIRST]
    with record_session(app) as session:
        keys = session.scalar(select(func.count()).select_from(tables.MatchKey))
    assert keys == 4


def test_a_dossier_with_nothing_in_common_is_not_held(app: Container) -> None:
    receive(app, example("birth-valid"), OPERATOR)
    twin = example_with(
        "birth-valid",
        "HT-2026-000201",
        medical_birth_certificate__number="GCS-2026-004513",
        child__full_name="Nguyễn Ngọc Bảo Châu",
    )
    assert receive(app, twin, OPERATOR).held_for == ()
    assert held_dossiers(app) == []


def test_two_copies_received_at_once_do_not_miss_each_other(app: Container) -> None:
    """Two threads, each on its own connection, the same child under two references: the
    per-key lock (PostgreSQL) or the immediate transaction (SQLite) orders them."""
    copies = [example_with("birth-valid", f"HT-2026-00030{i}") for i in range(2)]
    start = threading.Barrier(2)
    outcomes: list[IntakeResult | BaseException] = []

    def intake(raw: dict[str, Any]) -> None:
        start.wait()
        try:
            outcomes.append(receive(app, raw, OPERATOR))
        except BaseException as exc:  # checked below
            outcomes.append(exc)

    threads = [threading.Thread(target=intake, args=(raw,)) for raw in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    results = [o for o in outcomes if isinstance(o, IntakeResult)]
    assert len(results) == 2, outcomes
    assert sorted(len(r.held_for) for r in results) == [0, 2]


def test_decisions_are_stored_audited_and_counted(app: Container, clock: ManualClock) -> None:
    receive(app, example("birth-valid"), OPERATOR)
    for n in range(1, 5):
        receive(app, example_with("birth-valid", f"HT-2026-00040{n}"), OPERATOR)
    clock.advance(timedelta(hours=1))
    resolve(app, "HT-2026-000401", Decision.DISTINCT, reason="twins", actor=OPERATOR)
    resolve(app, "HT-2026-000402", Decision.MERGE, reason="same child", actor=OPERATOR, into=FIRST)
    resolve(app, "HT-2026-000403", Decision.REJECT, reason="sent twice", actor=OPERATOR)

    merged = held_dossier(app, "HT-2026-000402")
    assert (merged.status, merged.decision, merged.merged_into, merged.decided_by) == (
        DossierStatus.REJECTED,
        Decision.MERGE,
        FIRST,
        "operator-3",
    )
    with app.unit_of_work() as uow:
        closed = uow.dossiers.get("HT-2026-000403")
        assert {s.status for s in closed.steps} == {StepStatus.SKIPPED}
        assert uow.dossiers.get("HT-2026-000401").status == DossierStatus.RECEIVED
    assert [h.reference for h in held_dossiers(app)] == ["HT-2026-000404"]
    assert duplicate_figures(app, NOVEMBER) == DuplicateFigures(
        held=4, distinct=1, merged=1, rejected=1, still_held=1
    )
    commune = example("birth-valid")["jurisdiction"]["commune_code"]
    assert duplicate_figures(app, NOVEMBER, Scope(commune=commune)).held == 4
    assert duplicate_figures(app, NOVEMBER, Scope(commune="00000")).held == 0
    october = Period.of_month("2026-10", HCM)
    assert duplicate_figures(app, october) == DuplicateFigures(0, 0, 0, 0, 0)
    # The monthly report gives the same figures, in its text and on the page a province files.
    report = monthly_report(app, NOVEMBER, Scope())
    assert report.duplicates == duplicate_figures(app, NOVEMBER)
    assert (
        "Potential duplicates: 4 held at intake; decided: 1 distinct, 1 merged, 1 rejected; "
        in (render_table(report))
    )
    assert "(tạm dừng khi tiếp nhận): 4;" in render_html(report)
    # Every status change is in the hash chain, and replaying it gives the rows' statuses.
    outcome = verify(app)
    assert outcome.intact, outcome
