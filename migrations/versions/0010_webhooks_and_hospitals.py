"""Standard Webhooks replay protection (the webhook-ids accepted from each sender) and
hospitals' notifications (birth certificates, death notices).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_messages",
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("webhook_id", sa.String(128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender", "webhook_id", name="pk_webhook_messages"),
    )
    op.create_table(
        "hospital_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain", sa.String(32), nullable=False),
        sa.Column("certificate_number", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("hospital", sa.String(64), nullable=False),
        sa.Column("body_digest", sa.String(64), nullable=False),
        sa.Column("province_code", sa.String(8), nullable=False),
        sa.Column("commune_code", sa.String(16), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("waiting_for", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hospital_notifications"),
        sa.UniqueConstraint("chain", "certificate_number", name="uq_hospital_notifications_chain"),
        sa.UniqueConstraint("reference", name="uq_hospital_notifications_reference"),
    )


def downgrade() -> None:
    op.drop_table("hospital_notifications")
    op.drop_table("webhook_messages")
