"""The monthly report against figures recomputed in plain Python from the same random data."""

from __future__ import annotations

import argparse
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from lienthong.adapters.report_queries import figures
from lienthong.adapters.tables import ClockEvent, Dossier, Step
from lienthong.cli import report as report_command
from lienthong.flows.report import _build as build_flow_report
from lienthong.models.chains import CHAIN_STEPS
from lienthong.models.history import CLOCK_STARTED, DUE_EXTENDED, RETURNED
from lienthong.models.report import (
    FIGURES,
    USUAL_AGENCY,
    Figures,
    MonthlyReport,
    Period,
    Scope,
)
from lienthong.models.report_form import CHAINS, WHOLE_CHAIN
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.services.report_render import COLUMNS
from lienthong.services.report_xlsx import TABLE_ROW

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CLOSED_STEPS = (StepStatus.SUCCEEDED, StepStatus.REFUSED, StepStatus.WITHDRAWN)
MARCH = Period.of_month("2025-03", HCM)
AS_OF = datetime(2025, 4, 2, 3, 0, tzinfo=UTC)
PROVINCES = {"001": ("00001", "00004"), "079": ("26734", "26737")}
# Instants on and next to the month's local boundaries, where a UTC mistake would show.
EDGES = [
    MARCH.start - timedelta(microseconds=1),
    MARCH.start,
    MARCH.end - timedelta(microseconds=1),
    MARCH.end,
    datetime(2025, 3, 10, 16, 59, 59, tzinfo=UTC),  # 23:59:59 local on 10 March
    datetime(2025, 3, 10, 17, 0, tzinfo=UTC),  # 00:00 local on 11 March
]


Event = tuple[StepKind | None, str, datetime, datetime | None]


@dataclass
class FakeStep:
    kind: StepKind
    status: StepStatus
    first_started_at: datetime | None
    finished_at: datetime | None
    on_time: bool | None
    due_at: datetime | None
    updated_at: datetime


@dataclass
class FakeDossier:
    reference: str
    chain: Chain | None
    status: DossierStatus
    province: str
    commune: str
    received_at: datetime
    completed_at: datetime | None
    on_time: bool | None
    due_at: datetime | None
    updated_at: datetime
    steps: list[FakeStep] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _instant(rng: random.Random) -> datetime:
    if rng.random() < 0.15:
        return rng.choice(EDGES)
    start = datetime(2025, 2, 10, tzinfo=UTC)
    return start + timedelta(seconds=rng.randrange(int(timedelta(days=75).total_seconds())))


def _later(rng: random.Random, after: datetime) -> datetime:
    return rng.choice([after + timedelta(hours=rng.randrange(1, 400)), _instant(rng)])


def _due(rng: random.Random, start: datetime) -> datetime | None:
    return None if rng.random() < 0.05 else start + timedelta(hours=rng.randrange(1, 500))


def _history(rng: random.Random, kind: StepKind | None, start: datetime) -> list[Event]:
    """A clock started at ``start``, maybe returned (stopped in time or not), maybe restarted."""
    due = _due(rng, start)
    events: list[Event] = [(kind, CLOCK_STARTED, start, due)]
    if rng.random() < 0.4:
        returned = _later(rng, start)
        events.append((kind, RETURNED, returned, rng.choice([None, due])))
        if rng.random() < 0.5:
            restarted = _later(rng, returned)
            events.append((kind, CLOCK_STARTED, restarted, _due(rng, restarted)))
    if rng.random() < 0.1:
        events.append((kind, DUE_EXTENDED, _later(rng, start), _due(rng, start)))
    return events


