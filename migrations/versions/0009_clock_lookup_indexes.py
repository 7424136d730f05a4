"""Index the due instant in force for the report's backlog (the chain's clock apart), and
the sweep's dossiers by their steps' statuses.

The report looks up, for each dossier and step open at the end of a period, the due instant
of its latest clock event before it (adapters/report_queries.py). With the chain's clock in
a partial index of its own (``step_kind IS NULL``), PostgreSQL reads the latest event by a
backward scan that stops at the first row, instead of sorting each dossier's events; the
due instant is carried in the index (``INCLUDE``), so neither lookup visits the table.

The sweep's stalled branch asks which dossiers have a pending step, and which a busy one:
(status, dossier_id) answers from the index alone, where ``ix_steps_status_due`` made
PostgreSQL read 110k table pages for the dossier ids.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_steps_status_dossier", "steps", ["status", "dossier_id"])
    op.create_index(
        "ix_clock_events_dossier_clock",
        "clock_events",
        ["dossier_id", "occurred_at", "id"],
        postgresql_include=["due_at"],
        postgresql_where=sa.text("step_kind IS NULL"),
        sqlite_where=sa.text("step_kind IS NULL"),
    )
    op.drop_index("ix_clock_events_dossier_step_occurred", table_name="clock_events")
    op.create_index(
        "ix_clock_events_dossier_step_occurred",
        "clock_events",
        ["dossier_id", "step_kind", "occurred_at", "id"],
        postgresql_include=["due_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_clock_events_dossier_step_occurred", table_name="clock_events")
    op.create_index(
        "ix_clock_events_dossier_step_occurred",
        "clock_events",
        ["dossier_id", "step_kind", "occurred_at", "id"],
    )
    op.drop_index("ix_clock_events_dossier_clock", table_name="clock_events")
    op.drop_index("ix_steps_status_dossier", table_name="steps")
