"""The unit of work over our database (SQLAlchemy 2): one session, one transaction.

Repositories hand the services domain objects (:mod:`lienthong.models.lifecycle`), not rows:
a dossier read or added is mapped from its rows (once per transaction), and the changes the
services made to it are copied back onto the same rows when the unit of work commits, so
SQLAlchemy's optimistic locking (``version_id_col``) still guards every write. A stale row
at commit, or a reference taken when a dossier is added, becomes
:class:`~lienthong.models.lifecycle.ConcurrentChange`; any other integrity error is a fault
and is raised as it is.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from lienthong.adapters import tables
from lienthong.adapters.duplicate_index import SqlDuplicateIndex
from lienthong.adapters.notifier import DeliveryOutcome
from lienthong.adapters.report_queries import SqlReportQueries
from lienthong.adapters.sweep_queries import SqlSweepQueries
from lienthong.models import lifecycle
from lienthong.models.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    RecordedDossier,
    RecordedStep,
    StoredEvent,
    chained,
)
from lienthong.models.clients import Client, Role
from lienthong.models.history import ClockEvent
from lienthong.models.hospital import HospitalRecord, HospitalStatus
from lienthong.models.lifecycle import ConcurrentChange, DossierNotFound
from lienthong.models.notices import Notice, OutgoingNotice, Told
from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus
from lienthong.models.waits import WaitingDecision
from lienthong.models.worklist import DossierQuery

# Arbitrary constants naming the PostgreSQL advisory locks of this module.
_AUDIT_APPEND_LOCK = 0x4C54_4155_4449_54  # "LTAUDIT": serialises audit appends
_NOTICE_LOCK = 0x4C54_5357_4545_50  # "LTSWEEP": serialises "queue unless queued"

_STEP_FIELDS = tuple(f.name for f in fields(lifecycle.Step) if f.name != "id")
_DOSSIER_FIELDS = tuple(f.name for f in fields(lifecycle.Dossier) if f.name not in ("id", "steps"))
# JSON values are copied both ways: the domain object and the row never share a container.
_JSON_FIELDS = frozenset({"payload", "rejection_reasons", "result", "missing_items"})


def _copied(name: str, value: Any) -> Any:
    return copy.deepcopy(value) if name in _JSON_FIELDS else value


def _copy_onto(target: object, source: object, names: Sequence[str]) -> None:
    """Set each field of ``target`` that differs from ``source``'s (unchanged ones stay clean)."""
    for name in names:
        value = getattr(source, name)
        if getattr(target, name) != value:
            setattr(target, name, _copied(name, value))


def _domain(row: tables.Dossier) -> lifecycle.Dossier:
    return lifecycle.Dossier(
        id=row.id,
        steps=[
            lifecycle.Step(id=s.id, **{n: _copied(n, getattr(s, n)) for n in _STEP_FIELDS})
            for s in row.steps
        ],
        **{n: _copied(n, getattr(row, n)) for n in _DOSSIER_FIELDS},
    )


def _new_row(dossier: lifecycle.Dossier) -> tables.Dossier:
    row = tables.Dossier(steps=[tables.Step() for _ in dossier.steps])
    _save(dossier, row)
    return row


def _save(dossier: lifecycle.Dossier, row: tables.Dossier) -> None:
    _copy_onto(row, dossier, _DOSSIER_FIELDS)
    # A dossier rejected at intake has no steps; its corrected version brings them.
    row.steps.extend(tables.Step() for _ in dossier.steps[len(row.steps) :])
    for step, step_row in zip(dossier.steps, row.steps, strict=True):
        _copy_onto(step_row, step, _STEP_FIELDS)


class SqlDossierRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        # Read or added in this transaction, by reference: one domain object per dossier.
        self._seen: dict[str, tuple[lifecycle.Dossier, tables.Dossier]] = {}

    def add(self, dossier: lifecycle.Dossier) -> None:
        row = _new_row(dossier)
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError as exc:
            raise ConcurrentChange(f"dossier {dossier.reference} is on record already") from exc
        dossier.id = row.id
        for step, step_row in zip(dossier.steps, row.steps, strict=True):
            step.id = step_row.id
        self._seen[dossier.reference] = (dossier, row)

    def find(self, reference: str) -> lifecycle.Dossier | None:
        if reference in self._seen:
            return self._seen[reference][0]
        row = self._session.scalar(
            select(tables.Dossier)
            .where(tables.Dossier.reference == reference)
            .options(selectinload(tables.Dossier.steps))
        )
        if row is None:
            return None
        dossier = _domain(row)
        self._seen[reference] = (dossier, row)
        return dossier

    def get(self, reference: str) -> lifecycle.Dossier:
        dossier = self.find(reference)
        if dossier is None:
            raise DossierNotFound(reference)
        return dossier

    def acquire_lease(self, reference: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """One conditional UPDATE, so two runs racing for a dossier cannot both win."""
        Dossier = tables.Dossier
        taken = self._session.execute(
            update(Dossier)
            .where(
                Dossier.reference == reference,
                or_(
                    Dossier.lease_owner.is_(None),
                    Dossier.lease_owner == owner,
                    Dossier.lease_expires_at < now,
                ),
            )
            .values(lease_owner=owner, lease_expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(taken, "rowcount", 0))

    def reference_of_receipt(self, agency: Agency, receipt_number: str) -> str | None:
        Step, Dossier = tables.Step, tables.Dossier
        return self._session.scalar(
            select(Dossier.reference)
            .join(Step, Step.dossier_id == Dossier.id)
            .where(Step.agency == agency, Step.receipt_number == receipt_number)
        )

    def waiting_decisions(self) -> list[WaitingDecision]:
        Step, Dossier = tables.Step, tables.Dossier
        rows = self._session.execute(
            select(
                Dossier.reference,
                Step.kind,
                Step.agency,
                Step.receipt_number,
                Step.waiting_since,
                Step.decision_expected_at,
                Step.due_at,
            )
            .join(Step, Step.dossier_id == Dossier.id)
            .where(Step.status == StepStatus.AWAITING_DECISION)
            .order_by(Step.waiting_since, Step.id)
        ).all()
        return [
            WaitingDecision(ref, kind, agency, receipt or "", since, expected, due)
            for ref, kind, agency, receipt, since, expected, due in rows
            if since is not None
        ]

    def renew_lease(self, reference: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        Dossier = tables.Dossier
        renewed = self._session.execute(
            update(Dossier)
            .where(Dossier.reference == reference, Dossier.lease_owner == owner)
            .values(lease_expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(renewed, "rowcount", 0))

    def matching(self, query: DossierQuery) -> list[lifecycle.Dossier]:
        Dossier = tables.Dossier
        select_ = select(Dossier).options(selectinload(Dossier.steps))
        if query.province_codes is not None:
            select_ = select_.where(Dossier.province_code.in_(query.province_codes))
        if query.commune is not None:
            select_ = select_.where(Dossier.commune_code == query.commune)
        if query.chain is not None:
            select_ = select_.where(Dossier.chain == query.chain)
        if query.statuses is not None:
            select_ = select_.where(Dossier.status.in_(query.statuses))
        if not query.include_settled:
            select_ = select_.where(
                Dossier.status != DossierStatus.WITHDRAWN, Dossier.handed_back_at.is_(None)
            )
        select_ = select_.order_by(Dossier.received_at, Dossier.id).limit(query.limit)
        found = []
        for row in self._session.scalars(select_):
            if row.reference not in self._seen:
                self._seen[row.reference] = (_domain(row), row)
            found.append(self._seen[row.reference][0])
        return found

    def release_lease(self, reference: str, owner: str) -> None:
        Dossier = tables.Dossier
        self._session.execute(
            update(Dossier)
            .where(Dossier.reference == reference, Dossier.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )

    def save_all(self) -> None:
        """Copy what the services changed onto the rows they were read from."""
        for dossier, row in self._seen.values():
            _save(dossier, row)

    def forget(self) -> None:
        """After a rollback: what was read before it is no longer this transaction's."""
        self._seen.clear()


# The audit table's columns that hold a record's fields (the rest chain it: id and hashes).
_AUDIT_FIELDS = tuple(f.name for f in fields(AuditRecord))


_STORED_COLUMNS = (
    "actor, action, dossier_reference, step_kind, status_before, status_after, reason, flow_run_id"
)
_STORED_EVENTS_POSTGRESQL = (
    "SELECT id, to_char(occurred_at AT TIME ZONE 'UTC', "
    """'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'), """
    f"{_STORED_COLUMNS}, details::text, prev_hash, hash FROM audit_events ORDER BY id"
)
# SQLAlchemy keeps SQLite times as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'.
_STORED_EVENTS_SQLITE = (
    "SELECT id, substr(occurred_at, 1, 10) || 'T' || substr(occurred_at, 12) || '+00:00', "
    f"{_STORED_COLUMNS}, details, prev_hash, hash FROM audit_events ORDER BY id"
)


_RECORDED_DOSSIERS = (
    "SELECT d.reference, d.status, s.kind, s.status, s.agency_reference"
    " FROM dossiers d LEFT JOIN steps s ON s.dossier_id = d.id ORDER BY d.id, s.position"
)


def _batched_cursor(session: Session, name: str) -> Any:
    """A driver cursor in the session's transaction that streams its rows: server-side in
    batches on PostgreSQL (a million rows are not held at once); SQLite's steps anyway."""
    dbapi: Any = session.connection().connection.dbapi_connection
    if session.get_bind().dialect.name != "postgresql":
        return dbapi.cursor()
    cursor = dbapi.cursor(name=name)
    cursor.itersize = 20_000
    return cursor


class SqlAuditLog:
    def __init__(self, session: Session) -> None:
        self._session = session
        # The chain's head as this transaction left it: read once, under the lock, which
        # is held to the end of the transaction, so nobody else can move it meanwhile.
        self._head: str | None = None

    def append(self, record: AuditRecord) -> int:
        """Chain ``record`` inside the caller's transaction.

        It commits or rolls back with the change it describes. Appends are serialised
        (a PostgreSQL advisory lock; SQLite transactions begin IMMEDIATE), and should two
        writers still race, the unique ``prev_hash`` fails the second rather than fork.
        The lock and the head are taken at the transaction's first append only.
        """
        prev_hash = self._head if self._head is not None else self._lock_and_read_head()
        stored, hash_ = chained(prev_hash, record)
        event = tables.AuditEvent(
            **{name: getattr(stored, name) for name in _AUDIT_FIELDS},
            prev_hash=prev_hash,
            hash=hash_,
        )
        self._session.add(event)
        self._session.flush()
        self._head = hash_
        return event.id

    def _lock_and_read_head(self) -> str:
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_APPEND_LOCK}
            )
        head = self._session.scalar(
            select(tables.AuditEvent.hash).order_by(tables.AuditEvent.id.desc()).limit(1)
        )
        return head or GENESIS_HASH

    def transaction_ended(self) -> None:
        """After a commit or a rollback the lock is gone: the next append reads again."""
        self._head = None

    def entries(self, reference: str | None = None) -> Iterator[AuditEntry]:
        """Columns, not ORM objects: verifying a million events is read at this speed."""
        event = tables.AuditEvent
        columns = [getattr(event, name) for name in _AUDIT_FIELDS]
        query = select(event.id, event.prev_hash, event.hash, *columns).order_by(event.id)
        if reference is not None:
            query = query.where(event.dossier_reference == reference)
        for id_, prev_hash, hash_, *fields_ in self._session.execute(
            query.execution_options(yield_per=10_000)
        ):
            yield AuditEntry(id_, AuditRecord(*fields_), prev_hash, hash_)

    def stored_events(self) -> Iterator[StoredEvent]:
        """The whole chain in order, straight from the driver (no ORM, no type processing):
        verifying a million events is read at this speed. The time is formatted by the
        database as the hash has it; ``details`` is its stored JSON text."""
        postgresql = self._session.get_bind().dialect.name == "postgresql"
        cursor = _batched_cursor(self._session, "audit_stored_events")
        try:
            cursor.execute(_STORED_EVENTS_POSTGRESQL if postgresql else _STORED_EVENTS_SQLITE)
            yield from cursor
        finally:
            cursor.close()

    def read_snapshot(self) -> None:
        """PostgreSQL: one REPEATABLE READ transaction. SQLite's transactions take the write
        lock when they begin (adapters/database.py), so nothing changes during them."""
        postgresql = self._session.get_bind().dialect.name == "postgresql"
        options = {"isolation_level": "REPEATABLE READ"} if postgresql else {}
        self._session.connection(execution_options=options)

    def recorded_dossiers(self) -> Iterator[RecordedDossier]:
        """Straight from the driver too (statuses are stored as their values)."""
        cursor = _batched_cursor(self._session, "audit_recorded_dossiers")
        try:
            cursor.execute(_RECORDED_DOSSIERS)
            for reference, group in itertools.groupby(cursor, key=lambda row: row[0]):
                rows = list(group)
                steps = tuple(
                    RecordedStep(kind, status, agency_reference)
                    for _, _, kind, status, agency_reference in rows
                    if kind is not None
                )
                yield RecordedDossier(reference, rows[0][1], steps)
        finally:
            cursor.close()


class SqlOutbox:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, notice: Notice, now: datetime) -> None:
        self._session.add(
            tables.Notification(
                event_id=str(uuid.uuid4()),
                dedupe_key=notice.dedupe_key,
                agency=notice.agency,
                event_type=notice.event_type,
                dossier_reference=notice.dossier_reference,
                step_kind=notice.step_kind,
                payload=notice.payload,
                status=tables.NotificationStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )

    def queued(self, dedupe_keys: Collection[str]) -> set[str]:
        if not dedupe_keys:
            return set()
        self._session.flush()
        key = tables.Notification.dedupe_key
        return set(self._session.scalars(select(key).where(key.in_(list(dedupe_keys)))))

    def lock(self) -> None:
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _NOTICE_LOCK})

    def claim_due(
        self, now: datetime, claim_until: datetime, limit: int, reference: str | None
    ) -> list[OutgoingNotice]:
        Notification = tables.Notification
        query = (
            select(Notification)
            .where(
                Notification.status == tables.NotificationStatus.PENDING,
                Notification.next_attempt_at <= now,
            )
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if reference is not None:
            query = query.where(Notification.dossier_reference == reference)
        rows = list(self._session.scalars(query))
        for row in rows:
            row.next_attempt_at = claim_until
        return [
            OutgoingNotice(r.id, r.agency, r.event_id, dict(r.payload), r.attempts) for r in rows
        ]

    def record_attempts(
        self,
        outcomes: Sequence[tuple[OutgoingNotice, DeliveryOutcome]],
        now: datetime,
        next_attempt_at: Sequence[datetime],
    ) -> None:
        for (notice, outcome), retry_at in zip(outcomes, next_attempt_at, strict=True):
            row = self._session.get_one(tables.Notification, notice.id)
            row.attempts += 1
            self._session.add(
                tables.NotificationAttempt(
                    notification_id=row.id,
                    attempted_at=now,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=round(outcome.duration_seconds * 1000),
                )
            )
            if outcome.delivered:
                row.status = tables.NotificationStatus.DELIVERED
                row.delivered_at = now
                row.last_error = None
            else:
                row.last_error = outcome.error
                row.next_attempt_at = retry_at

    def pending(self, reference: str | None) -> tuple[int, datetime | None]:
        Notification = tables.Notification
        query = select(func.count(), func.min(Notification.next_attempt_at)).where(
            Notification.status == tables.NotificationStatus.PENDING
        )
        if reference is not None:
            query = query.where(Notification.dossier_reference == reference)
        count, earliest = self._session.execute(query).one()
        return int(count), earliest

    def told(self, reference: str) -> list[Told]:
        n = tables.Notification
        rows = self._session.execute(
            select(n.agency, n.event_type, n.step_kind, n.created_at, n.delivered_at)
            .where(n.dossier_reference == reference)
            .order_by(n.id)
        )
        return [Told(*row) for row in rows]


class SqlSupplementLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        dossier: lifecycle.Dossier,
        step_kind: StepKind,
        received_at: datetime,
        actor: str,
        payload: dict[str, object],
    ) -> int:
        Supplement = tables.Supplement
        self._session.add(
            Supplement(
                dossier_id=dossier.id,
                step_kind=step_kind,
                received_at=received_at,
                actor=actor,
                payload=dict(payload),
            )
        )
        self._session.flush()
        rounds = self._session.scalar(
            select(func.count())
            .select_from(Supplement)
            .where(Supplement.dossier_id == dossier.id, Supplement.step_kind == step_kind)
        )
        return int(rounds or 0)


def _client(row: tables.ApiClient) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name,
        role=Role.parse(row.role),
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        revoked_at=row.revoked_at,
    )