def generate(seed: int, count: int = 160) -> list[FakeDossier]:
    rng = random.Random(seed)
    dossiers = []
    for n in range(count):
        chain = rng.choice([Chain.BIRTH, Chain.DEATH])
        status = rng.choice(list(DossierStatus))
        province = rng.choice(sorted(PROVINCES))
        received = _instant(rng)
        completed = _later(rng, received) if status == DossierStatus.COMPLETED else None
        dossier = FakeDossier(
            reference=f"HS-{seed}-{n:04d}",
            chain=None if status == DossierStatus.REJECTED and rng.random() < 0.5 else chain,
            status=status,
            province=province,
            commune=rng.choice(PROVINCES[province]),
            received_at=received,
            completed_at=completed,
            on_time=rng.choice([True, False]) if completed else None,
            due_at=_due(rng, received),
            updated_at=completed or _later(rng, received),
        )
        if dossier.chain is not None and status != DossierStatus.REJECTED:
            dossier.events += _history(rng, None, received)
            for kind in CHAIN_STEPS[dossier.chain]:
                step_status = rng.choice(list(StepStatus))
                started = (
                    None
                    if step_status in (StepStatus.PENDING, StepStatus.SKIPPED)
                    and rng.random() < 0.7
                    else _later(rng, received)
                )
                finished = (
                    _later(rng, started)
                    if started and step_status in (*CLOSED_STEPS, StepStatus.AWAITING_SUPPLEMENT)
                    else None
                )
                dossier.steps.append(
                    FakeStep(
                        kind=kind,
                        status=step_status,
                        first_started_at=started,
                        finished_at=finished,
                        on_time=rng.choice([True, False]) if finished else None,
                        due_at=_due(rng, started) if started else None,
                        updated_at=finished or _later(rng, received),
                    )
                )
                if started is not None:
                    dossier.events += _history(rng, kind, started)
        dossiers.append(dossier)
    return dossiers


def store(session_factory: sessionmaker[Session], dossiers: list[FakeDossier]) -> None:
    with session_factory() as session:
        for d in dossiers:
            row = Dossier(
                reference=d.reference,
                chain=d.chain,
                status=d.status,
                province_code=d.province,
                commune_code=d.commune,
                received_at=d.received_at,
                completed_at=d.completed_at,
                on_time=d.on_time,
                due_at=d.due_at,
                late_filing=False,
                payload={},
                created_at=d.received_at,
                updated_at=d.updated_at,
            )
            for position, s in enumerate(d.steps):
                row.steps.append(
                    Step(
                        kind=s.kind,
                        agency=USUAL_AGENCY[s.kind],
                        position=position,
                        status=s.status,
                        attempts=1,
                        idempotency_key=f"{d.reference}:{s.kind.value}:r0",
                        started_at=s.first_started_at,
                        first_started_at=s.first_started_at,
                        finished_at=s.finished_at,
                        on_time=s.on_time,
                        due_at=s.due_at,
                        updated_at=s.updated_at,
                    )
                )
            session.add(row)
            session.flush()
            session.add_all(
                ClockEvent(
                    dossier_id=row.id,
                    step_kind=kind,
                    event=event,
                    occurred_at=occurred,
                    due_at=due,
                    first=False,
                )
                for kind, event, occurred, due in d.events
            )
        session.commit()


def _in(at: datetime | None, period: Period) -> bool:
    return at is not None and period.start <= at < period.end


def _day(at: datetime | None) -> date | None:
    return None if at is None else at.astimezone(HCM).date()


def _due_in_force(events: list[Event], kind: StepKind | None, moment: datetime) -> datetime | None:
    before = [e for e in events if e[0] == kind and e[2] < moment]
    return max(before, key=lambda e: e[2])[3] if before else None


def _resolution(
    resolved: list[tuple[bool | None, datetime | None, datetime | None]],
) -> dict[str, int]:
    """(on_time, finished, due) of each resolved one: early, on time, late."""
    early = sum(
        on_time is True and due is not None and _day(done) < _day(due)  # type: ignore[operator]
        for on_time, done, due in resolved
    )
    return {
        "resolved_early": early,
        "resolved_on_time": sum(on_time is True for on_time, _, _ in resolved) - early,
        "resolved_late": sum(on_time is False for on_time, _, _ in resolved),
    }


def _backlog(items: list[tuple[list[Event], StepKind | None]], end: datetime) -> dict[str, int]:
    overdue = []
    for events, kind in items:
        due = _due_in_force(events, kind, end)
        overdue.append(due is not None and due < end)
    return {"in_progress_within": overdue.count(False), "in_progress_overdue": overdue.count(True)}


def _returned(events: list[Event], kind: StepKind | None, p: Period) -> bool:
    return any(e[0] == kind and e[1] == RETURNED and _in(e[2], p) for e in events)


