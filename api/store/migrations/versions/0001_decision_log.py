"""The decision log: one row per decision made through the API or the web page.

Revision ID: 0001_decision_log
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_decision_log"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("placement_id", sa.String(64), nullable=False),
        sa.Column("as_at", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rulebook_version", sa.String(64), nullable=False),
        sa.Column("input_json", sa.Text(), nullable=False),
        sa.Column("decision_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_decision_log_decided_at", "decision_log", ["decided_at"])
    op.create_index("ix_decision_log_placement_id", "decision_log", ["placement_id"])


def downgrade() -> None:
    op.drop_index("ix_decision_log_placement_id", table_name="decision_log")
    op.drop_index("ix_decision_log_decided_at", table_name="decision_log")
    op.drop_table("decision_log")
