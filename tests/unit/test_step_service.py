"""Starting and finishing a step as use cases, on the fake unit of work: what the agency is
sent, how each outcome (services/step_outcomes.py) is recorded, who is told, and what the
operators see."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from lienthong.adapters.errors import Refused, TransientAgencyError
from lienthong.models.clock import ManualClock
from lienthong.models.status import (
    Agency,
    DossierStatus,
    IllegalTransition,
    StepKind,
    StepStatus,
)
from lienthong.services.agency_calls import AgencyOutcome
from lienthong.services.begin_step import begin_step
from lienthong.services.container import Container
from lienthong.services.finish_step import finish_step
from lienthong.services.intake import receive
from lienthong.services.ledger import Actor
from lienthong.services.note_transient_error import note_transient_error
from lienthong.services.step_outcomes import granted, outcome_of
from lienthong.services.views import events, load_view
from tests.fakes import FakeStore, fake_container
from tests.helpers import example

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
RUN = Actor("system", "run-1")
REFERENCE = "HT-2026-001002"
BIRTH, RESIDENCE, CARD = (
    StepKind.BIRTH_REGISTRATION,
    StepKind.RESIDENCE_REGISTRATION,
    StepKind.CHILD_HEALTH_CARD,
)


@pytest.fixture
def app(clock: ManualClock) -> tuple[Container, FakeStore]:
    container, store = fake_container(clock=clock)
    assert receive(container, example(f"demo/{REFERENCE}"), Actor("operator-1")).accepted
    return container, store


def _told(store: FakeStore, since: int = 0) -> list[tuple[Agency, str]]:
    return [(n.notice.agency, n.notice.event_type) for n in store.notices[since:]]


def test_beginning_a_step_counts_the_attempt_starts_its_clock_and_says_what_to_send(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app

    call = begin_step(container, REFERENCE, BIRTH, RUN)

    assert (call.reference, call.kind, call.agency) == (REFERENCE, BIRTH, Agency.JUSTICE)
    assert call.idempotency_key == f"{REFERENCE}:birth_registration:r0"
    assert call.dossier == store.dossiers[REFERENCE].payload
    assert call.earlier_results == {}
    dossier = store.dossiers[REFERENCE]
    step = dossier.step(BIRTH)
    assert (step.status, step.attempts, step.started_at) == (
        StepStatus.IN_PROGRESS,
        1,
        clock.now(),
    )
    # The agency's clock runs from when the dossier became available to it: its reception.
    assert step.due_at == container.deadlines.step_due_at(BIRTH, dossier.received_at)
    assert dossier.received_at < clock.now()
    assert dossier.status == DossierStatus.IN_PROGRESS
    assert [(e.record.action, e.record.flow_run_id) for e in store.audit[1:]] == [
        ("step_status_changed", "run-1"),
        ("dossier_status_changed", "run-1"),
    ]
    assert store.notices == [], "nobody is told a step started"


def test_an_interrupted_step_is_resumed_under_the_same_key_and_clock(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    first = begin_step(container, REFERENCE, BIRTH, RUN)
    started = clock.now()
    clock.advance(timedelta(minutes=30))  # the process died mid-call

    again = begin_step(container, REFERENCE, BIRTH, RUN)

    assert again.idempotency_key == first.idempotency_key
    step = store.dossiers[REFERENCE].step(BIRTH)
    assert (step.attempts, step.started_at) == (2, started)
    last = store.audit[-1].record
    assert (last.action, last.status_before, last.status_after) == (
        "step_resumed",
        "in_progress",
        "in_progress",
    )
    assert last.details == {"attempt": 2}


def test_steps_start_in_their_chain_s_order(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    commits = store.commits

    with pytest.raises(IllegalTransition, match="residence_registration starts after"):
        begin_step(container, REFERENCE, RESIDENCE, RUN)
    assert store.commits == commits
    assert store.dossiers[REFERENCE].step(RESIDENCE).attempts == 0


def test_a_grant_is_recorded_told_onwards_and_handed_to_the_next_step(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    begin_step(container, REFERENCE, BIRTH, RUN)
    result = {"registration_number": "KS-1", "child_personal_id": "058226000001"}

    view = finish_step(container, REFERENCE, BIRTH, granted(AgencyOutcome("KS-1", result)), RUN)

    assert view.reference == REFERENCE
    assert (view.steps[0].kind, view.steps[0].status) == (BIRTH, StepStatus.SUCCEEDED)
    assert view.steps[0].agency_reference == "KS-1"
    # Received on 20 November, granted on the 23rd: late, the agency's clock started at
    # reception (the dossier was available to it), not when our call reached it.
    assert view.steps[0].on_time is False
    step = store.dossiers[REFERENCE].step(BIRTH)
    assert (step.result, step.finished_at) == (result, clock.now())
    # The performing agency and those of the later steps hear of it.
    assert _told(store) == [
        (Agency.JUSTICE, "step.succeeded"),
        (Agency.POLICE, "step.succeeded"),
        (Agency.SOCIAL_INSURANCE, "step.succeeded"),
    ]
    assert store.notices[0].notice.payload["result"] == result
    assert begin_step(container, REFERENCE, RESIDENCE, RUN).earlier_results == {BIRTH: result}


def test_a_refusal_ends_the_chain(app: tuple[Container, FakeStore]) -> None:
    container, store = app
    begin_step(container, REFERENCE, BIRTH, RUN)

    view = finish_step(
        container, REFERENCE, BIRTH, outcome_of(Refused(Agency.JUSTICE, "đã đăng ký")), RUN
    )

    assert view.status == DossierStatus.REFUSED
    assert [s.status for s in view.steps] == [
        StepStatus.REFUSED,
        StepStatus.SKIPPED,
        StepStatus.SKIPPED,
    ]
    assert view.steps[0].reason == "đã đăng ký"
    assert store.audit[-1].record.reason == "đã đăng ký"
    assert (Agency.COMMUNE, "step.refused") in _told(store)


def test_an_unreachable_agency_is_told_once_a_day(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    """The sweep resumes a failed step every half hour: its agency hears of it daily."""
    container, store = app
    down = outcome_of(TransientAgencyError(Agency.JUSTICE, "503"))

    begin_step(container, REFERENCE, BIRTH, RUN)
    view = finish_step(container, REFERENCE, BIRTH, down, RUN)
    told = len(store.notices)
    clock.advance(timedelta(minutes=30))
    begin_step(container, REFERENCE, BIRTH, RUN)
    finish_step(container, REFERENCE, BIRTH, down, RUN)
    assert len(store.notices) == told
    clock.advance(timedelta(days=1))
    begin_step(container, REFERENCE, BIRTH, RUN)
    finish_step(container, REFERENCE, BIRTH, down, RUN)

    assert view.steps[0].status == StepStatus.FAILED
    assert _told(store, told) == [(Agency.JUSTICE, "step.failed"), (Agency.COMMUNE, "step.failed")]
    step = store.dossiers[REFERENCE].step(BIRTH)
    assert step.last_error == "agency unreachable, retries exhausted: justice: 503"
    assert step.attempts == 3


def test_a_transient_error_is_kept_on_the_step(
    app: tuple[Container, FakeStore], clock: ManualClock
) -> None:
    container, store = app
    begin_step(container, REFERENCE, BIRTH, RUN)
    clock.advance(timedelta(seconds=5))
    commits = store.commits

    note_transient_error(container, REFERENCE, BIRTH, "justice: 429")

    step = store.dossiers[REFERENCE].step(BIRTH)
    assert (step.status, step.last_error, step.updated_at) == (
        StepStatus.IN_PROGRESS,
        "justice: 429",
        clock.now(),
    )
    assert store.commits == commits + 1


def test_operators_see_local_times(app: tuple[Container, FakeStore]) -> None:
    container, _ = app
    begin_step(container, REFERENCE, BIRTH, RUN)

    view = load_view(container, REFERENCE)
    timeline = events(container, REFERENCE)

    assert view.steps[0].due_at == "2026-11-20T23:59:59+07:00"
    assert view.due_at is not None
    assert view.due_at.endswith("+07:00")
    assert [(e["action"], e["step"], e["after"]) for e in timeline] == [
        ("dossier_received", None, "received"),
        ("step_status_changed", "birth_registration", "in_progress"),
        ("dossier_status_changed", None, "in_progress"),
    ]
    assert {e["at"] for e in timeline} == {"2026-11-23T09:00:00+07:00"}