def expected_dossier_figures(dossiers: list[FakeDossier], chain: Chain, p: Period) -> Figures:
    counted = [d for d in dossiers if d.chain == chain and d.status != DossierStatus.REJECTED]

    def open_at(d: FakeDossier, moment: datetime) -> bool:
        closed = (d.completed_at is not None and d.completed_at < moment) or (
            d.status in (DossierStatus.REFUSED, DossierStatus.WITHDRAWN) and d.updated_at < moment
        )
        return d.received_at < moment and not closed

    resolved = [
        d for d in counted if d.status == DossierStatus.COMPLETED and _in(d.completed_at, p)
    ]
    return Figures(
        carried_over=sum(open_at(d, p.start) for d in counted),
        new=sum(_in(d.received_at, p) for d in counted),
        **_resolution([(d.on_time, d.completed_at, d.due_at) for d in resolved]),
        **_backlog([(d.events, None) for d in counted if open_at(d, p.end)], p.end),
        returned=sum(_returned(d.events, None, p) for d in counted),
        refused=sum(d.status == DossierStatus.REFUSED and _in(d.updated_at, p) for d in counted),
        withdrawn=sum(
            d.status == DossierStatus.WITHDRAWN and _in(d.updated_at, p) for d in counted
        ),
    )


def expected_step_figures(dossiers: list[FakeDossier], kind: StepKind, p: Period) -> Figures:
    steps = [(d, s) for d in dossiers for s in d.steps if s.kind == kind]

    def open_at(s: FakeStep, moment: datetime) -> bool:
        if s.first_started_at is None or s.first_started_at >= moment:
            return False
        if s.status in CLOSED_STEPS:
            return s.finished_at is not None and s.finished_at >= moment
        return s.status != StepStatus.SKIPPED

    resolved = [s for _, s in steps if s.status == StepStatus.SUCCEEDED and _in(s.finished_at, p)]
    return Figures(
        carried_over=sum(open_at(s, p.start) for _, s in steps),
        new=sum(_in(s.first_started_at, p) for _, s in steps),
        **_resolution([(s.on_time, s.finished_at, s.due_at) for s in resolved]),
        **_backlog([(d.events, kind) for d, s in steps if open_at(s, p.end)], p.end),
        returned=sum(_returned(d.events, kind, p) for d, _ in steps),
        refused=sum(s.status == StepStatus.REFUSED and _in(s.finished_at, p) for _, s in steps),
        withdrawn=sum(s.status == StepStatus.WITHDRAWN and _in(s.finished_at, p) for _, s in steps),
    )


def expected_days(dossiers: list[FakeDossier], p: Period) -> list[tuple[date, int, int]]:
    counted = [d for d in dossiers if d.chain and d.status != DossierStatus.REJECTED]
    received = Counter(
        d.received_at.astimezone(HCM).date() for d in counted if _in(d.received_at, p)
    )
    resolved = Counter(
        d.completed_at.astimezone(HCM).date()
        for d in counted
        if d.completed_at and d.status == DossierStatus.COMPLETED and _in(d.completed_at, p)
    )
    return [(day, received[day], resolved[day]) for day in p.days()]


def run(session_factory: sessionmaker[Session], scope: Scope) -> MonthlyReport:
    with session_factory() as session:
        rows, days = figures(session, MARCH, scope)
    return MonthlyReport(MARCH, scope, AS_OF, rows, days)


def check(report: MonthlyReport, dossiers: list[FakeDossier]) -> None:
    actual = {(row.chain, row.step, row.agency): row.figures for row in report.rows}
    expected: dict[tuple[Chain, StepKind | None, Agency | None], Figures] = {}
    for chain, kinds in CHAIN_STEPS.items():
        expected[(chain, None, None)] = expected_dossier_figures(dossiers, chain, MARCH)
        for kind in kinds:
            expected[(chain, kind, USUAL_AGENCY[kind])] = expected_step_figures(
                dossiers, kind, MARCH
            )
        for agency in {USUAL_AGENCY[k] for k in kinds}:
            expected[(chain, None, agency)] = sum(
                (expected[(chain, k, agency)] for k in kinds if USUAL_AGENCY[k] == agency),
                Figures(),
            )
    assert actual == expected
    assert [(d.day, d.received, d.resolved) for d in report.days] == expected_days(dossiers, MARCH)


