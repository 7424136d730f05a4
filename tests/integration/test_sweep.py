"""The overdue sweep on a real database, with a manual clock and a fake resume."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from lienthong.adapters.tables import AuditEvent, Dossier, Notification, NotificationStatus, Step
from lienthong.bootstrap import build_container
from lienthong.models.clock import ManualClock
from lienthong.models.contract.decisions import DecisionNotice, DecisionOutcome
from lienthong.models.overdue import SweepOptions
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.services.container import Container
from lienthong.services.decisions import DecisionSource, Recorded, record_decision
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.resumptions import ResumeRequest, ResumeWhy
from lienthong.services.supplements import record_supplement
from lienthong.services.sweep import sweep
from lienthong.settings import Settings
from tests.conftest import record_session
from tests.helpers import container_on, example, request_supplement_at

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY = datetime(2025, 3, 10, 9, 0, tzinfo=HCM)


@dataclass
class StepSpec:
    kind: StepKind
    agency: Agency
    status: StepStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    due_at: datetime | None = None
    updated_at: datetime = MONDAY
    missing_items: list[str] | None = None


class FakeResume:
    def __init__(self) -> None:
        self.calls: list[list[ResumeRequest]] = []

    async def __call__(self, requests: Sequence[ResumeRequest]) -> Mapping[str, str]:
        self.calls.append(list(requests))
        return {r.reference: "Completed" for r in requests}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MONDAY)


@pytest.fixture
def app(database_url: str, clock: ManualClock, tmp_path) -> Iterator[Container]:
    container = container_on(database_url, clock, tmp_path / "data")
    yield container
    container.close()


def add_dossier(
    app: Container,
    reference: str,
    status: DossierStatus,
    steps: list[StepSpec],
    *,
    lease_expires_at: datetime | None = None,
    received_at: datetime = MONDAY - timedelta(days=10),
    due_at: datetime | None = None,
    province_code: str = "079",
    commune_code: str = "26734",
) -> None:
    with record_session(app) as session:
        dossier = Dossier(
            reference=reference,
            chain=Chain.BIRTH,
            status=status,
            province_code=province_code,
            commune_code=commune_code,
            received_at=received_at,
            clock_started_at=received_at,
            due_at=due_at,
            late_filing=False,
            payload={},
            lease_owner="run-1" if lease_expires_at else None,
            lease_expires_at=lease_expires_at,
            created_at=received_at,
            updated_at=received_at,
        )
        for position, spec in enumerate(steps):
            dossier.steps.append(
                Step(
                    kind=spec.kind,
                    agency=spec.agency,
                    position=position,
                    status=spec.status,
                    attempts=1,
                    idempotency_key=f"{reference}:{spec.kind.value}:r0",
                    started_at=spec.started_at,
                    finished_at=spec.finished_at,
                    due_at=spec.due_at,
                    on_time=True if spec.finished_at else None,
                    missing_items=spec.missing_items,
                    updated_at=spec.updated_at,
                )
            )
        session.add(dossier)
        session.commit()


def end_of(day: int) -> datetime:
    return datetime(2025, 3, day, 23, 59, 59, 999999, tzinfo=HCM)


def registered() -> StepSpec:
    return StepSpec(
        StepKind.BIRTH_REGISTRATION,
        Agency.JUSTICE,
        StepStatus.SUCCEEDED,
        started_at=MONDAY - timedelta(days=7),
        finished_at=MONDAY - timedelta(days=7),
    )


def residence(status: StepStatus, **kwargs: object) -> StepSpec:
    return StepSpec(StepKind.RESIDENCE_REGISTRATION, Agency.POLICE, status, **kwargs)  # type: ignore[arg-type]


def card() -> StepSpec:
    return StepSpec(StepKind.CHILD_HEALTH_CARD, Agency.SOCIAL_INSURANCE, StepStatus.PENDING)


def unstarted() -> list[StepSpec]:
    return [
        StepSpec(StepKind.BIRTH_REGISTRATION, Agency.JUSTICE, StepStatus.PENDING),
        residence(StepStatus.PENDING),
        card(),
    ]


def notices(app: Container) -> list[Notification]:
    with record_session(app) as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def actions(app: Container, action: str) -> list[AuditEvent]:
    with record_session(app) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_overdue_step_notified_once_a_day(app: Container, clock: ManualClock):
    recent = MONDAY - timedelta(minutes=1)
    overdue = residence(
        StepStatus.IN_PROGRESS,
        started_at=MONDAY - timedelta(days=5),
        due_at=end_of(7),
        updated_at=recent,
    )
    add_dossier(app, "HS-LATE", DossierStatus.IN_PROGRESS, [registered(), overdue, card()])
    due_today = residence(
        StepStatus.IN_PROGRESS, started_at=MONDAY, due_at=end_of(10), updated_at=recent
    )
    add_dossier(app, "HS-SOON", DossierStatus.IN_PROGRESS, [registered(), due_today, card()])
    resume = FakeResume()

    first = await sweep(app, resume)
    assert [i.reference for i in first.findings.overdue] == ["HS-LATE"]
    assert [i.reference for i in first.findings.due_soon] == ["HS-SOON"]
    assert first.notices == 4  # and the province's summary of its late work
    assert first.delivery.delivered == 4
    late = [n for n in notices(app) if n.event_type == "step.overdue"]
    assert sorted(n.agency for n in late) == [Agency.COMMUNE, Agency.POLICE]
    assert all(n.dedupe_key.endswith(":2025-03-10") for n in late)
    assert all(n.status == NotificationStatus.DELIVERED for n in notices(app))
    assert len(actions(app, "overdue_notified")) == 2
    assert len(actions(app, "due_soon_notified")) == 1
    assert resume.calls == []

    clock.advance(timedelta(hours=8))  # 17:00 the same local day
    again = await sweep(app, resume)
    assert len(again.findings.overdue) == 1  # HS-SOON is due tonight, not yet late
    assert again.notices == 0

    clock.set(datetime(2025, 3, 11, 8, 0, tzinfo=HCM))
    next_day = await sweep(app, resume)
    assert {i.reference for i in next_day.findings.overdue} == {"HS-LATE", "HS-SOON"}
    assert next_day.notices == 5
    assert len(notices(app)) == 9
    assert len(actions(app, "overdue_notified")) == 6


async def test_lapsed_supplementation_refuses_the_dossier(app: Container, clock: ManualClock):
    asked = datetime(2025, 3, 3, 10, 0, tzinfo=HCM)  # Monday: the window closes Wed 12 March
    waiting = residence(
        StepStatus.AWAITING_SUPPLEMENT,
        started_at=asked,
        finished_at=asked,
        due_at=end_of(5),
        missing_items=["household book page"],
        updated_at=asked,
    )
    add_dossier(app, "HS-QUIET", DossierStatus.AWAITING_SUPPLEMENT, [registered(), waiting, card()])
    clock.set(datetime(2025, 3, 12, 16, 0, tzinfo=HCM))
    still_open = await sweep(app, FakeResume())
    assert still_open.findings.lapsed == []
    assert still_open.findings.overdue == []  # a stopped clock is not overdue

    clock.set(datetime(2025, 3, 13, 8, 0, tzinfo=HCM))
    report = await sweep(app, FakeResume())
    assert report.refused == ["HS-QUIET"]
    with record_session(app) as session:
        dossier = session.scalars(select(Dossier).where(Dossier.reference == "HS-QUIET")).one()
        steps = {s.kind: s for s in dossier.steps}
        assert dossier.status == DossierStatus.REFUSED
        refused = steps[StepKind.RESIDENCE_REGISTRATION]
        assert refused.status == StepStatus.REFUSED
        assert "7 working days" in (refused.reason or "")
        assert "2025-03-12" in (refused.reason or "")
        assert refused.missing_items == ["household book page"]
        assert steps[StepKind.CHILD_HEALTH_CARD].status == StepStatus.SKIPPED
    assert any(n.agency == Agency.COMMUNE and n.event_type == "step.refused" for n in notices(app))
    [lapse] = actions(app, "supplement_window_lapsed")
    assert lapse.actor == "system"
    assert (await sweep(app, FakeResume())).refused == []


async def test_stuck_dossiers_are_found_and_resumed(app: Container):
    hour_ago = MONDAY - timedelta(hours=1)
    started = {"started_at": MONDAY - timedelta(hours=2), "due_at": end_of(12)}
    add_dossier(
        app,
        "HS-FAILED",
        DossierStatus.IN_PROGRESS,
        [registered(), residence(StepStatus.FAILED, updated_at=MONDAY, **started), card()],
    )
    add_dossier(
        app,
        "HS-CRASHED",
        DossierStatus.IN_PROGRESS,
        [registered(), residence(StepStatus.IN_PROGRESS, updated_at=hour_ago, **started), card()],
        lease_expires_at=MONDAY - timedelta(minutes=30),
    )
    add_dossier(
        app,
        "HS-RUNNING",
        DossierStatus.IN_PROGRESS,
        [registered(), residence(StepStatus.IN_PROGRESS, updated_at=hour_ago, **started), card()],
        lease_expires_at=MONDAY + timedelta(seconds=20),
    )
    add_dossier(
        app,
        "HS-BUSY",
        DossierStatus.IN_PROGRESS,
        [registered(), residence(StepStatus.IN_PROGRESS, updated_at=MONDAY, **started), card()],
    )

    without = FakeResume()
    found = await sweep(app, without, SweepOptions(resume=False))
    assert {i.reference for i in found.findings.stuck} == {"HS-FAILED", "HS-CRASHED"}
    assert without.calls == []

    resume = FakeResume()
    report = await sweep(app, resume)
    [requests] = resume.calls
    assert sorted(r.reference for r in requests) == ["HS-CRASHED", "HS-FAILED"]
    assert all("chain:birth" in r.tags and r.chain == Chain.BIRTH for r in requests)
    assert report.resumed == {"HS-CRASHED": "Completed", "HS-FAILED": "Completed"}
    events = actions(app, "stuck_step_resumed")
    assert sorted(e.dossier_reference or "" for e in events) == ["HS-CRASHED", "HS-FAILED"]
    assert all(e.details == {"outcome": "Completed"} for e in events)


async def test_error_steps_keep_their_clock_but_are_never_resumed(app: Container):
    hour_ago = MONDAY - timedelta(hours=1)
    late = residence(
        StepStatus.ERROR,
        started_at=MONDAY - timedelta(days=5),
        due_at=end_of(7),
        updated_at=hour_ago,
    )
    add_dossier(app, "HS-ERR-LATE", DossierStatus.IN_PROGRESS, [registered(), late, card()])
    soon = residence(StepStatus.ERROR, started_at=hour_ago, due_at=end_of(10), updated_at=hour_ago)
    add_dossier(app, "HS-ERR-SOON", DossierStatus.IN_PROGRESS, [registered(), soon, card()])
    resume = FakeResume()

    report = await sweep(app, resume)
    assert [i.reference for i in report.findings.overdue] == ["HS-ERR-LATE"]
    assert [i.reference for i in report.findings.due_soon] == ["HS-ERR-SOON"]
    assert [i.reference for i in report.findings.errors] == ["HS-ERR-LATE", "HS-ERR-SOON"]
    assert report.findings.stuck == []
    assert resume.calls == []
    assert report.resumed == {}
    assert actions(app, "stuck_step_resumed") == []
    # Overdue: the police and the commune, and the province's summary; due soon: the police.
    assert report.notices == 4
    assert sorted((n.event_type, n.agency) for n in notices(app)) == [
        ("province.late_work", Agency.PROVINCE),
        ("step.due_soon", Agency.POLICE),
        ("step.overdue", Agency.COMMUNE),
        ("step.overdue", Agency.POLICE),
    ]
    lines = report.summary_lines()
    assert "needs attention: 2 (error)" in lines
    assert any("HS-ERR-LATE" in line and "lienthong run" in line for line in lines)
    assert "needs attention (error)" in report.markdown()


async def test_dossiers_never_started_are_started(app: Container, clock: ManualClock):
    hour_ago = MONDAY - timedelta(hours=1)
    add_dossier(app, "HS-IDLE", DossierStatus.RECEIVED, unstarted(), received_at=hour_ago)
    add_dossier(
        app,
        "HS-JUST-IN",
        DossierStatus.RECEIVED,
        unstarted(),
        received_at=MONDAY - timedelta(minutes=5),
    )
    add_dossier(
        app,
        "HS-LEASED",
        DossierStatus.RECEIVED,
        unstarted(),
        received_at=hour_ago,
        lease_expires_at=MONDAY + timedelta(seconds=30),
    )

    without = FakeResume()
    found = await sweep(app, without, SweepOptions(resume=False))
    assert [d.reference for d in found.findings.not_started] == ["HS-IDLE"]
    assert without.calls == []
    assert found.resumed == {}
    assert "not started: 1" in found.summary_lines()

    resume = FakeResume()
    report = await sweep(app, resume)
    [requests] = resume.calls
    assert [r.reference for r in requests] == ["HS-IDLE"]
    assert requests[0].chain == Chain.BIRTH
    assert "sweep" in requests[0].tags
    assert report.resumed == {"HS-IDLE": "Completed"}
    [started] = actions(app, "stalled_dossier_started")
    assert started.dossier_reference == "HS-IDLE"
    assert started.step_kind is None
    assert started.status_before == DossierStatus.RECEIVED.value
    assert started.details == {"outcome": "Completed"}
    assert started.actor == "system"

    clock.advance(timedelta(minutes=20))  # the leased one's lease expired; the other is quiet
    later = await sweep(app, FakeResume(), SweepOptions(resume=False))
    assert [d.reference for d in later.findings.not_started] == [
        "HS-IDLE",
        "HS-JUST-IN",
        "HS-LEASED",
    ]


async def test_chain_past_its_due_instant_is_notified_to_the_commune(
    app: Container, clock: ManualClock
):
    # The first step succeeded, the hand-over to the police never happened: no step clock
    # runs, but the chain's deadline has passed.
    handover = [registered(), residence(StepStatus.PENDING), card()]
    add_dossier(app, "HS-HANDOVER", DossierStatus.IN_PROGRESS, handover, due_at=end_of(7))
    add_dossier(app, "HS-ON-TRACK", DossierStatus.IN_PROGRESS, handover, due_at=end_of(12))
    waiting = residence(
        StepStatus.AWAITING_SUPPLEMENT,
        started_at=MONDAY - timedelta(days=1),
        finished_at=MONDAY - timedelta(hours=2),
        updated_at=MONDAY - timedelta(hours=2),
    )
    add_dossier(
        app,
        "HS-STOPPED",
        DossierStatus.AWAITING_SUPPLEMENT,
        [registered(), waiting, card()],
        due_at=end_of(7),
    )
    done = StepSpec(
        StepKind.RESIDENCE_REGISTRATION,
        Agency.POLICE,
        StepStatus.SUCCEEDED,
        started_at=MONDAY - timedelta(days=7),
        finished_at=MONDAY - timedelta(days=1),
    )
    add_dossier(app, "HS-DONE", DossierStatus.COMPLETED, [registered(), done], due_at=end_of(7))

    first = await sweep(app, FakeResume())
    assert [d.reference for d in first.findings.overdue_chains] == ["HS-HANDOVER"]
    assert first.findings.overdue == []  # no step of it is late
    assert first.notices == 2
    summary, notice = notices(app)
    assert (summary.event_type, summary.payload["overdue_chains"]) == ("province.late_work", 1)
    assert (notice.event_type, notice.agency) == ("dossier.overdue", Agency.COMMUNE)
    assert notice.dossier_reference == "HS-HANDOVER"
    assert notice.dedupe_key.endswith(":2025-03-10")
    assert datetime.fromisoformat(notice.payload["due_at"]) == end_of(7)
    assert "chains overdue: 1" in first.summary_lines()
    [event] = actions(app, "chain_overdue_notified")
    assert event.step_kind is None

    clock.advance(timedelta(hours=6))
    assert (await sweep(app, FakeResume())).notices == 0

    clock.set(datetime(2025, 3, 11, 8, 0, tzinfo=HCM))
    assert (await sweep(app, FakeResume())).notices == 2  # the commune's, the province's
    assert len(notices(app)) == 4


async def test_the_sweep_warns_once_when_a_years_swaps_are_missing(
    app: Container, clock: ManualClock, caplog: pytest.LogCaptureFixture
):
    known = await sweep(app, FakeResume())
    assert known.years_without_swaps == ()
    assert not any("swaps" in line for line in known.summary_lines())

    clock.set(datetime(2027, 3, 10, 9, 0, tzinfo=HCM))
    with caplog.at_level(logging.WARNING, logger="lienthong.services.sweep"):
        unknown = await sweep(app, FakeResume())
    assert unknown.years_without_swaps == (2027,)
    warnings = [line for line in unknown.summary_lines() if "swaps" in line]
    assert len(warnings) == 1
    assert "2027" in warnings[0]
    assert "LIENTHONG_CALENDAR__SWAP_YEARS" in warnings[0]
    assert "2027" in unknown.markdown()
    logged = [r for r in caplog.records if "swaps" in r.getMessage()]
    assert len(logged) == 1


async def test_a_late_decision_is_polled_reminded_then_escalated_once_a_day(
    database_url: str, clock: ManualClock, tmp_path
) -> None:
    asked: list[str] = []
    posted: list[str] = []

    def police(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            asked.append(request.url.path)
            receipt = request.url.path.rsplit("/", 1)[-1]
            notice = {"receipt_number": receipt, "dossier_reference": "HS-WAIT"}
            return httpx.Response(200, json={**notice, "outcome": "pending"})
        posted.append(str(request.url))
        return httpx.Response(200)

    settings = Settings(database_url=database_url, data_dir=tmp_path / "data")
    app = build_container(settings, clock=clock, http_transport=httpx.MockTransport(police))
    try:
        waiting = residence(
            StepStatus.AWAITING_DECISION,
            started_at=MONDAY - timedelta(days=3),
            due_at=end_of(10),
            updated_at=MONDAY - timedelta(days=3),
        )
        add_dossier(app, "HS-WAIT", DossierStatus.IN_PROGRESS, [registered(), waiting, card()])
        with record_session(app) as session:
            step = session.scalars(
                select(Step).where(Step.status == StepStatus.AWAITING_DECISION)
            ).one()
            step.receipt_number = "BN-POLICE-00000001"
            step.waiting_since = MONDAY - timedelta(days=3)
            session.commit()
        resume = FakeResume()

        clock.set(datetime(2025, 3, 11, 9, 0, tzinfo=HCM))  # due the evening before
        first = await sweep(app, resume)
        again = await sweep(app, resume)
        clock.set(datetime(2025, 3, 12, 9, 0, tzinfo=HCM))  # a full working day late
        later = await sweep(app, resume)
        later_again = await sweep(app, resume)
    finally:
        app.close()

    assert asked == ["/police/receipts/BN-POLICE-00000001"] * 4, "each sweep polls once"
    assert [r.recorded.value for r in first.polled] == ["pending"]
    assert first.decided() == []
    assert [i.reference for i in first.findings.overdue] == ["HS-WAIT"]
    assert first.findings.escalated == []
    assert (first.notices, again.notices) == (2, 0)
    assert [i.reference for i in later.findings.escalated] == ["HS-WAIT"]
    assert (later.notices, later_again.notices) == (3, 0)
    sent = [(n.event_type, n.agency, n.dedupe_key[-10:]) for n in notices(app)]
    # The province is told in its day's summary of late work, not dossier by dossier.
    assert sent == [
        ("province.late_work", Agency.PROVINCE, "2025-03-11"),
        ("decision.reminder", Agency.POLICE, "2025-03-11"),
        ("province.late_work", Agency.PROVINCE, "2025-03-12"),
        ("decision.reminder", Agency.POLICE, "2025-03-12"),
        ("decision.escalated", Agency.COMMUNE, "2025-03-12"),
    ]
    assert all(n.status == NotificationStatus.DELIVERED for n in notices(app))
    assert posted.count(Settings().province.webhook_url) == 2, "at the province's endpoint"
    summary = notices(app)[2].payload
    assert (summary["province_code"], summary["escalated_decisions"]) == ("079", 1)
    assert [e["dossier_reference"] for e in summary["escalated"]] == ["HS-WAIT"]
    assert resume.calls == [], "a wait is not stuck: nothing to resume"


def awaiting_police(
    app: Container, reference: str, receipt: str, lease_expires_at: datetime | None = None
) -> None:
    """A dossier whose residence step awaits Police's decision under ``receipt``."""
    waiting = residence(
        StepStatus.AWAITING_DECISION,
        started_at=MONDAY - timedelta(hours=2),
        due_at=end_of(12),
        updated_at=MONDAY - timedelta(hours=2),
    )
    add_dossier(
        app,
        reference,
        DossierStatus.IN_PROGRESS,
        [registered(), waiting, card()],
        lease_expires_at=lease_expires_at,
    )
    with record_session(app) as session:
        step = session.scalars(
            select(Step)
            .join(Dossier)
            .where(Dossier.reference == reference, Step.kind == StepKind.RESIDENCE_REGISTRATION)
        ).one()
        step.receipt_number = receipt
        step.waiting_since = MONDAY - timedelta(hours=2)
        session.commit()


