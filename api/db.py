"""The decision log: every decision made through the API or the web page, kept so it can be shown and replayed.

SQLAlchemy over SQLite (default) or PostgreSQL (``CARERULES_DATABASE_URL``); the schema is owned by the
Alembic migrations in ``api/migrations`` and brought up to date when the app starts. Input and decision are
stored as JSON text written by ``engine.decision.dumps`` so money stays exact (no float round trip).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's own locking only
    fcntl = None  # type: ignore[assignment]

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Date, DateTime, Engine, Integer, String, Table, Text, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    pass


class DecisionRecord(Base):
    __tablename__ = "decision_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_name: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    placement_id: Mapped[str] = mapped_column(String(64), index=True)
    as_at: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(16))
    rulebook_version: Mapped[str] = mapped_column(String(64))
    input_json: Mapped[str] = mapped_column(Text)
    decision_json: Mapped[str] = mapped_column(Text)
    # for filtering the log (migration 0002): " CHP-02 CHP-07 " and the roles that must approve, space-separated
    provider: Mapped[str | None] = mapped_column(String(200), index=True)
    rule_ids: Mapped[str | None] = mapped_column(String(400))
    approvers: Mapped[str | None] = mapped_column(String(200))


_TABLE = cast(Table, DecisionRecord.__table__)
_INSERT_ONE = _TABLE.insert().returning(_TABLE.c.id)
_INSERT_MANY = _TABLE.insert().returning(_TABLE.c.id, sort_by_parameter_order=True)


def record_table() -> Table:
    """The decision log's table (for writers that insert without the ORM)."""
    return _TABLE


@dataclass(frozen=True)
class NewRecord:
    decided_at: datetime
    user_name: str | None
    channel: str
    placement_id: str
    as_at: date
    outcome: str
    rulebook_version: str
    input_json: str
    decision_json: str
    provider: str | None = None
    rule_ids: str | None = None
    approvers: str | None = None


def _sqlite_pragmas(timeout_seconds: float) -> Any:
    def on_connect(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        # WAL lets readers run beside the writer; FULL syncs the WAL on every commit, so an acknowledged
        # decision survives a power cut as well as a process crash (SQLite docs, "WAL mode").
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_seconds * 1000)}")
        cursor.close()

    return on_connect


def make_engine(url: str, timeout_seconds: float = 5.0) -> Engine:
    """A SQLAlchemy engine for the log; waiting for a connection, a lock or a statement is bounded by the timeout."""
    parsed = make_url(url)
    pool = {"pool_size": 8, "max_overflow": 32, "pool_timeout": timeout_seconds}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas(timeout_seconds))
        return engine
    milliseconds = int(timeout_seconds * 1000)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        options = f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"
        given = parsed.query.get("options")  # the URL's own options (e.g. a search_path) are kept
        if given:
            options = f"{given if isinstance(given, str) else ' '.join(given)} {options}"
        connect_args = {"connect_timeout": max(1, round(timeout_seconds)), "options": options}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **pool)


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class LogUnavailable(RuntimeError):
    """The decision log cannot be reached, brought to the latest schema, or written in time (a 503 in the API)."""


class WriterTurns:
    """Worker processes writing decisions to one SQLite file take turns through a lock file beside it
    (``<log>.writers``), taken by ``api.sqlite_writer.SqliteWriter`` without waiting: a worker that finds it taken
    keeps serving and tries again on its event loop's next turn, where SQLite's own busy handler would sleep 1, 2,
    5, 10… ms between tries (docs/benchmarks.md, "Third pass on the API"). Other writers (users, approvals) use
    SQLite's locking as before. A process that dies releases its turn. No lock file for PostgreSQL, nor where
    ``fcntl`` is missing."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.fd: int | None = None
        if (
            fcntl is not None
            and parsed.get_backend_name() == "sqlite"
            and parsed.database not in (None, "", ":memory:")
        ):
            path = Path(parsed.database or "").expanduser().resolve()
            self.fd = os.open(f"{path}.writers", os.O_RDWR | os.O_CREAT, stat.S_IRUSR | stat.S_IWUSR)

    def try_take(self) -> bool:
        """Take the turn if no other writer holds it, without waiting (always True without a lock file)."""
        if self.fd is None or fcntl is None:
            return True
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def give_back(self) -> None:
        if self.fd is not None and fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class DecisionLog:
    def __init__(self, url: str, timeout_seconds: float = 5.0) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.engine = make_engine(url, timeout_seconds)
        self.turns = WriterTurns(url)

    def upgrade(self) -> None:
        """Bring the schema to the latest migration (idempotent). A log that cannot be reached or migrated
        raises ``LogUnavailable`` saying which log (password hidden) and why."""
        config = alembic_config()
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except (SQLAlchemyError, CommandError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            raise LogUnavailable(
                f"cannot use the decision log at {make_url(self.url).render_as_string(hide_password=True)}: "
                f"{reason[0] if reason else type(exc).__name__}"
            ) from None

    def add(self, records: list[NewRecord]) -> list[int]:
        """Insert in one transaction; the new ids in the records' order. (The API's SQLite writer inserts on its
        own connection: ``api.sqlite_writer.SqliteWriter``.)"""
        if not records:
            return []
        with self.engine.begin() as connection:
            if len(records) == 1:
                return [connection.execute(_INSERT_ONE, records[0].__dict__).scalar_one()]
            return list(connection.execute(_INSERT_MANY, [record.__dict__ for record in records]).scalars())

    def get(self, record_id: int) -> DecisionRecord | None:
        with Session(self.engine, expire_on_commit=False) as session:
            found = session.get(DecisionRecord, record_id)
            return _utc(found) if found else None

    def recent(self, limit: int) -> list[DecisionRecord]:
        query = select(DecisionRecord).order_by(DecisionRecord.id.desc()).limit(limit)
        with Session(self.engine, expire_on_commit=False) as session:
            return [_utc(found) for found in session.scalars(query)]

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(select(1))

    def dispose(self) -> None:
        self.engine.dispose()
        self.turns.close()


def _utc(found: DecisionRecord) -> DecisionRecord:
    if found.decided_at.tzinfo is None:  # SQLite keeps no zone; everything is written in UTC
        found.decided_at = found.decided_at.replace(tzinfo=UTC)
    return found