class SqlClientRegistry:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, client: Client) -> None:
        row = tables.ApiClient(client_id=client.client_id)
        _copy_client(client, row)
        self._session.add(row)

    def find(self, client_id: str) -> Client | None:
        row = self._session.get(tables.ApiClient, client_id)
        return None if row is None else _client(row)

    def all(self) -> list[Client]:
        rows = self._session.scalars(select(tables.ApiClient).order_by(tables.ApiClient.created_at))
        return [_client(row) for row in rows]

    def save(self, client: Client) -> None:
        row = self._session.get(tables.ApiClient, client.client_id)
        assert row is not None, "save() a client that was added or found"
        _copy_client(client, row)


def _copy_client(client: Client, row: tables.ApiClient) -> None:
    row.name = client.name
    row.role = str(client.role)
    row.secret_hash = client.secret_hash
    row.created_at = client.created_at
    row.rotated_at = client.rotated_at
    row.revoked_at = client.revoked_at


class SqlWebhookLog:
    def __init__(self, session: Session) -> None:
        self._session = session

    def seen(self, sender: str, webhook_id: str) -> bool:
        return self._session.get(tables.WebhookMessage, (sender, webhook_id)) is not None

    def remember(self, sender: str, webhook_id: str, received_at: datetime) -> None:
        self._session.add(
            tables.WebhookMessage(sender=sender, webhook_id=webhook_id, received_at=received_at)
        )
        try:
            self._session.flush()
        except IntegrityError as exc:
            raise ConcurrentChange(f"webhook {webhook_id} was accepted meanwhile") from exc