def grant(reference: str, receipt: str) -> DecisionNotice:
    result = {
        "dossier_reference": reference,
        "registration_number": f"TT-{receipt[-4:]}",
        "personal_id": "079226000123",
        "address": "12 Lê Lợi, Phường Bến Nghé",
        "registered_at": "2025-03-10T02:00:00Z",
    }
    return DecisionNotice(
        receipt_number=receipt,
        dossier_reference=reference,
        outcome=DecisionOutcome.GRANTED,
        result=result,
    )


async def test_a_decision_whose_chain_did_not_continue_is_continued_by_the_sweep(
    app: Container, clock: ManualClock
):
    # Police decided by callback, but resuming the run failed (Prefect was down): the
    # residence step is decided, the health card still pending, and no run goes on.
    awaiting_police(app, "HS-DECIDED", "BN-POLICE-00000011")
    # The same, but a run holds the dossier's lease: it is going, nothing to do.
    awaiting_police(
        app, "HS-LEASED", "BN-POLICE-00000012", lease_expires_at=MONDAY + timedelta(hours=1)
    )
    # Still waiting for its decision: not stalled.
    awaiting_police(app, "HS-WAITING", "BN-POLICE-00000013")
    for reference, receipt in (("HS-DECIDED", "11"), ("HS-LEASED", "12")):
        notice = grant(reference, f"BN-POLICE-000000{receipt}")
        recorded = record_decision(app, Agency.POLICE, notice, DecisionSource.CALLBACK)
        assert recorded.recorded is Recorded.DECIDED
    resume = FakeResume()

    at_once = await sweep(app, resume)
    assert at_once.findings.stalled == [], "a run may be on its way: give it stuck_after"
    assert resume.calls == []

    clock.advance(timedelta(minutes=16))
    reported = await sweep(app, resume, SweepOptions(resume=False))
    assert [d.reference for d in reported.findings.stalled] == ["HS-DECIDED"]
    assert resume.calls == [], "reported only"

    report = await sweep(app, resume)
    assert [d.reference for d in report.findings.stalled] == ["HS-DECIDED"]
    assert [[(r.reference, r.why) for r in call] for call in resume.calls] == [
        [("HS-DECIDED", ResumeWhy.STALLED)]
    ]
    continued = actions(app, "stalled_chain_continued")
    assert [(e.dossier_reference, e.details) for e in continued] == [
        ("HS-DECIDED", {"outcome": "Completed"})
    ]
    assert "stalled after a decision: 1" in report.summary_lines()


