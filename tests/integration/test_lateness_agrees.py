"""One lateness rule everywhere: for the same dossiers, ``lienthong status`` (the views), the
worklist, the worklist artifact and the monthly report give the same late / on-time answer
(issue 12, point 4; the desk adds itself here).

Each dossier sits alone in its own commune, so the report scoped to that commune is the
report's answer for that dossier. The report is for November 2026, produced at its end:
the instant every other view judges at.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from lienthong.adapters import tables
from lienthong.models.clock import ManualClock
from lienthong.models.lateness import Timeliness
from lienthong.models.report import Period, Scope
from lienthong.models.status import StepKind, StepStatus
from lienthong.models.wording import word
from lienthong.models.worklist import DossierQuery, WorkFilter
from lienthong.models.worklist_text import markdown
from lienthong.services.begin_step import begin_step
from lienthong.services.container import Container
from lienthong.services.finish_step import finish_step
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.report import monthly_report
from lienthong.services.step_outcomes import StepOutcome
from lienthong.services.supplements import record_supplement
from lienthong.services.views import load_view
from lienthong.services.worklist import worklist
from lienthong.tasks.timeline import render_timeline
from tests.conftest import record_session
from tests.helpers import another_child, example

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=HCM)
END = datetime(2026, 12, 1, 0, 0, tzinfo=HCM)  # the report's instant: November's end
OPERATOR = Actor("operator-4")
BIRTH, RESIDENCE, CARD = (
    StepKind.BIRTH_REGISTRATION,
    StepKind.RESIDENCE_REGISTRATION,
    StepKind.CHILD_HEALTH_CARD,
)


@pytest.fixture
def app(container: Container) -> tuple[Container, ManualClock]:
    clock = ManualClock(MONDAY)
    return replace(container, clock=clock), clock


class Desk:
    """Brings one dossier, alone in its commune, through the services."""

    def __init__(self, container: Container, clock: ManualClock) -> None:
        self.container, self.clock = container, clock
        self.communes: dict[str, str] = {}

    def receive(self, number: int) -> str:
        raw = another_child(example("birth-valid"), f"HT-2026-0099{number:02d}")
        raw["received_at"] = self.clock.now().isoformat()
        result = receive(self.container, raw, OPERATOR)
        assert result.accepted, result.problems
        commune = f"9{number:04d}"
        with record_session(self.container) as session:
            session.execute(
                update(tables.Dossier)
                .where(tables.Dossier.reference == result.reference)
                .values(commune_code=commune)
            )
            session.commit()
        self.communes[result.reference] = commune
        return result.reference

    def step(self, reference: str, kind: StepKind, outcome: StepOutcome) -> None:
        begin_step(self.container, reference, kind, OPERATOR)
        finish_step(self.container, reference, kind, outcome, OPERATOR)

    def succeed(self, reference: str, *kinds: StepKind) -> None:
        for kind in kinds:
            self.step(reference, kind, StepOutcome(StepStatus.SUCCEEDED, agency_reference="AG"))


def _cases(desk: Desk, clock: ManualClock) -> dict[str, str]:
    """Dossiers in every state lateness is judged in; what each one is (for messages)."""
    cases: dict[str, str] = {}
    on_time = desk.receive(1)
    desk.succeed(on_time, BIRTH, RESIDENCE, CARD)
    cases[on_time] = "completed on time"
    returned_in_time = desk.receive(2)
    desk.succeed(returned_in_time, BIRTH)
    asked = StepOutcome(StepStatus.AWAITING_SUPPLEMENT, reason="consent", missing_items=["x"])
    desk.step(returned_in_time, RESIDENCE, asked)
    cases[returned_in_time] = "returned for supplementation in time"
    waiting = desk.receive(3)
    desk.step(waiting, BIRTH, StepOutcome(StepStatus.AWAITING_DECISION, receipt_number="R-3"))
    cases[waiting] = "an agency decision overdue"
    started = desk.receive(4)
    begin_step(desk.container, started, BIRTH, OPERATOR)
    cases[started] = "a step in progress past its due instant"
    restarted = desk.receive(8)
    desk.succeed(restarted, BIRTH)
    desk.step(restarted, RESIDENCE, asked)
    supplement = example("demo/supplements/HT-2026-001002")
    record_supplement(desk.container, restarted, supplement, OPERATOR)
    begin_step(desk.container, restarted, RESIDENCE, OPERATOR)
    cases[restarted] = "a step restarted after a supplement, past its new due instant"
    late = desk.receive(5)
    returned_late = desk.receive(6)
    clock.advance(timedelta(days=7))  # Monday 30 November
    desk.succeed(late, BIRTH, RESIDENCE, CARD)
    cases[late] = "completed late"
    desk.succeed(returned_late, BIRTH)
    desk.step(returned_late, RESIDENCE, asked)
    cases[returned_late] = "returned for supplementation after its due instant"
    clock.advance(timedelta(hours=7, minutes=30))  # 16:30, after the cut-off
    within = desk.receive(7)
    begin_step(desk.container, within, BIRTH, OPERATOR)
    cases[within] = "received after the cut-off, due the next working day"
    return cases


def _report_says_late(container: Container, commune: str) -> bool:
    period = Period.of_month("2026-11", HCM)
    report = monthly_report(container, period, Scope(commune=commune))
    figures = [row.figures for row in report.rows]
    return any(f.resolved_late or f.in_progress_overdue for f in figures)


def _artifact_lateness(container: Container, reference: str) -> str:
    """The lateness cell of the dossier's row in its commune's worklist artifact."""
    items = worklist(container, Scope(), WorkFilter(DossierQuery())).items
    settings = container.settings
    text = markdown("t", items, settings.language, settings.calendar.timezone, END)
    (row,) = [r for r in text.splitlines() if r.startswith(f"| {reference} ")]
    return row.split(" | ")[3].strip("*")


def test_status_worklist_artifacts_and_report_agree_on_every_dossier(
    app: tuple[Container, ManualClock],
) -> None:
    container, clock = app
    desk = Desk(container, clock)
    cases = _cases(desk, clock)
    clock.set(END)
    late_words = {word(Timeliness.OVERDUE), word(Timeliness.LATE)}
    answers: dict[str, dict[str, bool]] = {}
    for reference, commune in desk.communes.items():
        view = load_view(container, reference)
        (item,) = worklist(container, Scope(commune=commune), WorkFilter()).items
        timeline = render_timeline(view, container.settings.language)
        answers[cases[reference]] = {
            "status": view.late,
            "status (steps)": any(s.timeliness.late for s in view.steps) or view.timeliness.late,
            "worklist": item.late,
            "artifact": _artifact_lateness(container, reference) in late_words,
            "timeline": any(w in timeline for w in late_words),
            "report": _report_says_late(container, commune),
        }
    disagreements = {case: a for case, a in answers.items() if len(set(a.values())) != 1}
    assert disagreements == {}
    assert {case: a["report"] for case, a in answers.items()} == {
        "completed on time": False,
        "returned for supplementation in time": False,
        "an agency decision overdue": True,
        "a step in progress past its due instant": True,
        "completed late": True,
        "returned for supplementation after its due instant": True,
        "received after the cut-off, due the next working day": False,
        "a step restarted after a supplement, past its new due instant": True,
    }
