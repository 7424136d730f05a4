"""The audit trail's hash chain: appended events verify, tampering is found and named.

The chain's rules (models/audit.py) need no database; how the SQL audit log stores,
serialises and refuses to fork the chain is tests/integration/test_sql_unit_of_work.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lienthong.models.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    Mismatch,
    VerifyResult,
    canonical_encoding,
    chained,
    event_hash,
    verify_chain,
)
from lienthong.services.audit_trail import verify
from lienthong.services.ledger import Actor, audit
from tests.fakes import fake_container

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2024, 3, 1, 14, 59, 59, 123456, tzinfo=HANOI)
RECORD_FIELDS = [f.name for f in dataclasses.fields(AuditRecord)]
# Every stored field of an event but its id, which only orders the chain.
TAMPERABLE = [*RECORD_FIELDS, "prev_hash", "hash"]


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


def _chain(records: Iterable[AuditRecord]) -> list[AuditEntry]:
    """The entries an audit log stores for ``records``, appended in order."""
    entries: list[AuditEntry] = []
    for event_id, record in enumerate(records, start=1):
        prev_hash = entries[-1].hash if entries else GENESIS_HASH
        stored, hash_ = chained(prev_hash, record)
        entries.append(AuditEntry(event_id, stored, prev_hash, hash_))
    return entries


def _events(count: int) -> list[AuditEntry]:
    return _chain(_record(n) for n in range(count))


def _checked_intact(entries: list[AuditEntry]) -> int:
    """How many events verified, asserting that none is broken."""
    result = verify_chain(entries)
    assert result.first_break is None
    return result.checked


def test_an_empty_trail_verifies() -> None:
    assert verify_chain([]) == VerifyResult(0, None, GENESIS_HASH, None)


def test_appended_events_verify() -> None:
    events = _events(12)

    result = verify_chain(events)

    assert result.intact
    assert result.checked == 12
    assert result.head == events[-1].hash


def test_each_event_links_to_the_one_before() -> None:
    events = _events(3)
    assert [e.prev_hash for e in events] == [GENESIS_HASH, events[0].hash, events[1].hash]
    assert len({e.hash for e in events}) == 3


def test_the_same_record_hashes_differently_after_a_different_event() -> None:
    assert event_hash(GENESIS_HASH, _record(1)) != event_hash("1" * 64, _record(1))


def test_the_hash_covers_the_instant_not_the_zone_it_is_written_in() -> None:
    """A database gives times back in UTC: the chain must still verify."""
    local = _record(0)
    as_utc = dataclasses.replace(local, occurred_at=local.occurred_at.astimezone(UTC))
    assert local.occurred_at.tzinfo != as_utc.occurred_at.tzinfo
    assert event_hash(GENESIS_HASH, local) == event_hash(GENESIS_HASH, as_utc)
    later = dataclasses.replace(local, occurred_at=local.occurred_at + timedelta(microseconds=1))
    assert event_hash(GENESIS_HASH, later) != event_hash(GENESIS_HASH, local)


def test_details_are_stored_as_their_json_so_the_hash_covers_what_is_kept() -> None:
    record = dataclasses.replace(_record(1), details={"b": (1, 2), "a": {"đã": True}})

    stored, hash_ = chained(GENESIS_HASH, record)

    assert stored.details == {"a": {"đã": True}, "b": [1, 2]}
    assert dataclasses.replace(stored, details=None) == dataclasses.replace(record, details=None)
    assert hash_ == event_hash(GENESIS_HASH, stored)
    # Empty details are kept as none.
    assert chained(GENESIS_HASH, dataclasses.replace(record, details={}))[0].details is None


_texts = st.none() | st.text()
_scalars = st.none() | st.booleans() | st.integers() | st.text()
_json = st.recursive(
    _scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.text(),
    st.text(),
    st.datetimes(timezones=st.sampled_from([UTC, HANOI])),
    _texts,
    _texts,
    _texts,
    _texts,
    _texts,
    _texts,
    st.none() | st.dictionaries(st.text(), _json, min_size=1, max_size=4),
)
def test_the_hash_is_over_the_previous_hash_and_the_canonical_json_of_the_fields(
    actor: str,
    action: str,
    occurred_at: datetime,
    reference: str | None,
    step_kind: str | None,
    before: str | None,
    after: str | None,
    reason: str | None,
    run_id: str | None,
    details: dict[str, Any] | None,
) -> None:
    record = AuditRecord(
        actor, action, occurred_at, reference, step_kind, before, after, reason, run_id, details
    )
    stored, _ = chained(GENESIS_HASH, record)
    fields = {
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        **{name: getattr(stored, name) for name in RECORD_FIELDS if name != "occurred_at"},
    }

    spec = hashlib.sha256(GENESIS_HASH.encode() + b"\n" + canonical_encoding(fields))

    assert event_hash(GENESIS_HASH, stored) == spec.hexdigest()


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        chained(GENESIS_HASH, AuditRecord("operator", "x", datetime(2024, 3, 1, 9)))


def _tampered(value: Any) -> Any:
    """A different value of the same type (text for a field that was none)."""
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    return f"{value or ''}x"


def _tamper(entry: AuditEntry, field: str) -> AuditEntry:
    if field in ("prev_hash", "hash"):
        return dataclasses.replace(entry, **{field: _tampered(getattr(entry, field))})
    value = getattr(entry.record, field)
    changes: dict[str, Any] = {
        field: {**(value or {}), "tampered": True} if field == "details" else _tampered(value)
    }
    return dataclasses.replace(entry, record=dataclasses.replace(entry.record, **changes))


@pytest.mark.parametrize("field", TAMPERABLE)
def test_altering_any_field_of_any_event_is_detected_at_that_event(field: str) -> None:
    events = _events(6)
    for position, entry in enumerate(events):
        tampered = [*events[:position], _tamper(entry, field), *events[position + 1 :]]

        result = verify_chain(tampered)

        assert result.first_break is not None, f"{field} of event {entry.id} not detected"
        assert result.first_break.event_id == entry.id
        assert result.checked == position
        assert result.head == (events[position - 1].hash if position else GENESIS_HASH)
    assert _checked_intact(events) == 6


def test_the_problem_names_what_is_wrong_with_the_event() -> None:
    events = _events(3)
    relinked = dataclasses.replace(events[1], prev_hash="0" * 63 + "1")
    altered = _tamper(events[1], "actor")

    relinked_break = verify_chain([events[0], relinked, events[2]]).first_break
    altered_break = verify_chain([events[0], altered, events[2]]).first_break

    assert relinked_break is not None
    assert altered_break is not None
    assert "previous-hash does not match the event before it" in relinked_break.problem
    assert "content does not match its hash" in altered_break.problem


@pytest.mark.parametrize("position", [0, 2])
def test_deleting_an_event_is_detected_at_the_one_after_it(position: int) -> None:
    events = _events(5)

    result = verify_chain([*events[:position], *events[position + 1 :]])

    assert result.first_break is not None
    assert result.first_break.event_id == events[position + 1].id
    assert "previous-hash" in result.first_break.problem
    assert result.checked == position


def test_swapping_two_events_is_detected() -> None:
    events = _events(4)

    result = verify_chain([events[0], events[2], events[1], events[3]])

    assert result.first_break is not None
    assert result.first_break.event_id == events[2].id


def test_deleting_the_newest_events_is_caught_by_a_published_anchor() -> None:
    events = _events(5)
    published = verify_chain(events).head
    assert verify_chain(events, anchor=published).anchor_found is True
    # An anchor published earlier is still found in the longer chain.
    assert verify_chain(events, anchor=events[2].hash).anchor_found is True

    result = verify_chain(events[:3], anchor=published)

    assert result.first_break is None, "a truncated chain is still a valid chain..."
    assert result.checked == 3
    assert result.anchor_found is False, "...but the published head is gone"


def test_a_broken_chain_does_not_vouch_for_an_anchor_after_the_break() -> None:
    events = _events(4)
    published = events[3].hash

    result = verify_chain([*events[:2], _tamper(events[2], "reason"), events[3]], published)

    assert not result.intact
    assert result.anchor_found is False


def test_the_verify_service_checks_the_stored_chain_with_an_anchor() -> None:
    container, _ = fake_container()
    actor = Actor("operator-1", "run-7")
    assert verify(container).checked == 0
    with container.unit_of_work() as uow:
        first = audit(uow, actor, "dossier_received", T0, "HT-2026-000001", after="received")
        second = audit(
            uow,
            actor,
            "step_status_changed",
            T0 + timedelta(seconds=1),
            "HT-2026-000001",
            step_kind="birth_registration",
            before="pending",
            after="in_progress",
            reason="started",
            details={"attempt": 1},
        )
        uow.commit()
    assert first != second

    with container.unit_of_work() as uow:
        entries = list(uow.audit.entries())
    assert [e.id for e in entries] == [first, second]
    assert entries[1].record == AuditRecord(
        actor="operator-1",
        action="step_status_changed",
        occurred_at=T0 + timedelta(seconds=1),
        dossier_reference="HT-2026-000001",
        step_kind="birth_registration",
        status_before="pending",
        status_after="in_progress",
        reason="started",
        flow_run_id="run-7",
        details={"attempt": 1},
    )
    result = verify(container, anchor=entries[0].hash)
    assert (result.first_break, result.checked, result.head) == (None, 2, entries[1].hash)
    assert result.anchor_found is True
    # Events about a dossier that is not on record: the replay says so, by reference.
    assert result.mismatches == (
        Mismatch("HT-2026-000001", "its events say it exists, the record has no such dossier"),
    )
    assert verify(container, anchor="f" * 64).anchor_found is False
