"""Potential duplicates at intake: the match keys and the holds (models/duplicates.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 03:30:00

Dossiers received before this revision have no keys: new dossiers are compared only with
those received from this revision on (docs/dossiers.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "match_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name="fk_match_keys_dossier_id_dossiers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_match_keys"),
        sa.UniqueConstraint("dossier_id", "rule", name="uq_match_keys_dossier_rule"),
    )
    op.create_index("ix_match_keys_digest", "match_keys", ["digest"])
    op.create_table(
        "duplicate_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("matches", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("merged_into", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name="fk_duplicate_holds_dossier_id_dossiers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_duplicate_holds"),
        sa.UniqueConstraint("dossier_id", name="uq_duplicate_holds_dossier_id"),
    )
    op.create_index("ix_duplicate_holds_held_at", "duplicate_holds", ["held_at"])
    op.create_index("ix_duplicate_holds_decided_at", "duplicate_holds", ["decided_at"])


def downgrade() -> None:
    op.drop_index("ix_duplicate_holds_decided_at", table_name="duplicate_holds")
    op.drop_index("ix_duplicate_holds_held_at", table_name="duplicate_holds")
    op.drop_table("duplicate_holds")
    op.drop_index("ix_match_keys_digest", table_name="match_keys")
    op.drop_table("match_keys")
