"""Tokens kept as SHA-256 digests; the record that this database has had users.

- ``users.token_hash`` holds ``sha256$<64 hex digits>`` for every token issued from now on (a token is 256
  random bits, not a password: a fast digest is as safe as a slow hash and costs microseconds, not 64 MiB and
  half a second). An argon2 hash from before stays until its token is first used, when it is checked once and
  replaced by the digest (api/auth/identity.py), so no column changes and every issued token keeps working.
- ``auth_state`` (one row) records whether the database has ever had a user. A trigger sets it whenever a user
  is added, whatever adds them, and nothing clears it: removing the last user never brings back the local
  single-user mode, which opens the stored decisions to anyone on the machine.

Revision ID: 0005_token_digest
Revises: 0004_audit_results
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_token_digest"
down_revision = "0004_audit_results"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("users_seen", sa.Boolean(), nullable=False),
    )
    connection = op.get_bind()
    had_users = connection.execute(sa.text("SELECT COUNT(*) FROM users")).scalar_one() > 0
    state = sa.table("auth_state", sa.column("id", sa.Integer), sa.column("users_seen", sa.Boolean))
    connection.execute(state.insert().values(id=1, users_seen=had_users))
    if connection.dialect.name == "sqlite":
        op.execute("CREATE TRIGGER users_seen AFTER INSERT ON users BEGIN UPDATE auth_state SET users_seen = 1; END")
    else:  # PostgreSQL
        op.execute(
            "CREATE FUNCTION carerules_users_seen() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN UPDATE auth_state SET users_seen = true; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER users_seen AFTER INSERT ON users FOR EACH STATEMENT EXECUTE FUNCTION carerules_users_seen()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER users_seen")
    else:
        op.execute("DROP TRIGGER users_seen ON users")
        op.execute("DROP FUNCTION carerules_users_seen()")
    op.drop_table("auth_state")