_HOSPITAL_FIELDS = (
    "chain",
    "certificate_number",
    "reference",
    "hospital",
    "body_digest",
    "province_code",
    "commune_code",
    "draft",
    "waiting_for",
    "status",
    "received_at",
    "updated_at",
)


class SqlHospitalNotifications:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, record: HospitalRecord) -> int:
        # The reference is made from the id: a unique placeholder until the caller sets it.
        row = tables.HospitalNotification(reference=f"#{uuid.uuid4().hex}")
        _copy_hospital(record, row)
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError as exc:
            raise ConcurrentChange(
                f"certificate {record.certificate_number} arrived meanwhile"
            ) from exc
        record.id = row.id
        return row.id

    def find(self, chain: Chain, certificate_number: str) -> HospitalRecord | None:
        row = self._session.scalar(
            select(tables.HospitalNotification).where(
                tables.HospitalNotification.chain == chain,
                tables.HospitalNotification.certificate_number == certificate_number,
            )
        )
        return None if row is None else _hospital(row)

    def by_reference(self, reference: str) -> HospitalRecord | None:
        row = self._session.scalar(
            select(tables.HospitalNotification).where(
                tables.HospitalNotification.reference == reference
            )
        )
        return None if row is None else _hospital(row)

    def save(self, record: HospitalRecord) -> None:
        row = self._session.get(tables.HospitalNotification, record.id)
        assert row is not None, "save() a record that was added or found"
        _copy_hospital(record, row)


