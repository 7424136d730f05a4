"""Steps that wait for an agency's decision: its receipt, since when, until when.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("receipt_number", sa.String(64), nullable=True))
        batch.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("decision_expected_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("verification", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_unique_constraint("uq_steps_agency_receipt", ["agency", "receipt_number"])


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.drop_constraint("uq_steps_agency_receipt", type_="unique")
        batch.drop_column("verification")
        batch.drop_column("decision_expected_at")
        batch.drop_column("waiting_since")
        batch.drop_column("receipt_number")