def test_report_matches_figures_computed_in_python(session_factory):
    dossiers = generate(seed=6)
    store(session_factory, dossiers)
    report = run(session_factory, Scope())
    check(report, dossiers)
    # The generated month is not degenerate: every figure is exercised somewhere.
    assert all(any(getattr(r.figures, name) for r in report.rows) for name in FIGURES)
    assert len(report.days) == 31


def test_province_and_commune_filters(session_factory):
    dossiers = generate(seed=7)
    store(session_factory, dossiers)
    check(run(session_factory, Scope(province="079")), [d for d in dossiers if d.province == "079"])
    only = [d for d in dossiers if d.commune == "00004"]
    check(run(session_factory, Scope(province="001", commune="00004")), only)
    assert run(session_factory, Scope(province="999")).rows[0].figures == Figures()


def test_a_current_province_counts_the_old_provinces_it_took_over(session_factory):
    dossiers = generate(seed=11)
    for n, d in enumerate(dossiers):
        if d.province == "079" and n % 2:
            d.province = "074"  # Bình Dương, part of TP. Hồ Chí Minh since 1 July 2025
    store(session_factory, dossiers)
    old = [d for d in dossiers if d.province == "074"]
    assert old
    grouped = [d for d in dossiers if d.province in ("074", "079")]
    check(run(session_factory, Scope(province="079")), grouped)
    check(run(session_factory, Scope(province="074")), old)


def test_month_boundaries_are_local_time():
    period = Period.of_month("2025-12", HCM)
    assert period.start == datetime(2025, 11, 30, 17, 0, tzinfo=UTC)
    assert period.end == datetime(2025, 12, 31, 17, 0, tzinfo=UTC)
    # 1 March 2025 at 06:59 local is still February in UTC: the previous month is February.
    assert Period.before(datetime(2025, 2, 28, 23, 59, tzinfo=UTC), HCM).label == "2025-02"
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.of_month("2025-13", HCM)


def test_cli_writes_csv(database_url, session_factory, tmp_path, monkeypatch, capsys):
    store(session_factory, generate(seed=8, count=30))
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    out = tmp_path / "march.csv"
    parser = argparse.ArgumentParser()
    report_command.register(parser.add_subparsers())
    args = parser.parse_args(
        ["report", "--month", "2025-03", "--province", "079", "--format", "csv", "--out", str(out)]
    )
    assert args.func(args) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(
        "Nhóm thủ tục liên thông,Thủ tục,Cơ quan giải quyết,Tổng số hồ sơ nhận giải quyết,"
    )
    # header; per chain its row, its steps' rows and its agencies' rows
    assert len(lines) == 1 + (1 + 3 + 3) + (1 + 4 + 3)
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("status", [StepStatus.ERROR, StepStatus.AWAITING_DECISION])
def test_steps_in_error_or_awaiting_a_decision_count_as_in_progress(session_factory, status):
    """A permanent error stops the step on our side; a receipt means the agency is deciding:
    neither is decided, and each is late once its due instant in force has passed (for a
    step awaiting a decision, the longer limit once the agency asked to verify)."""
    started = datetime(2025, 3, 12, 3, 0, tzinfo=UTC)
    due = datetime(2025, 3, 14, 17, 0, tzinfo=UTC)
    extended = datetime(2025, 4, 3, 17, 0, tzinfo=UTC)
    pending = [
        FakeStep(kind, StepStatus.PENDING, None, None, None, None, started)
        for kind in (StepKind.RESIDENCE_REGISTRATION, StepKind.CHILD_HEALTH_CARD)
    ]
    dossiers = [
        FakeDossier(
            reference=f"HS-ERR-{n}",
            chain=Chain.BIRTH,
            status=DossierStatus.IN_PROGRESS,
            province="079",
            commune="26734",
            received_at=started,
            completed_at=None,
            on_time=None,
            due_at=due,
            updated_at=started,
            steps=[
                FakeStep(StepKind.BIRTH_REGISTRATION, status, started, None, None, due, started),
                *pending,
            ],
            events=[
                (None, CLOCK_STARTED, started, due),
                (StepKind.BIRTH_REGISTRATION, CLOCK_STARTED, started, due),
                *([(StepKind.BIRTH_REGISTRATION, DUE_EXTENDED, started, extended)] if n else []),
            ],
        )
        for n in range(2)
    ]
    store(session_factory, dossiers)
    rows = run(session_factory, Scope()).rows
    figures = {(row.chain, row.step, row.agency): row.figures for row in rows}
    step = figures[(Chain.BIRTH, StepKind.BIRTH_REGISTRATION, Agency.JUSTICE)]
    assert step == Figures(new=2, in_progress_within=1, in_progress_overdue=1)
    assert figures[(Chain.BIRTH, None, None)] == Figures(new=2, in_progress_overdue=2)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lienthong")
    report_command.register(parser.add_subparsers())
    return parser.parse_args(["report", "--month", "2025-03", *argv])


