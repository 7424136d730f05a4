"""A past period's report is reproducible, and each figure follows its clock: real services
and the real ledger on SQLite and PostgreSQL, moved through two months with a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from lienthong.adapters.tables import ClockEvent, Dossier
from lienthong.models.clock import ManualClock
from lienthong.models.report import Figures, MonthlyReport, Period, Scope
from lienthong.models.status import Agency, Chain, StepKind, StepStatus
from lienthong.services import ledger
from lienthong.services.container import Container
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.report import monthly_report
from tests.conftest import record_session
from tests.helpers import another_child, container_on, example

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOVEMBER = Period.of_month("2026-11", HCM)
DECEMBER = Period.of_month("2026-12", HCM)
ACTOR = Actor("system", "run-1")
BIRTH, RESIDENCE, CARD = (
    StepKind.BIRTH_REGISTRATION,
    StepKind.RESIDENCE_REGISTRATION,
    StepKind.CHILD_HEALTH_CARD,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 20, 9, 0, tzinfo=HCM))


@pytest.fixture
def app(database_url: str, clock: ManualClock, tmp_path) -> Iterator[Container]:
    container = container_on(database_url, clock, tmp_path / "data")
    yield container
    container.close()


def submit(app: Container, reference: str) -> None:
    raw = another_child(example("demo/HT-2026-001001"), reference)
    raw["received_at"] = app.clock.now().isoformat()
    assert receive(app, raw, Actor("operator-1")).accepted


def act(app: Container, reference: str, kind: StepKind, outcome: StepStatus | None) -> None:
    """Start ``kind`` now, and record ``outcome`` now unless None (it stays in progress)."""
    now = app.clock.now()
    with app.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        changes = dossier.start_step(kind, deadlines=app.deadlines, now=now)
        if outcome == StepStatus.AWAITING_SUPPLEMENT:
            changes += dossier.finish_step(
                kind, outcome, now=now, reason="missing", missing_items=["consent"]
            )
        elif outcome is not None:
            changes += dossier.finish_step(kind, outcome, now=now, agency_reference=f"AG-{kind}")
        ledger.record(uow, dossier, changes, ACTOR, now, app.deadlines.calendar)
        uow.commit()


def finish(app: Container, reference: str, kind: StepKind) -> None:
    now = app.clock.now()
    with app.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        changes = dossier.finish_step(kind, StepStatus.SUCCEEDED, now=now, agency_reference="AG")
        ledger.record(uow, dossier, changes, ACTOR, now, app.deadlines.calendar)
        uow.commit()


def supplement(app: Container, reference: str, kind: StepKind) -> None:
    now = app.clock.now()
    with app.unit_of_work() as uow:
        dossier = uow.dossiers.get(reference)
        changes = dossier.accept_supplement(
            kind, payload=dict(dossier.payload), round_=1, deadlines=app.deadlines, now=now
        )
        ledger.record(uow, dossier, changes, ACTOR, now, app.deadlines.calendar)
        uow.commit()


def at(clock: ManualClock, day: int, month: int = 11, hour: int = 9) -> None:
    clock.set(datetime(2026, month, day, hour, 0, tzinfo=HCM))


def report(app: Container, period: Period) -> MonthlyReport:
    return monthly_report(app, period, Scope())


def rows(result: MonthlyReport) -> dict[tuple[Chain, StepKind | None, Agency | None], Figures]:
    return {(r.chain, r.step, r.agency): r.figures for r in result.rows}


def november(app: Container, clock: ManualClock) -> None:
    """Four birth dossiers received in November (Friday 20th, a working day)."""
    at(clock, 20)
    for reference in ("HT-2026-900001", "HT-2026-900002", "HT-2026-900003", "HT-2026-900004"):
        submit(app, reference)
    act(app, "HT-2026-900001", BIRTH, StepStatus.SUCCEEDED)  # same day: early for the chain
    act(app, "HT-2026-900001", RESIDENCE, StepStatus.AWAITING_SUPPLEMENT)  # returned in November
    act(app, "HT-2026-900002", BIRTH, StepStatus.SUCCEEDED)
    act(app, "HT-2026-900002", RESIDENCE, StepStatus.SUCCEEDED)
    act(app, "HT-2026-900002", CARD, StepStatus.SUCCEEDED)  # resolved in November
    act(app, "HT-2026-900003", BIRTH, None)  # in progress at the end of November, long overdue
    at(clock, 27)
    act(app, "HT-2026-900004", BIRTH, StepStatus.SUCCEEDED)  # a week after reception: late
    at(clock, 30, hour=15)
    # Residence became available to the police on the 27th: the police's clock starts then,
    # so starting on the 30th leaves less time than the full limit.
    act(app, "HT-2026-900004", RESIDENCE, None)


def december(app: Container, clock: ManualClock) -> None:
    """A month of new activity: the backlog moves, new dossiers come and go."""
    at(clock, 1, month=12)
    supplement(app, "HT-2026-900001", RESIDENCE)
    act(app, "HT-2026-900001", RESIDENCE, StepStatus.SUCCEEDED)
    act(
        app, "HT-2026-900001", CARD, StepStatus.SUCCEEDED
    )  # returned in November, completed in December
    finish(app, "HT-2026-900003", BIRTH)
    act(app, "HT-2026-900003", RESIDENCE, StepStatus.AWAITING_SUPPLEMENT)
    finish(app, "HT-2026-900004", RESIDENCE)
    act(app, "HT-2026-900004", CARD, StepStatus.SUCCEEDED)
    submit(app, "HT-2026-900005")
    act(app, "HT-2026-900005", BIRTH, StepStatus.AWAITING_SUPPLEMENT)
    at(clock, 15, month=12)
    supplement(app, "HT-2026-900003", RESIDENCE)
    act(app, "HT-2026-900003", RESIDENCE, StepStatus.SUCCEEDED)
    act(app, "HT-2026-900003", CARD, StepStatus.SUCCEEDED)


def test_a_past_month_gives_the_same_figures_after_a_month_of_new_activity(
    app: Container, clock: ManualClock
) -> None:
    november(app, clock)
    at(clock, 1, month=12, hour=8)
    before = report(app, NOVEMBER)
    december(app, clock)
    clock.set(datetime(2027, 1, 5, 9, 0, tzinfo=HCM))
    after = report(app, NOVEMBER)

    assert rows(after) == rows(before)
    assert after.days == before.days
    chain = rows(before)[(Chain.BIRTH, None, None)]
    assert chain == Figures(
        new=4,
        resolved_early=1,  # B: received and completed on the 20th, due later
        in_progress_within=1,  # A: its clock stopped in time when it was returned
        in_progress_overdue=2,  # C and D: due on 25 November
        returned=1,  # A
    )


def test_returned_counts_the_month_of_the_return_even_when_completed_later(
    app: Container, clock: ManualClock
) -> None:
    november(app, clock)
    december(app, clock)
    clock.set(datetime(2027, 1, 5, 9, 0, tzinfo=HCM))
    figures = rows(report(app, DECEMBER))
    chain = figures[(Chain.BIRTH, None, None)]
    # Carried over from November: A, C, D. New: E. Resolved: A, C, D. Returned: C and E.
    assert (chain.carried_over, chain.new, chain.resolved, chain.returned) == (3, 1, 3, 2)
    assert chain.in_progress_within == 1  # E, waiting for the applicant, returned in time
    assert chain.in_progress_overdue == 0
    # A and C completed in time (their clocks restarted with the supplements); D late.
    assert (chain.resolved_early + chain.resolved_on_time, chain.resolved_late) == (2, 1)
    assert figures[(Chain.BIRTH, RESIDENCE, Agency.POLICE)].returned == 1  # C
    assert figures[(Chain.BIRTH, BIRTH, Agency.JUSTICE)].returned == 1  # E
    # The police's November-December steps: A restarted (not new), C first started.
    police = figures[(Chain.BIRTH, RESIDENCE, Agency.POLICE)]
    assert (police.carried_over, police.new) == (2, 1)
    # The agency rows add up their steps.
    police_total = figures[(Chain.BIRTH, None, Agency.POLICE)]
    assert police_total == police


def test_a_step_is_late_by_the_clock_of_when_the_dossier_reached_its_agency(
    app: Container, clock: ManualClock
) -> None:
    """D's birth registration ended a week after reception (late: its clock started at
    reception), and the police started its residence step three days after that and
    finished on the 2nd: late by availability, though on time counted from its start."""
    november(app, clock)
    at(clock, 2, month=12)
    finish(app, "HT-2026-900004", RESIDENCE)
    with record_session(app) as session:
        starts = session.execute(
            select(ClockEvent.step_kind, ClockEvent.occurred_at, ClockEvent.due_at).where(
                ClockEvent.event == "clock_started", ClockEvent.step_kind == RESIDENCE
            )
        ).all()
    available = datetime(2026, 11, 27, 9, 0, tzinfo=HCM)
    by_start = {occurred: due for _, occurred, due in starts}
    started = datetime(2026, 11, 30, 15, 0, tzinfo=HCM)
    assert by_start[started] == app.deadlines.step_due_at(RESIDENCE, available)
    figures = rows(report(app, DECEMBER))
    november_figures = rows(report(app, NOVEMBER))
    assert november_figures[(Chain.BIRTH, BIRTH, Agency.JUSTICE)].resolved_late == 1  # D
    police = figures[(Chain.BIRTH, RESIDENCE, Agency.POLICE)]
    # Due on 1 December counted from availability (2 working days from 27 November); it
    # would have been due on the 2nd counted from the police's start on the 30th.
    assert app.deadlines.step_due_at(RESIDENCE, started) >= clock.now()
    assert police.resolved_late == 1


def test_every_start_and_return_is_kept_with_its_time(app: Container, clock: ManualClock) -> None:
    november(app, clock)
    december(app, clock)
    with record_session(app) as session:
        history = session.execute(
            select(ClockEvent.step_kind, ClockEvent.event, ClockEvent.first)
            .join(Dossier, Dossier.id == ClockEvent.dossier_id)
            .where(Dossier.reference == "HT-2026-900001")
            .order_by(ClockEvent.id)
        ).all()
    assert [(k, e, f) for k, e, f in history] == [
        (None, "clock_started", False),
        (BIRTH, "clock_started", True),
        (RESIDENCE, "clock_started", True),
        (RESIDENCE, "returned", False),
        (None, "returned", False),
        (None, "clock_started", False),
        (RESIDENCE, "clock_started", False),
        (CARD, "clock_started", True),
    ]


def test_quarter_and_year_periods() -> None:
    quarter = Period.of_quarter("2026-Q4", HCM)
    assert (quarter.start, quarter.end) == (
        datetime(2026, 10, 1, tzinfo=HCM),
        datetime(2027, 1, 1, tzinfo=HCM),
    )
    year = Period.of_year("2026", HCM)
    assert (year.start, year.end) == (
        datetime(2026, 1, 1, tzinfo=HCM),
        datetime(2027, 1, 1, tzinfo=HCM),
    )
    assert len(year.days()) == 365
    with pytest.raises(ValueError, match="YYYY-Qn"):
        Period.of_quarter("2026-Q5", HCM)
    assert timedelta(days=92) == quarter.end - quarter.start
