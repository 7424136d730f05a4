"""The SQL unit of work and its repositories, once per backend (SQLite and PostgreSQL).

What the services do with them is tested on the fakes (tests/unit/test_*_service.py); this
module checks what only a database can get wrong: that a dossier comes back exactly as it
was stored, that changes are kept on commit and only then, that conflicts become
ConcurrentChange, and that the audit chain, the outbox, the supplements and the lease are
stored and read back as the protocols in services/unit_of_work.py promise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lienthong.adapters import tables
from lienthong.adapters.notifier import DeliveryOutcome
from lienthong.adapters.sql_unit_of_work import SqlUnitOfWork
from lienthong.models.audit import GENESIS_HASH, AuditRecord, verify_chain, verify_stored
from lienthong.models.chains import birth_plan
from lienthong.models.deadlines import Deadlines
from lienthong.models.lifecycle import (
    ConcurrentChange,
    Dossier,
    DossierNotFound,
    Step,
    idempotency_key,
)
from lienthong.models.notices import Notice
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.models.statutory import CalendarSettings
from tests.helpers import bypass_audit_triggers

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=HCM)
REFERENCE = "HT-2026-000777"
DEADLINES = Deadlines.from_settings(CalendarSettings())
T = TypeVar("T")
Uow = Callable[[], SqlUnitOfWork]


@pytest.fixture
def uow(session_factory: sessionmaker[Session]) -> Uow:
    """A new unit of work on the test database, each call."""
    return lambda: SqlUnitOfWork(session_factory)


def _dossier(reference: str = REFERENCE) -> Dossier:
    """A dossier with every field set, times in more than one zone, nested JSON."""
    return Dossier(
        reference=reference,
        chain=Chain.BIRTH,
        status=DossierStatus.IN_PROGRESS,
        province_code="056",
        commune_code="22738",
        received_at=T0,
        payload={
            "reference": reference,
            "child": {"full_name": "Nguyễn Văn An", "parents": ["Lê Thị B", None]},
            "chain_opt_in": True,
            "contribution_months": 200,
            "ratio": 0.5,
        },
        created_at=T0 + timedelta(minutes=1),
        updated_at=(T0 + timedelta(minutes=2)).astimezone(UTC),
        late_filing=True,
        clock_started_at=T0 + timedelta(minutes=3),
        due_at=datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=HCM),
        completed_at=T0 + timedelta(days=2),
        on_time=False,
        rejection_reasons=[{"path": "child.date_of_birth", "message": "là ngày mai"}],
        steps=[
            Step(
                kind=StepKind.BIRTH_REGISTRATION,
                agency=Agency.JUSTICE,
                position=0,
                idempotency_key=idempotency_key(reference, StepKind.BIRTH_REGISTRATION, 2),
                updated_at=T0 + timedelta(hours=1),
                status=StepStatus.SUCCEEDED,
                attempts=3,
                agency_reference="KS-2026-000123",
                result={"registration_number": "KS-2026-000123", "child": {"id": "058226000001"}},
                reason="đã đăng ký",
                missing_items=["tờ khai", {"item": "giấy chứng sinh"}],
                last_error="police: 503",
                started_at=(T0 + timedelta(minutes=5)).astimezone(UTC),
                finished_at=T0 + timedelta(minutes=50),
                due_at=datetime(2026, 11, 23, 23, 59, 59, 999999, tzinfo=HCM),
                on_time=True,
            ),
            Step(
                kind=StepKind.RESIDENCE_REGISTRATION,
                agency=Agency.POLICE,
                position=1,
                idempotency_key=idempotency_key(reference, StepKind.RESIDENCE_REGISTRATION),
                updated_at=T0,
            ),
        ],
    )


def _received(reference: str = REFERENCE) -> Dossier:
    """A dossier as intake makes it: received, its steps pending."""
    dossier, _ = Dossier.receive(
        reference=reference,
        chain=Chain.BIRTH,
        province_code="056",
        commune_code="22738",
        received_at=T0,
        late_filing=False,
        payload={"reference": reference, "child": {"full_name": "Nguyễn Văn An"}},
        plan=birth_plan(),
        deadlines=DEADLINES,
        now=T0,
    )
    return dossier


def _store(uow: Uow, dossier: Dossier) -> Dossier:
    with uow() as work:
        work.dossiers.add(dossier)
        work.commit()
    return dossier


def _read(uow: Uow, read: Callable[[SqlUnitOfWork], T]) -> T:
    with uow() as work:
        return read(work)


def _fields(dossier: Dossier) -> dict[str, Any]:
    values = {f.name: getattr(dossier, f.name) for f in fields(Dossier) if f.name != "steps"}
    values["steps"] = [{f.name: getattr(s, f.name) for f in fields(Step)} for s in dossier.steps]
    return values


def _datetimes(dossier: Dossier) -> list[datetime]:
    values = [getattr(dossier, f.name) for f in fields(Dossier)]
    values += [getattr(step, f.name) for step in dossier.steps for f in fields(Step)]
    return [v for v in values if isinstance(v, datetime)]


# Dossiers ----------------------------------------------------------------------------


def test_a_dossier_with_its_steps_comes_back_as_it_was_stored(uow: Uow) -> None:
    dossier = _dossier()
    with uow() as work:
        work.dossiers.add(dossier)
        # Ids are set at once, for the audit events and notices of the same transaction.
        assert dossier.id is not None
        assert all(step.id is not None for step in dossier.steps)
        work.commit()
    written = _fields(dossier)

    found = _read(uow, lambda work: work.dossiers.find(REFERENCE))
    got = _read(uow, lambda work: work.dossiers.get(REFERENCE))

    assert found is not None
    assert _fields(found) == written
    assert _fields(got) == written
    for read in (found, got):
        assert isinstance(read.chain, Chain)
        assert isinstance(read.status, DossierStatus)
        assert [type(s.kind) for s in read.steps] == [StepKind, StepKind]
        assert [type(s.agency) for s in read.steps] == [Agency, Agency]
        assert [type(s.status) for s in read.steps] == [StepStatus, StepStatus]
        assert len(_datetimes(read)) == len(_datetimes(dossier)) == 11
        assert all(moment.utcoffset() is not None for moment in _datetimes(read))


def test_steps_come_back_in_their_chain_s_order(uow: Uow) -> None:
    dossier = _dossier()
    dossier.steps.reverse()  # stored last step first
    _store(uow, dossier)

    got = _read(uow, lambda work: work.dossiers.get(REFERENCE))

    assert [s.position for s in got.steps] == [0, 1]


def test_an_unknown_reference_is_not_found(uow: Uow) -> None:
    _store(uow, _dossier())
    assert _read(uow, lambda work: work.dossiers.find("HT-2026-999999")) is None
    with pytest.raises(DossierNotFound, match="HT-2026-999999"), uow() as work:
        work.dossiers.get("HT-2026-999999")


def test_what_a_service_changes_is_saved_on_commit(uow: Uow) -> None:
    _store(uow, _received())
    later = T0 + timedelta(hours=1)
    with uow() as work:
        dossier = work.dossiers.get(REFERENCE)
        dossier.start_step(StepKind.BIRTH_REGISTRATION, deadlines=DEADLINES, now=later)
        dossier.payload = {**dossier.payload, "child": {"full_name": "Nguyễn Văn Bình"}}
        work.commit()
    expected = _fields(dossier)

    got = _read(uow, lambda work: work.dossiers.get(REFERENCE))

    assert _fields(got) == expected
    assert got.status == DossierStatus.IN_PROGRESS
    step = got.step(StepKind.BIRTH_REGISTRATION)
    assert (step.status, step.attempts, step.started_at) == (StepStatus.IN_PROGRESS, 1, later)
    assert step.due_at == DEADLINES.step_due_at(StepKind.BIRTH_REGISTRATION, later)
    assert got.payload["child"]["full_name"] == "Nguyễn Văn Bình"


def test_a_nested_change_to_a_dossier_s_json_in_place_is_saved_on_commit(uow: Uow) -> None:
    """The domain object owns its JSON: changing it in place is a change like any other."""
    _store(uow, _dossier())
    with uow() as work:
        dossier = work.dossiers.get(REFERENCE)
        dossier.payload["child"]["full_name"] = "Nguyễn Văn Bình"
        work.commit()

    got = _read(uow, lambda work: work.dossiers.get(REFERENCE))

    assert got.payload["child"]["full_name"] == "Nguyễn Văn Bình"


def test_a_top_level_change_to_a_dossier_s_json_in_place_is_saved_on_commit(uow: Uow) -> None:
    _store(uow, _dossier())
    with uow() as work:
        dossier = work.dossiers.get(REFERENCE)
        dossier.payload["chain_opt_in"] = False
        assert dossier.steps[0].missing_items is not None
        dossier.steps[0].missing_items.append("bản sao")
        work.commit()

    got = _read(uow, lambda work: work.dossiers.get(REFERENCE))

    assert got.payload["chain_opt_in"] is False
    assert got.steps[0].missing_items == ["tờ khai", {"item": "giấy chứng sinh"}, "bản sao"]


def _withdraw_then_fail(uow: Uow) -> None:
    with uow() as work:
        work.dossiers.get(REFERENCE).withdraw(reason="?", now=T0 + timedelta(hours=1))
        raise RuntimeError("nothing saved")


def test_without_a_commit_nothing_is_kept(uow: Uow) -> None:
    _store(uow, _received())
    before = _fields(_read(uow, lambda work: work.dossiers.get(REFERENCE)))

    with uow() as work:
        dossier = work.dossiers.get(REFERENCE)
        dossier.withdraw(reason="changed their mind", now=T0 + timedelta(hours=1))
        work.dossiers.add(_received("HT-2026-000778"))
        work.audit.append(AuditRecord("operator", "dossier_withdrawn", T0, REFERENCE))
    with pytest.raises(RuntimeError, match="nothing saved"):
        _withdraw_then_fail(uow)

    assert _fields(_read(uow, lambda work: work.dossiers.get(REFERENCE))) == before
    assert _read(uow, lambda work: work.dossiers.find("HT-2026-000778")) is None
    assert _read(uow, lambda work: list(work.audit.entries())) == []


def test_a_rollback_discards_what_came_before_it(uow: Uow) -> None:
    _store(uow, _received())
    with uow() as work:
        work.dossiers.add(_received("HT-2026-000778"))
        work.rollback()
        work.dossiers.add(_received("HT-2026-000779"))
        work.commit()

    assert _read(uow, lambda work: work.dossiers.find("HT-2026-000778")) is None
    assert _read(uow, lambda work: work.dossiers.find("HT-2026-000779")) is not None


def test_a_rollback_discards_changes_to_dossiers_read_before_it(uow: Uow) -> None:
    _store(uow, _received())
    with uow() as work:
        work.dossiers.get(REFERENCE).withdraw(reason="changed their mind", now=T0)
        work.rollback()
        work.commit()

    assert _read(uow, lambda work: work.dossiers.get(REFERENCE)).status == DossierStatus.RECEIVED


def test_a_reference_on_record_already_is_a_concurrent_change(uow: Uow) -> None:
    _store(uow, _received())

    with uow() as work:
        with pytest.raises(ConcurrentChange, match=f"dossier {REFERENCE} is on record already"):
            work.dossiers.add(_received())
        # The transaction is still usable once rolled back: intake looks the winner up.
        work.rollback()
        assert work.dossiers.find(REFERENCE) is not None

    assert _read(uow, lambda work: work.session.scalar(select(func.count(tables.Dossier.id)))) == 1


def test_the_second_of_two_writers_of_a_dossier_is_a_concurrent_change(uow: Uow) -> None:
    """Both read version 1 and change it; only the first commit may win."""
    _store(uow, _received())
    with uow() as first, uow() as second:
        # Each read transaction ends once loaded (the objects stay loaded): with SQLite's
        # BEGIN IMMEDIATE the second read would otherwise wait for the first to finish.
        mine = first.dossiers.get(REFERENCE)
        first.commit()
        theirs = second.dossiers.get(REFERENCE)
        second.commit()

        mine.start_step(StepKind.BIRTH_REGISTRATION, deadlines=DEADLINES, now=T0)
        first.commit()
        theirs.withdraw(reason="changed their mind", now=T0)
        with pytest.raises(ConcurrentChange):
            second.commit()

    got = _read(uow, lambda work: work.dossiers.get(REFERENCE))
    assert got.status == DossierStatus.IN_PROGRESS
    assert got.step(StepKind.BIRTH_REGISTRATION).status == StepStatus.IN_PROGRESS
    assert got.step(StepKind.CHILD_HEALTH_CARD).status == StepStatus.PENDING


def test_an_integrity_fault_at_commit_is_raised_and_keeps_nothing(uow: Uow) -> None:
    """Not a ConcurrentChange (a stale row, a reference taken): a fault, raised as it is."""
    notice = Notice(Agency.COMMUNE, "test.notice", "once", REFERENCE, None, {})
    _store(uow, _received())
    with uow() as work:
        work.outbox.add(notice, T0)
        work.commit()

    with uow() as work:
        work.dossiers.get(REFERENCE).start_step(
            StepKind.BIRTH_REGISTRATION, deadlines=DEADLINES, now=T0
        )
        work.outbox.add(notice, T0)
        with pytest.raises(IntegrityError):
            work.commit()

    assert _read(uow, lambda work: work.dossiers.get(REFERENCE)).status == DossierStatus.RECEIVED
    assert _read(uow, lambda work: work.outbox.pending(None))[0] == 1


# The audit trail ---------------------------------------------------------------------


def _record(n: int, reference: str | None = REFERENCE) -> AuditRecord:
    return AuditRecord(
        actor=f"operator-{n % 3}",
        action="step_status_changed" if n % 2 else "dossier_received",
        occurred_at=(T0 + timedelta(minutes=n)).astimezone(UTC if n % 2 else HCM),
        dossier_reference=reference,
        step_kind="residence_registration" if n % 2 else None,
        status_before="pending" if n % 2 else None,
        status_after="in_progress" if n % 2 else "received",
        reason="Thiếu giấy chứng sinh" if n % 3 == 0 else None,
        flow_run_id=f"run-{n}" if n % 2 else None,
        details={"attempt": n, "agencies": ["justice", "police"], "ratio": 0.5, "đã": True}
        if n % 3
        else None,
    )


def _append_all(uow: Uow, count: int, reference: str | None = REFERENCE) -> list[int]:
    ids = []
    for n in range(count):
        with uow() as work:
            ids.append(work.audit.append(_record(n, reference)))
            work.commit()
    return ids


def test_appended_events_are_chained_and_read_back_as_recorded(uow: Uow) -> None:
    ids = _append_all(uow, 6)
    _append_all(uow, 2, reference="HT-2026-000778")

    entries = _read(uow, lambda work: list(work.audit.entries()))
    mine = _read(uow, lambda work: list(work.audit.entries(REFERENCE)))

    assert [e.id for e in mine] == ids == sorted(ids)
    assert len(entries) == 8
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.record for e in mine] == [_record(n) for n in range(6)]
    # The stored form (`audit verify`'s) verifies too: times formatted by the database,
    # details as stored (non-ASCII ones canonicalised first).
    stored = _read(uow, lambda work: list(work.audit.stored_events()))
    assert [event[0] for event in stored] == [e.id for e in entries]
    verified = verify_stored(stored)
    assert (verified.first_break, verified.checked) == (None, 8)
    assert all(e.record.occurred_at.utcoffset() is not None for e in entries)
    result = verify_chain(entries)
    assert (result.intact, result.checked, result.head) == (True, 8, entries[-1].hash)


def test_an_event_rolled_back_with_its_transaction_leaves_no_trace(uow: Uow) -> None:
    _append_all(uow, 2)
    with uow() as work:
        work.audit.append(_record(2))
    _append_all(uow, 1)

    entries = _read(uow, lambda work: list(work.audit.entries()))
    assert len(entries) == 3
    assert verify_chain(entries).intact


def test_a_second_event_naming_the_same_predecessor_is_refused(
    session_factory: sessionmaker[Session], uow: Uow
) -> None:
    """The unique prev_hash is what keeps a racing writer from forking the chain."""
    _append_all(uow, 1)
    with session_factory() as session:
        fork = tables.AuditEvent(
            occurred_at=T0, actor="intruder", action="fork", prev_hash=GENESIS_HASH, hash="f" * 64
        )
        session.add(fork)
        with pytest.raises(IntegrityError):
            session.commit()


def test_concurrent_appends_never_fork_the_chain(uow: Uow) -> None:
    """Several threads, each on its own connection, append at the same moment."""
    writers, events_each = 6, 8
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            start.wait()
            for n in range(events_each):
                with uow() as work:
                    work.audit.append(_record(writer * events_each + n))
                    work.commit()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    entries = _read(uow, lambda work: list(work.audit.entries()))
    assert len(entries) == writers * events_each
    assert verify_chain(entries).checked == writers * events_each


def test_several_appends_per_transaction_from_racing_writers_keep_one_chain(uow: Uow) -> None:
    """The head is read once per transaction, under the lock: racing writers appending
    several events per transaction, committing and rolling back within one unit of work,
    still leave one unbroken chain."""
    writers, transactions, per_transaction = 4, 3, 3
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            start.wait()
            with uow() as work:
                for t in range(transactions):
                    for n in range(per_transaction):
                        work.audit.append(_record(writer * 100 + t * 10 + n))
                    work.commit()
                work.audit.append(_record(writer * 100 + 99))
                work.rollback()  # this one's lock and head are gone with it
                work.audit.append(_record(writer * 100 + 98))
                work.commit()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    entries = _read(uow, lambda work: list(work.audit.entries()))
    assert len(entries) == writers * (transactions * per_transaction + 1)
    assert verify_chain(entries).intact


def _tampered(column: str, value: Any) -> Any:
    """A different value of the same type for ``column``."""
    if column == "details":
        return {**(value or {}), "tampered": True}
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if column in ("prev_hash", "hash"):  # 64 characters on PostgreSQL too
        return value[:-1] + ("1" if value[-1] == "0" else "0")
    return f"{value or ''}x"


@pytest.mark.parametrize(
    "column", [c.name for c in tables.AuditEvent.__table__.columns if c.name != "id"]
)
def test_altering_any_stored_column_of_an_event_is_detected_at_that_event(
    engine: Engine, uow: Uow, column: str
) -> None:
    """Every column the table keeps is read back into what the chain hashes, by both ways
    of reading it (records, and the stored form `audit verify` reads)."""
    ids = _append_all(uow, 4)
    column_type = tables.AuditEvent.__table__.c[column].type
    tamper = text(f"UPDATE audit_events SET {column} = :value WHERE id = :id").bindparams(
        bindparam("value", type_=column_type)
    )
    with engine.begin() as connection:
        bypass_audit_triggers(connection)
        original = connection.scalar(
            select(tables.AuditEvent.__table__.c[column]).where(tables.AuditEvent.id == ids[2])
        )
        connection.execute(tamper, {"value": _tampered(column, original), "id": ids[2]})

    for result in (
        verify_chain(_read(uow, lambda work: list(work.audit.entries()))),
        verify_stored(_read(uow, lambda work: list(work.audit.stored_events()))),
    ):
        assert result.first_break is not None, f"{column} of event {ids[2]} not detected"
        assert result.first_break.event_id == ids[2]
        assert result.checked == 2


# The outbox --------------------------------------------------------------------------


def _notice(key: str, reference: str = REFERENCE, agency: Agency = Agency.POLICE) -> Notice:
    return Notice(
        agency,
        "step.succeeded",
        key,
        reference,
        StepKind.RESIDENCE_REGISTRATION,
        {"step": "residence_registration", "người": "Nguyễn Văn An", "n": [1, 2]},
    )


def test_the_outbox_queues_claims_and_records_every_attempt(uow: Uow) -> None:
    with uow() as work:
        work.outbox.add(_notice("a"), T0)
        work.outbox.add(_notice("b", agency=Agency.COMMUNE), T0 + timedelta(seconds=1))
        work.outbox.add(_notice("c", reference="HT-2026-000778"), T0)
        work.outbox.add(_notice("later"), T0 + timedelta(hours=1))
        # What is queued in this very transaction counts as queued.
        assert work.outbox.queued(["a", "c", "z"]) == {"a", "c"}
        assert work.outbox.queued([]) == set()
        work.commit()
    assert _read(uow, lambda work: work.outbox.queued(["b", "later", "z"])) == {"b", "later"}
    assert _read(uow, lambda work: work.outbox.pending(None)) == (4, T0)
    assert _read(uow, lambda work: work.outbox.pending(REFERENCE)) == (3, T0)

    # Due ones, oldest first, up to the limit, of one dossier; each pushed to claim_until.
    now, claim_until = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    with uow() as work:
        claimed = work.outbox.claim_due(now, claim_until, 10, REFERENCE)
        work.commit()
    assert [(n.agency, n.attempts) for n in claimed] == [(Agency.POLICE, 0), (Agency.COMMUNE, 0)]
    assert claimed[0].payload == _notice("a").payload
    assert len({n.event_id for n in claimed}) == 2
    # A second dispatcher finds nothing due of that dossier until the claim runs out.
    assert _read(uow, lambda work: work.outbox.claim_due(now, claim_until, 10, REFERENCE)) == []
    assert _read(uow, lambda work: work.outbox.pending(REFERENCE)) == (3, claim_until)
    with uow() as work:
        [other] = work.outbox.claim_due(now, claim_until, 1, None)
        work.commit()
    assert other.payload == _notice("c").payload

    retry_at = T0 + timedelta(minutes=10)
    delivered = DeliveryOutcome(204, None, 0.012)
    failed = DeliveryOutcome(None, "connection refused", 0.5)
    with uow() as work:
        outcomes = [(claimed[0], delivered), (claimed[1], failed)]
        work.outbox.record_attempts(outcomes, now, [retry_at, retry_at])
        work.commit()

    assert _read(uow, lambda work: work.outbox.pending(REFERENCE)) == (2, retry_at)
    not_yet = retry_at - timedelta(microseconds=1)
    assert _read(uow, lambda work: work.outbox.claim_due(not_yet, retry_at, 10, REFERENCE)) == []
    with uow() as work:
        again = work.outbox.claim_due(retry_at + timedelta(hours=1), retry_at, 10, REFERENCE)
    assert [(n.id, n.attempts) for n in again] == [(claimed[1].id, 1), (_id_of(uow, "later"), 0)]
    rows = _read(
        uow,
        lambda work: [
            (r.dedupe_key, r.status, r.attempts, r.delivered_at, r.last_error)
            for r in work.session.scalars(
                select(tables.Notification).order_by(tables.Notification.id)
            )
        ],
    )
    assert rows[:2] == [
        ("a", tables.NotificationStatus.DELIVERED, 1, now, None),
        ("b", tables.NotificationStatus.PENDING, 1, None, "connection refused"),
    ]
    attempts = _read(
        uow,
        lambda work: [
            (a.notification_id, a.attempted_at, a.status_code, a.error, a.duration_ms)
            for a in work.session.scalars(
                select(tables.NotificationAttempt).order_by(tables.NotificationAttempt.id)
            )
        ],
    )
    assert attempts == [
        (claimed[0].id, now, 204, None, 12),
        (claimed[1].id, now, None, "connection refused", 500),
    ]


def _id_of(uow: Uow, dedupe_key: str) -> int:
    key = tables.Notification.dedupe_key
    return int(
        _read(
            uow,
            lambda work: work.session.scalar(
                select(tables.Notification.id).where(key == dedupe_key)
            ),
        )
        or 0
    )


# Supplements -------------------------------------------------------------------------


def test_each_supplement_is_kept_and_counted_per_step(uow: Uow) -> None:
    first, other = _store(uow, _received()), _store(uow, _received("HT-2026-000778"))
    residence, card = StepKind.RESIDENCE_REGISTRATION, StepKind.CHILD_HEALTH_CARD
    with uow() as work:
        rounds = [
            work.supplements.add(first, residence, T0, "operator-1", {"residence": {"x": 1}}),
            work.supplements.add(first, residence, T0, "operator-2", {}),
            work.supplements.add(first, card, T0, "operator-1", {}),
            work.supplements.add(other, residence, T0, "operator-1", {}),
        ]
        work.commit()
    with uow() as work:
        rounds.append(work.supplements.add(first, residence, T0, "operator-1", {}))
    # Rolled back: the next one is the third round again.
    with uow() as work:
        rounds.append(work.supplements.add(first, residence, T0, "operator-1", {}))
        work.commit()

    assert rounds == [1, 2, 1, 1, 3, 3]
    kept = _read(
        uow,
        lambda work: [
            (s.dossier_id, s.step_kind, s.received_at, s.actor, s.payload)
            for s in work.session.scalars(select(tables.Supplement).order_by(tables.Supplement.id))
        ],
    )
    assert kept[0] == (first.id, residence, T0, "operator-1", {"residence": {"x": 1}})
    assert len(kept) == 5


# The lease ---------------------------------------------------------------------------


def _acquire(uow: Uow, owner: str, now: datetime, reference: str = REFERENCE) -> bool:
    with uow() as work:
        taken = work.dossiers.acquire_lease(reference, owner, now, timedelta(seconds=30))
        work.commit()
    return taken


def _release(uow: Uow, owner: str) -> None:
    with uow() as work:
        work.dossiers.release_lease(REFERENCE, owner)
        work.commit()


def _lease(uow: Uow) -> tuple[str | None, datetime | None]:
    row = _read(
        uow,
        lambda work: work.session.execute(
            select(tables.Dossier.lease_owner, tables.Dossier.lease_expires_at).where(
                tables.Dossier.reference == REFERENCE
            )
        ).one(),
    )
    return row[0], row[1]


def test_the_lease_has_one_holder_renews_lapses_and_is_released_by_its_holder(uow: Uow) -> None:
    _store(uow, _received())
    ttl = timedelta(seconds=30)

    assert _acquire(uow, "run-1", T0)
    assert _lease(uow) == ("run-1", T0 + ttl)
    assert not _acquire(uow, "run-2", T0 + timedelta(seconds=1))
    assert _acquire(uow, "run-1", T0 + timedelta(seconds=10)), "its holder renews it"
    assert _lease(uow) == ("run-1", T0 + timedelta(seconds=10) + ttl)
    assert not _acquire(uow, "run-2", T0 + timedelta(seconds=10) + ttl), "live to its expiry"
    assert _acquire(uow, "run-2", T0 + timedelta(seconds=10) + ttl + timedelta(microseconds=1))
    assert _lease(uow)[0] == "run-2"

    _release(uow, "run-1")
    assert _lease(uow)[0] == "run-2", "only the holder releases it"
    _release(uow, "run-2")
    assert _lease(uow) == (None, None)
    assert _acquire(uow, "run-3", T0)
    assert not _acquire(uow, "run-1", T0, reference="HT-2026-999999")


def test_the_lease_does_not_disturb_the_dossier_s_own_writes(uow: Uow) -> None:
    """A withdrawal takes the lease, changes the dossier and releases it in one transaction."""
    _store(uow, _received())
    with uow() as work:
        dossier = work.dossiers.get(REFERENCE)
        assert work.dossiers.acquire_lease(REFERENCE, "withdraw-1", T0, timedelta(seconds=30))
        dossier.withdraw(reason="changed their mind", now=T0)
        work.dossiers.release_lease(REFERENCE, "withdraw-1")
        work.commit()

    assert _read(uow, lambda work: work.dossiers.get(REFERENCE)).status == DossierStatus.WITHDRAWN
    assert _lease(uow) == (None, None)
