"""The record: SQLAlchemy 2 tables for dossiers, steps, the audit trail and the outbox.

Our database, not Prefect's run history, is the system of record (DESIGN.md principle 1).
Status columns store the enum values as plain strings so the schema reads the same on
SQLite and PostgreSQL; the allowed changes are enforced in models/status.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from lienthong.models.status import Agency, Chain, DossierStatus, StepKind, StepStatus


class NotificationStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored as UTC on every backend.

    SQLite has no time zone type: without this, aware datetimes come back naive.
    Naive datetimes are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every timestamp in the record must be aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # none_as_null: an absent result or reason list is SQL NULL, not the JSON text 'null'.
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(none_as_null=True),
        list[Any]: JSON(none_as_null=True),
    }


class Dossier(Base):
    """One citizen's dossier and where its chain stands."""

    __tablename__ = "dossiers"
    __table_args__ = (
        Index("ix_dossiers_province_received", "province_code", "received_at"),
        Index("ix_dossiers_commune_received", "commune_code", "received_at"),
        # The monthly report (lienthong/report.py, migration 0002).
        Index("ix_dossiers_received_at", "received_at"),
        Index("ix_dossiers_completed_at", "completed_at"),
        Index("ix_dossiers_status_updated", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    # Unknown only for a dossier rejected at intake before its chain could be read.
    chain: Mapped[Chain | None] = mapped_column(_enum(Chain))
    status: Mapped[DossierStatus] = mapped_column(_enum(DossierStatus), index=True)
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    # When the statutory clock (re)started: the dossier became complete.
    clock_started_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    late_filing: Mapped[bool] = mapped_column(Boolean, default=False)
    # The dossier as received (after normalisation when valid): personal data, never logged.
    payload: Mapped[dict[str, Any]]
    # Why intake rejected it: [{"path": ..., "message": ...}].
    rejection_reasons: Mapped[list[Any] | None]
    # When the commune handed the outcome back to the citizen (migration 0007).
    handed_back_at: Mapped[datetime | None]
    # Per-dossier run guard: who may call agencies for this dossier right now.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    steps: Mapped[list[Step]] = relationship(
        back_populates="dossier", order_by="Step.position", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version_id}


class Step(Base):
    """One procedure of a chain, performed by one agency."""

    __tablename__ = "steps"
    __table_args__ = (
        UniqueConstraint("dossier_id", "kind", name="uq_steps_dossier_kind"),
        Index("ix_steps_status_due", "status", "due_at"),
        # The sweep's stalled branch: the dossiers with a step in a status, from the index
        # alone (migration 0009), not 100k+ table pages.
        Index("ix_steps_status_dossier", "status", "dossier_id"),
        # The monthly report (lienthong/report.py, migration 0002).
        Index("ix_steps_started_at", "started_at"),
        Index("ix_steps_finished_at", "finished_at"),
        Index("ix_steps_first_started_at", "first_started_at"),
        # A decision is matched to its step by the agency's receipt (migration 0003).
        UniqueConstraint("agency", "receipt_number", name="uq_steps_agency_receipt"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    kind: Mapped[StepKind] = mapped_column(_enum(StepKind))
    agency: Mapped[Agency] = mapped_column(_enum(Agency))
    position: Mapped[int]
    status: Mapped[StepStatus] = mapped_column(_enum(StepStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    # Sent as Idempotency-Key on every call for this step: derived from dossier and step.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    agency_reference: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(Text)
    missing_items: Mapped[list[Any] | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    first_started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    # The asynchronous form: the agency's receipt and the wait for its decision.
    receipt_number: Mapped[str | None] = mapped_column(String(64))
    waiting_since: Mapped[datetime | None]
    decision_expected_at: Mapped[datetime | None]
    verification: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)

    dossier: Mapped[Dossier] = relationship(back_populates="steps")

    __mapper_args__ = {"version_id_col": version_id}


class Supplement(Base):
    """Data an applicant brought after a request for supplementation: kept, never overwritten."""

    __tablename__ = "supplements"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    step_kind: Mapped[StepKind] = mapped_column(_enum(StepKind))
    received_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]


class ClockEvent(Base):
    """Append-only history of the statutory clocks (models/history.py, migration 0004): what
    a report for a past month needs, in integer keys and indexed instants."""

    __tablename__ = "clock_events"
    __table_args__ = (
        # A period's events of one kind (received, returned) is a range scan.
        Index("ix_clock_events_event_occurred", "event", "occurred_at"),
        # The due instant in force at a moment: the latest event of a dossier or step before
        # it, by a backward index scan that reads no table row (migration 0009); the chain's
        # clock apart, as ``step_kind IS NULL`` would not let the scan run in order.
        Index(
            "ix_clock_events_dossier_step_occurred",
            "dossier_id",
            "step_kind",
            "occurred_at",
            "id",
            postgresql_include=["due_at"],
        ),
        Index(
            "ix_clock_events_dossier_clock",
            "dossier_id",
            "occurred_at",
            "id",
            postgresql_include=["due_at"],
            postgresql_where=text("step_kind IS NULL"),
            sqlite_where=text("step_kind IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    # None: the dossier's (the chain's) clock; otherwise that step's.
    step_kind: Mapped[StepKind | None] = mapped_column(_enum(StepKind))
    event: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    first: Mapped[bool] = mapped_column(Boolean, default=False)


class MatchKey(Base):
    """Intake's match keys (models/duplicates.py, migration 0007): a digest of a rule and a
    dossier's normalised values, so a potential duplicate is one indexed equality away."""

    __tablename__ = "match_keys"
    __table_args__ = (
        Index("ix_match_keys_digest", "digest"),
        UniqueConstraint("dossier_id", "rule", name="uq_match_keys_dossier_rule"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    rule: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))


class DuplicateHold(Base):
    """A dossier held at intake as a potential duplicate, and a person's decision on it."""

    __tablename__ = "duplicate_holds"
    __table_args__ = (
        # The report's figures: held in a period, decided in a period (migration 0007).
        Index("ix_duplicate_holds_held_at", "held_at"),
        Index("ix_duplicate_holds_decided_at", "decided_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), unique=True)
    held_at: Mapped[datetime]
    # [{"reference": ..., "rule": ...}]: the dossiers it may repeat, references only.
    matches: Mapped[list[Any]]
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(64))
    merged_into: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only, hash-chained record of every action (DESIGN.md principle 5).

    ``prev_hash`` is unique: two writers that read the same chain head cannot both append,
    so the chain can never fork, on any backend.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    dossier_reference: Mapped[str | None] = mapped_column(String(64), index=True)
    step_kind: Mapped[str | None] = mapped_column(String(32))
    status_before: Mapped[str | None] = mapped_column(String(32))
    status_after: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None]
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Notification(Base):
    """Outbox row: written with the status change, delivered later until acknowledged."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sent to receivers so they can drop duplicates.
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    # What this notice is about; unique so the same notice is never queued twice.
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    agency: Mapped[Agency] = mapped_column(_enum(Agency))
    event_type: Mapped[str] = mapped_column(String(64))
    dossier_reference: Mapped[str] = mapped_column(String(64), index=True)
    step_kind: Mapped[StepKind | None] = mapped_column(_enum(StepKind))
    payload: Mapped[dict[str, Any]]
    status: Mapped[NotificationStatus] = mapped_column(_enum(NotificationStatus))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    attempt_log: Mapped[list[NotificationAttempt]] = relationship(
        back_populates="notification", order_by="NotificationAttempt.id"
    )


class NotificationAttempt(Base):
    """Every delivery attempt, successful or not."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int]

    notification: Mapped[Notification] = relationship(back_populates="attempt_log")


class ApiClient(Base):
    """A system allowed to call our API (models/clients.py): its secret only as a hash."""

    __tablename__ = "api_clients"

    client_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebhookMessage(Base):
    """A signed webhook accepted from a sender (an agency's decision callback): its
    ``webhook-id``, remembered so that a replay of it is refused (models/contract/signing.py)."""

    __tablename__ = "webhook_messages"

    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime]


class HospitalNotification(Base):
    """A hospital's electronic birth certificate or death notice (models/hospital.py): one
    per certificate, with the dossier draft it prefills and what the family must still give."""

    __tablename__ = "hospital_notifications"
    __table_args__ = (UniqueConstraint("chain", "certificate_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[Chain] = mapped_column(_enum(Chain))
    certificate_number: Mapped[str] = mapped_column(String(64))
    # The dossier it starts, or will start once the family completes it.
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    hospital: Mapped[str] = mapped_column(String(64))
    body_digest: Mapped[str] = mapped_column(String(64))
    province_code: Mapped[str] = mapped_column(String(8))
    commune_code: Mapped[str] = mapped_column(String(16))
    draft: Mapped[dict[str, Any]]
    waiting_for: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]
