"""SQLite refuses UPDATE and DELETE of audit events too, like PostgreSQL since 0001.

A writer with the file can still drop the triggers; that is what the hash chain, its
replay against the rows and the published anchors (``lienthong audit verify``) detect.
SQLite has no TRUNCATE: its ``DELETE FROM`` without WHERE fires the DELETE trigger.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 00:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HINT = "audit_events is append-only: record a correcting event instead"


def upgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_events_refuse_{operation.lower()}"
            f" BEFORE {operation} ON audit_events"
            f" BEGIN SELECT RAISE(ABORT, '{HINT}: {operation} refused'); END"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER audit_events_refuse_delete")
    op.execute("DROP TRIGGER audit_events_refuse_update")
