"""Trying prices is not asking for approval (SPEC §14.2): a table of requests for approval.

A decision whose outcome is needs_approval is only *checked* until a broker asks for its approval; the request is
a row here (one per decision, appended, never edited), and only then is the decision *pending*.

Before this migration every needs_approval decision counted as pending. So that nothing an approver was waiting
for drops out of sight, each needs_approval decision already in the log is given a request made by the user who
made the decision at the time it was made (as the log treated it until now).

Revision ID: 0003_approval_requests
Revises: 0002_workflow
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_approval_requests"
down_revision = "0002_workflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    requests = op.create_table(
        "approval_requests",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.Integer(), sa.ForeignKey("decision_log.id"), nullable=False, unique=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=True),
    )
    op.create_index("ix_approval_requests_requested_at", "approval_requests", ["requested_at"])
    op.create_index("ix_approval_requests_user_name", "approval_requests", ["user_name"])
    log = sa.table(
        "decision_log",
        sa.column("id", sa.Integer),
        sa.column("decided_at", sa.DateTime(timezone=True)),
        sa.column("user_name", sa.String),
        sa.column("outcome", sa.String),
    )
    earlier = sa.select(log.c.id, log.c.decided_at, log.c.user_name).where(log.c.outcome == "needs_approval")
    op.execute(requests.insert().from_select(["decision_id", "requested_at", "user_name"], earlier))


def downgrade() -> None:
    op.drop_index("ix_approval_requests_user_name", "approval_requests")
    op.drop_index("ix_approval_requests_requested_at", "approval_requests")
    op.drop_table("approval_requests")