async def test_a_dossier_between_steps_with_a_stopped_step_is_not_stalled(
    app: Container, clock: ManualClock
):
    # A step awaiting the citizen's supplement or in error has nothing to continue.
    for reference, status in (
        ("HS-SUPPL", StepStatus.AWAITING_SUPPLEMENT),
        ("HS-ERROR", StepStatus.ERROR),
    ):
        step = residence(status, started_at=MONDAY - timedelta(days=1), finished_at=MONDAY)
        add_dossier(app, reference, DossierStatus.IN_PROGRESS, [registered(), step, card()])
    clock.advance(timedelta(hours=1))

    report = await sweep(app, FakeResume(), SweepOptions(resume=False))

    assert report.findings.stalled == []


async def test_a_supplement_recorded_without_a_run_is_continued_by_the_next_sweep(
    app: Container, clock: ManualClock
):
    """`lienthong supplement REF FILE --no-run`: nobody resumes the chain, the sweep does."""
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=HCM))
    reference = "HT-2026-001002"
    operator = Actor("operator-3")
    assert receive(app, example(f"demo/{reference}"), operator).accepted
    request_supplement_at(app, reference, StepKind.RESIDENCE_REGISTRATION, operator)
    clock.advance(timedelta(days=1))
    record_supplement(app, reference, example(f"demo/supplements/{reference}"), operator)
    resume = FakeResume()

    assert (await sweep(app, resume)).findings.stalled == []
    clock.advance(timedelta(minutes=16))
    report = await sweep(app, resume)

    assert [d.reference for d in report.findings.stalled] == [reference]
    assert [[(r.reference, r.why) for r in call] for call in resume.calls] == [
        [(reference, ResumeWhy.STALLED)]
    ]