def _copy_hospital(record: HospitalRecord, row: tables.HospitalNotification) -> None:
    for name in _HOSPITAL_FIELDS:
        value = getattr(record, name)
        if name != "reference" or value:
            setattr(row, name, value)


def _hospital(row: tables.HospitalNotification) -> HospitalRecord:
    fields = {name: getattr(row, name) for name in _HOSPITAL_FIELDS}
    fields["status"] = HospitalStatus(fields["status"])
    return HospitalRecord(id=row.id, **fields)


class SqlClockHistory:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, events: Sequence[ClockEvent]) -> None:
        self._session.add_all(
            tables.ClockEvent(
                dossier_id=e.dossier_id,
                step_kind=e.step_kind,
                event=e.event,
                occurred_at=e.occurred_at,
                due_at=e.due_at,
                first=e.first,
            )
            for e in events
        )


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back."""

    session: Session
    dossiers: SqlDossierRepository
    audit: SqlAuditLog
    outbox: SqlOutbox
    supplements: SqlSupplementLog
    clocks: SqlClockHistory
    duplicates: SqlDuplicateIndex
    sweep: SqlSweepQueries
    reports: SqlReportQueries
    clients: SqlClientRegistry
    webhooks: SqlWebhookLog
    hospitals: SqlHospitalNotifications

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self.dossiers = SqlDossierRepository(self.session)
        self.audit = SqlAuditLog(self.session)
        self.outbox = SqlOutbox(self.session)
        self.supplements = SqlSupplementLog(self.session)
        self.clocks = SqlClockHistory(self.session)
        self.duplicates = SqlDuplicateIndex(self.session)
        self.sweep = SqlSweepQueries(self.session)
        self.reports = SqlReportQueries(self.session)
        self.clients = SqlClientRegistry(self.session)
        self.webhooks = SqlWebhookLog(self.session)
        self.hospitals = SqlHospitalNotifications(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        try:
            self.dossiers.save_all()
            self.session.commit()
            self.audit.transaction_ended()
        except StaleDataError as exc:
            self.rollback()
            raise ConcurrentChange("another transaction changed the dossier first") from exc

    def rollback(self) -> None:
        self.session.rollback()
        self.dossiers.forget()
        self.audit.transaction_ended()
