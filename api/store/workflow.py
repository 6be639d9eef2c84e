"""The brokerage workflow's tables in the decision-log database: users and their roles, browser sessions, and
requests for approval and approvals. Both are appended, never edited: one row asks for (or decides) one decision,
and a second attempt is refused by the database itself (a unique decision id), so two approvers at once cannot
both decide it.

The schema is owned by the Alembic migrations ``0002_workflow`` and ``0003_approval_requests``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, ForeignKey, Integer, String, Text, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from api.store.decision_log import Base


class UserRecord(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    roles: Mapped[str] = mapped_column(String(200))  # role names separated by spaces
    token_key: Mapped[str] = mapped_column(String(32), unique=True)  # the public part of the token, to find it
    token_hash: Mapped[str] = mapped_column(String(200))  # argon2 hash of the whole token
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionRecord(Base):
    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie value
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApprovalRecord(Base):
    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(Integer, ForeignKey("decision_log.id"), unique=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(32))  # the role the approver acted in
    decision: Mapped[str] = mapped_column(String(16))  # approve | decline
    reason: Mapped[str] = mapped_column(Text)


class ApprovalRequestRecord(Base):
    """A broker asking for approval of one checked decision (SPEC §14.2: trying prices is not asking)."""

    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(Integer, ForeignKey("decision_log.id"), unique=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_name: Mapped[str | None] = mapped_column(String(100), index=True)  # who asked (null: an old log's user)


USERS, SESSIONS, APPROVALS = UserRecord.__table__, SessionRecord.__table__, ApprovalRecord.__table__
REQUESTS = ApprovalRequestRecord.__table__


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite keeps no zone; all is written in UTC


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    token_key: str
    token_hash: str


class UserExists(Exception):
    pass


class AlreadyDecided(Exception):
    pass


class AlreadyRequested(Exception):
    pass


def user_from_row(row: Any) -> User:
    return User(row.name, tuple(row.roles.split()), row.token_key, row.token_hash)


class WorkflowStore:
    """Users, sessions and approvals, over the decision log's SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # users
    def add_user(self, name: str, roles: Iterable[str], token_key: str, token_hash: str, now: datetime) -> None:
        row = {"name": name, "roles": " ".join(roles), "token_key": token_key, "token_hash": token_hash}
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(USERS).values(**row, created_at=now))
        except IntegrityError:
            raise UserExists(name) from None

    def set_token(self, name: str, token_key: str, token_hash: str) -> bool:
        with self.engine.begin() as connection:
            done = connection.execute(
                update(USERS).where(USERS.c.name == name).values(token_key=token_key, token_hash=token_hash)
            )
            connection.execute(delete(SESSIONS).where(SESSIONS.c.user_name == name))
        return bool(done.rowcount)

    def remove_user(self, name: str) -> bool:
        with self.engine.begin() as connection:
            connection.execute(delete(SESSIONS).where(SESSIONS.c.user_name == name))
            return bool(connection.execute(delete(USERS).where(USERS.c.name == name)).rowcount)

    def users(self) -> list[User]:
        with self.engine.connect() as connection:
            return [user_from_row(row) for row in connection.execute(select(USERS).order_by(USERS.c.name))]

    def user_count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(USERS)).scalar_one())

    def user_by_name(self, name: str) -> User | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(USERS).where(USERS.c.name == name)).first()
        return user_from_row(row) if row else None

    def user_by_token_key(self, token_key: str) -> User | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(USERS).where(USERS.c.token_key == token_key)).first()
        return user_from_row(row) if row else None

    # sessions
    def add_session(self, session_id: str, user_name: str, now: datetime, expires: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(SESSIONS).where(SESSIONS.c.expires_at < now))  # tidy up expired ones
            connection.execute(
                insert(SESSIONS).values(
                    id_hash=session_hash(session_id), user_name=user_name, created_at=now, expires_at=expires
                )
            )

    def session_user(self, session_id: str, now: datetime) -> str | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(SESSIONS).where(SESSIONS.c.id_hash == session_hash(session_id))).first()
        if row is None or _utc(row.expires_at) <= now:
            return None
        return str(row.user_name)

    def end_session(self, session_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(SESSIONS).where(SESSIONS.c.id_hash == session_hash(session_id)))

    # approvals
    def add_approval(
        self, decision_id: int, user_name: str, role: str, decision: str, reason: str, now: datetime
    ) -> int:
        row = {"decision_id": decision_id, "user_name": user_name, "role": role, "decision": decision, "reason": reason}
        try:
            with self.engine.begin() as connection:
                inserted = connection.execute(insert(APPROVALS).values(**row, decided_at=now).returning(APPROVALS.c.id))
                return int(inserted.scalar_one())
        except IntegrityError:
            raise AlreadyDecided(decision_id) from None

    def approvals_of(self, decision_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        ids = list(decision_ids)
        if not ids:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(select(APPROVALS).where(APPROVALS.c.decision_id.in_(ids)))
            return {row.decision_id: approval_json(row) for row in rows}

    # requests for approval
    def add_request(self, decision_id: int, user_name: str, now: datetime) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(REQUESTS).values(decision_id=decision_id, user_name=user_name, requested_at=now)
                )
        except IntegrityError:
            raise AlreadyRequested(decision_id) from None

    def requests_of(self, decision_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        ids = list(decision_ids)
        if not ids:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(select(REQUESTS).where(REQUESTS.c.decision_id.in_(ids)))
            return {row.decision_id: request_json(row.user_name, row.requested_at) for row in rows}

    def state_of(self, decision_id: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the request for approval, the approval) of one decision, each None when there is none."""
        return self.requests_of([decision_id]).get(decision_id), self.approvals_of([decision_id]).get(decision_id)


def approval_json(row: Any) -> dict[str, Any]:
    return {
        "decision": row.decision,
        "by": row.user_name,
        "role": row.role,
        "at": _utc(row.decided_at),
        "reason": row.reason,
    }


def request_json(user_name: str | None, requested_at: datetime) -> dict[str, Any]:
    return {"by": user_name, "at": _utc(requested_at)}


def status_of(outcome: str, request: dict[str, Any] | None, approval: dict[str, Any] | None) -> str:
    """not_needed (the outcome needs no approval) | checked (a price tried, approval not asked for) | pending
    (asked for, not yet decided) | approved | declined."""
    if outcome != "needs_approval":
        return "not_needed"
    if approval is not None:
        return "approved" if approval["decision"] == "approve" else "declined"
    return "checked" if request is None else "pending"


def now_utc() -> datetime:
    return datetime.now(UTC)