# Escalation above the commune: each province hears of its late work in one notice per
# working day (models/province_digest.py), however many dossiers are late and however often
# the sweep runs.
# (reference, recorded province, commune, the residence step's status)
LATE = [
    ("HS-HCM-1", "079", "26734", StepStatus.IN_PROGRESS),
    ("HS-HCM-2", "079", "26734", StepStatus.AWAITING_DECISION),
    ("HS-HCM-3", "079", "26737", StepStatus.FAILED),
    # Recorded under Bình Dương's old code: TP. Hồ Chí Minh answers for it since 1/7/2025.
    ("HS-BD-1", "074", "25747", StepStatus.IN_PROGRESS),
    ("HS-HN-1", "001", "00004", StepStatus.IN_PROGRESS),
]


def late_dossiers(app: Container) -> None:
    for reference, province, commune, status in LATE:
        late = residence(
            status,
            started_at=MONDAY - timedelta(days=6),
            due_at=end_of(5),  # Wednesday: a full working day late on Monday
            updated_at=MONDAY - timedelta(minutes=1),
        )
        add_dossier(
            app,
            reference,
            DossierStatus.IN_PROGRESS,
            [registered(), late, card()],
            province_code=province,
            commune_code=commune,
            lease_expires_at=MONDAY + timedelta(days=30),  # a run holds it: not stuck
        )


