"""The brokerage workflow: users and roles, browser sessions, approvals; filterable columns on the log.

decision_log gains provider, rule_ids (" CHP-02 CHP-07 ", spaces around each id so one can be matched exactly)
and approvers (the roles that must approve), filled in for decisions already stored.

Revision ID: 0002_workflow
Revises: 0001_decision_log
Create Date: 2026-11-22
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0002_workflow"
down_revision = "0001_decision_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decision_log") as batch:
        batch.add_column(sa.Column("provider", sa.String(200), nullable=True))
        batch.add_column(sa.Column("rule_ids", sa.String(400), nullable=True))
        batch.add_column(sa.Column("approvers", sa.String(200), nullable=True))
        batch.create_index("ix_decision_log_provider", ["provider"])
        batch.create_index("ix_decision_log_outcome", ["outcome"])
        batch.create_index("ix_decision_log_user_name", ["user_name"])
    log = sa.table(
        "decision_log",
        sa.column("id", sa.Integer),
        sa.column("input_json", sa.Text),
        sa.column("decision_json", sa.Text),
        sa.column("provider", sa.String),
        sa.column("rule_ids", sa.String),
        sa.column("approvers", sa.String),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(log.c.id, log.c.input_json, log.c.decision_json)).all():
        data, decision = json.loads(row.input_json), json.loads(row.decision_json)
        provider = data.get("provider") if isinstance(data, dict) else None
        findings = decision.get("findings", [])
        connection.execute(
            log.update()
            .where(log.c.id == row.id)
            .values(
                provider=provider.strip() or None if isinstance(provider, str) else None,
                rule_ids=" " + " ".join(f["rule_id"] for f in findings) + " ",
                approvers=" ".join(sorted({f["approver"] for f in findings if f.get("approver")})),
            )
        )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("token_key", sa.String(32), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_name", sa.String(100), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.Integer(), sa.ForeignKey("decision_log.id"), nullable=False, unique=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=False, index=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("approvals")
    op.drop_table("sessions")
    op.drop_table("users")
    with op.batch_alter_table("decision_log") as batch:
        batch.drop_index("ix_decision_log_user_name")
        batch.drop_index("ix_decision_log_outcome")
        batch.drop_index("ix_decision_log_provider")
        batch.drop_column("approvers")
        batch.drop_column("rule_ids")
        batch.drop_column("provider")
