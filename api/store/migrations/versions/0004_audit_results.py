"""Audit results: the downloadable outputs of recent audits, in parts, so that every worker process serves them.

Revision ID: 0004_audit_results
Revises: 0003_approval_requests
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_audit_results"
down_revision = "0003_approval_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_results",
        sa.Column("audit_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("part", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_audit_results_user_name", "audit_results", ["user_name"])
    op.create_index("ix_audit_results_expires_at", "audit_results", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_results_expires_at", table_name="audit_results")
    op.drop_index("ix_audit_results_user_name", table_name="audit_results")
    op.drop_table("audit_results")