def province_summaries(app: Container) -> list[tuple[str, str]]:
    """(province, local day) of every summary queued, in order."""
    return [
        (n.payload["province_code"], n.payload["local_day"])
        for n in notices(app)
        if n.event_type == "province.late_work"
    ]


async def test_one_summary_per_province_per_working_day(app: Container, clock: ManualClock):
    late_dossiers(app)
    monday = await sweep(app, FakeResume())
    assert len(monday.findings.overdue) == len(LATE)
    assert [i.reference for i in monday.findings.escalated] == ["HS-HCM-2"]
    assert province_summaries(app) == [("001", "2025-03-10"), ("079", "2025-03-10")]
    hcm = next(n for n in notices(app) if n.payload.get("province_code") == "079")
    assert hcm.agency == Agency.PROVINCE
    assert hcm.dedupe_key == "province_late_work:079:2025-03-10"
    body = hcm.payload
    assert (body["overdue_steps"], body["escalated_decisions"], body["overdue_chains"]) == (4, 1, 0)
    assert body["by_commune"] == [
        {"commune_code": c, "overdue_steps": n, "escalated_decisions": e, "overdue_chains": 0}
        for c, n, e in (("25747", 1, 0), ("26734", 2, 1), ("26737", 1, 0))
    ]
    assert body["by_step"] == [
        {"step": "residence_registration", "performed_by": "police", "overdue": 4, "escalated": 1}
    ]
    assert [e["dossier_reference"] for e in body["escalated"]] == ["HS-HCM-2"]
    audited = actions(app, "province_late_work_notified")
    assert sorted(str(e.dossier_reference) for e in audited) == ["province:001", "province:079"]
    assert all(e.status_before is None and e.status_after is None for e in audited)

    clock.advance(timedelta(hours=7))  # 16:00 the same day
    again = await sweep(app, FakeResume())
    assert len(again.findings.overdue) == len(LATE)
    assert again.notices == 0
    assert len(province_summaries(app)) == 2

    clock.set(datetime(2025, 3, 15, 9, 0, tzinfo=HCM))  # Saturday: the commune is told
    saturday = await sweep(app, FakeResume())
    assert saturday.notices > 0
    assert len(province_summaries(app)) == 2, "no summary on a day off"

    clock.set(datetime(2025, 3, 17, 8, 30, tzinfo=HCM))  # Monday
    await sweep(app, FakeResume())
    assert province_summaries(app)[2:] == [("001", "2025-03-17"), ("079", "2025-03-17")]
    assert all(n.status.value == "delivered" for n in notices(app))


async def test_no_late_work_no_summary(app: Container):
    on_time = residence(
        StepStatus.IN_PROGRESS, started_at=MONDAY, due_at=end_of(14), updated_at=MONDAY
    )
    add_dossier(app, "HS-OK", DossierStatus.IN_PROGRESS, [registered(), on_time, card()])
    await sweep(app, FakeResume())
    assert province_summaries(app) == []
