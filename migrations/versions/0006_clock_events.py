"""The clocks' history for exact reports: every start, extension and return, and a step's
first start (models/history.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The history the existing rows imply: each received dossier's and started step's clock
# with its current due instant, and a return for each step (and its dossier) now awaiting
# the applicant, at the request (its finished_at). Earlier returns are not in the old record.
BACKFILL = """
INSERT INTO clock_events (dossier_id, step_kind, event, occurred_at, due_at, first)
SELECT id, NULL, 'clock_started', clock_started_at, due_at, FALSE FROM dossiers
 WHERE status <> 'rejected' AND chain IS NOT NULL AND clock_started_at IS NOT NULL
UNION ALL
SELECT dossier_id, kind, 'clock_started', started_at, due_at, TRUE FROM steps
 WHERE started_at IS NOT NULL
UNION ALL
SELECT dossier_id, kind, 'returned', finished_at, NULL, FALSE FROM steps
 WHERE status = 'awaiting_supplement' AND finished_at IS NOT NULL
UNION ALL
SELECT dossier_id, NULL, 'returned', finished_at, NULL, FALSE FROM steps
 WHERE status = 'awaiting_supplement' AND finished_at IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "clock_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("step_kind", sa.String(32), nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name="fk_clock_events_dossier_id_dossiers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_clock_events"),
    )
    op.create_index("ix_clock_events_event_occurred", "clock_events", ["event", "occurred_at"])
    op.create_index(
        "ix_clock_events_dossier_step_occurred",
        "clock_events",
        ["dossier_id", "step_kind", "occurred_at", "id"],
    )
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("first_started_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_steps_first_started_at", ["first_started_at"])
    # Steps started before this revision: their latest start is the best record of the first.
    op.execute("UPDATE steps SET first_started_at = started_at")
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.drop_index("ix_steps_first_started_at")
        batch.drop_column("first_started_at")
    op.drop_index("ix_clock_events_dossier_step_occurred", table_name="clock_events")
    op.drop_index("ix_clock_events_event_occurred", table_name="clock_events")
    op.drop_table("clock_events")
