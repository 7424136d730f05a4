"""Indexes for the monthly report: each figure's date column, so a month is a range scan.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    ("ix_dossiers_received_at", "dossiers", ["received_at"]),
    ("ix_dossiers_completed_at", "dossiers", ["completed_at"]),
    ("ix_dossiers_status_updated", "dossiers", ["status", "updated_at"]),
    ("ix_steps_started_at", "steps", ["started_at"]),
    ("ix_steps_finished_at", "steps", ["finished_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
