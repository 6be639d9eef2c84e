"""Editions: rates drafted by a policy officer, published or rejected by someone else, every one kept.

Revision ID: 0006_editions
Revises: 0005_token_digest
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_editions"
down_revision = "0005_token_digest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "editions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("drafted_by", sa.String(100), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("base_version", sa.String(32), nullable=False),
        sa.Column("changes_json", sa.Text(), nullable=False),
        sa.Column("effect_json", sa.Text(), nullable=False),
        sa.Column("files", sa.LargeBinary(), nullable=False),
        sa.Column("base_files", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_editions_status", "editions", ["status"])
    op.create_index("ix_editions_version", "editions", ["version"])
    op.create_index("ix_editions_base_version", "editions", ["base_version"])


def downgrade() -> None:
    op.drop_index("ix_editions_base_version", table_name="editions")
    op.drop_index("ix_editions_version", table_name="editions")
    op.drop_index("ix_editions_status", table_name="editions")
    op.drop_table("editions")