def test_cli_cannot_write_the_output_file(database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    out = tmp_path / "missing" / "dir" / "march.html"
    args = _parse("--format", "html", "--out", str(out))
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {out}: ")
    assert "No such file or directory" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_cli_rejects_an_unknown_province(capsys):
    with pytest.raises(SystemExit) as exited:
        _parse("--province", "999")
    assert exited.value.code == 2
    assert "unknown province code '999'" in capsys.readouterr().err
    assert _parse("--province", "079").province == "079"


def test_flow_rejects_an_unknown_province():
    with pytest.raises(ValueError, match="unknown province code '999'"):
        build_flow_report("2025-03", "999")


@pytest.mark.parametrize(
    ("option", "value", "label"),
    [("--quarter", "2025-Q1", "2025-Q1"), ("--year", "2025", "2025")],
)
def test_cli_reports_a_quarter_or_a_year(
    database_url, session_factory, monkeypatch, capsys, option, value, label
):
    dossiers = generate(seed=9, count=40)
    store(session_factory, dossiers)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    parser = argparse.ArgumentParser()
    report_command.register(parser.add_subparsers())
    args = parser.parse_args(["report", option, value, "--format", "csv"])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    period = (Period.of_quarter if option == "--quarter" else Period.of_year)(value, HCM)
    new = sum(
        period.start <= d.received_at < period.end
        for d in dossiers
        if d.chain == Chain.BIRTH and d.status != DossierStatus.REJECTED
    )
    birth = next(line for line in lines if line.startswith(f"{CHAINS[Chain.BIRTH]},{WHOLE_CHAIN},"))
    assert birth.split(",")[5] == str(new)  # chain, step, agency, received, carried_over, new
    assert new > 0


def test_cli_takes_one_period_only(capsys):
    parser = argparse.ArgumentParser(prog="lienthong")
    report_command.register(parser.add_subparsers())
    for argv in (["--month", "2025-03", "--year", "2025"], [], ["--quarter", "2025-Q5"]):
        with pytest.raises(SystemExit) as exited:
            parser.parse_args(["report", *argv])
        assert exited.value.code == 2
    assert "YYYY-Qn" in capsys.readouterr().err


def test_cli_writes_an_excel_workbook_with_the_reports_figures(
    database_url, session_factory, tmp_path, monkeypatch
):
    dossiers = generate(seed=10, count=60)
    store(session_factory, dossiers)
    monkeypatch.setenv("LIENTHONG_DATABASE_URL", database_url)
    out = tmp_path / "march.xlsx"
    args = _parse("--province", "079", "--format", "xlsx", "--out", str(out))
    assert args.func(args) == 0
    sheet = load_workbook(out)["Báo cáo"]
    expected = run(session_factory, Scope(province="079"))
    written = [[c.value for c in row] for row in sheet.iter_rows(min_row=TABLE_ROW + 1)]
    table = written[: len(expected.rows)]
    assert [cells[3:-1] for cells in table] == [
        [getattr(row.figures, name) for name in COLUMNS] for row in expected.rows
    ]
    assert any(any(cells[3:-1]) for cells in table)
    assert sheet["A2"].value.endswith("(mã 079)")
