"""The audit trail's hash chain: appended events verify, tampering is found and named."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lienthong.audit import GENESIS_HASH, AuditRecord, VerifyResult, append_event, verify_chain
from models.tables import AuditEvent

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2024, 3, 1, 14, 59, 59, 123456, tzinfo=HANOI)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
# Every stored column but the id, which only orders the chain.
TAMPERABLE_COLUMNS = [c.name for c in AuditEvent.__table__.columns if c.name != "id"]


def _record(n: int) -> AuditRecord:
    """Events that differ in every way the chain must cover: None and set fields, nested
    details, Vietnamese text, times in more than one zone."""
    return AuditRecord(
        actor=f"operator-{n % 3}",
        action="step.status_changed" if n % 2 else "dossier.received",
        occurred_at=(T0 + timedelta(minutes=n)).astimezone(UTC if n % 2 else HANOI),
        dossier_reference=f"HS-2024-{n:05d}" if n % 4 else None,
        step_kind="residence_registration" if n % 2 else None,
        status_before="pending" if n % 2 else None,
        status_after="in_progress" if n % 2 else "received",
        reason="Thiếu giấy chứng sinh" if n % 3 == 0 else None,
        flow_run_id=f"run-{n}" if n % 2 else None,
        details={"attempt": n, "agencies": ["justice", "police"], "ratio": 0.5, "đã": True}
        if n % 3
        else None,
    )


def _append_all(session_factory: sessionmaker[Session], count: int) -> list[int]:
    ids = []
    for n in range(count):
        with session_factory() as session:
            ids.append(append_event(session, _record(n)).id)
            session.commit()
    return ids


def _verify(session_factory: sessionmaker[Session]) -> VerifyResult:
    with session_factory() as session:
        return verify_chain(session)


def _checked_intact(session_factory: sessionmaker[Session]) -> int:
    """How many events verified, asserting that none is broken."""
    result = _verify(session_factory)
    assert result.first_break is None
    return result.checked


def test_an_empty_trail_verifies(session_factory: sessionmaker[Session]) -> None:
    assert _checked_intact(session_factory) == 0


def test_appended_events_verify(session_factory: sessionmaker[Session]) -> None:
    _append_all(session_factory, 12)

    result = _verify(session_factory)

    assert result.intact
    assert result.checked == 12


def test_each_event_links_to_the_one_before(session_factory: sessionmaker[Session]) -> None:
    _append_all(session_factory, 3)
    with session_factory() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.prev_hash for e in events] == [GENESIS_HASH, events[0].hash, events[1].hash]


def test_an_event_rolled_back_with_its_transaction_leaves_no_trace(
    session_factory: sessionmaker[Session],
) -> None:
    _append_all(session_factory, 2)
    with session_factory() as session:
        append_event(session, _record(2))
        session.rollback()
    _append_all(session_factory, 1)

    assert _checked_intact(session_factory) == 3


def test_a_second_event_naming_the_same_predecessor_is_refused(
    session_factory: sessionmaker[Session],
) -> None:
    """The unique prev_hash is what keeps a racing writer from forking the chain."""
    _append_all(session_factory, 1)
    with session_factory() as session:
        fork = AuditEvent(
            occurred_at=T0, actor="intruder", action="fork", prev_hash=GENESIS_HASH, hash="f" * 64
        )
        session.add(fork)
        with pytest.raises(IntegrityError):
            session.commit()


def test_naive_times_are_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, pytest.raises(ValueError, match="timezone"):
        append_event(session, AuditRecord("operator", "x", datetime(2024, 3, 1, 9)))


def _tampered(column: str, value: Any) -> Any:
    """A different value of the same type for ``column``."""
    if column == "details":
        return {**(value or {}), "tampered": True}
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    return f"{value or ''}x"


@SQLITE_ONLY
@pytest.mark.parametrize("column", TAMPERABLE_COLUMNS)
def test_altering_any_field_of_any_event_is_detected_at_that_event(
    engine: Engine, session_factory: sessionmaker[Session], column: str
) -> None:
    ids = _append_all(session_factory, 6)
    column_type = AuditEvent.__table__.c[column].type
    tamper = text(f"UPDATE audit_events SET {column} = :value WHERE id = :id").bindparams(
        bindparam("value", type_=column_type)
    )
    for position, event_id in enumerate(ids):
        with engine.connect() as connection:
            transaction = connection.begin()
            original = connection.scalar(
                select(AuditEvent.__table__.c[column]).where(AuditEvent.id == event_id)
            )
            connection.execute(tamper, {"value": _tampered(column, original), "id": event_id})

            result = verify_chain(Session(bind=connection))
            transaction.rollback()

        assert result.first_break is not None, f"{column} of event {event_id} not detected"
        assert result.first_break.event_id == event_id
        assert result.checked == position
    assert _verify(session_factory).intact


@SQLITE_ONLY
@pytest.mark.parametrize("position", [0, 2])
def test_deleting_an_event_is_detected_at_the_one_after_it(
    engine: Engine, session_factory: sessionmaker[Session], position: int
) -> None:
    ids = _append_all(session_factory, 5)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[position]})

    result = _verify(session_factory)

    assert result.first_break is not None
    assert result.first_break.event_id == ids[position + 1]
    assert "previous-hash" in result.first_break.problem
    assert result.checked == position


@SQLITE_ONLY
def test_deleting_the_newest_events_is_caught_by_a_published_anchor(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    ids = _append_all(session_factory, 5)
    with session_factory() as session:
        published = verify_chain(session).head
        assert verify_chain(session, anchor=published).anchor_found is True
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id >= :id"), {"id": ids[3]})

    with session_factory() as session:
        result = verify_chain(session, anchor=published)

    assert result.intact, "a truncated chain is still a valid chain..."
    assert result.checked == 3
    assert result.anchor_found is False, "...but the published head is gone"


def test_concurrent_appends_never_fork_the_chain(
    session_factory: sessionmaker[Session],
) -> None:
    """Several threads, each on its own connection, append at the same moment."""
    writers, events_each = 6, 8
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            start.wait()
            for n in range(events_each):
                with session_factory() as session:
                    append_event(session, _record(writer * events_each + n))
                    session.commit()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == writers * events_each
    assert _checked_intact(session_factory) == writers * events_each
