"""The decision log: every decision made through the API or the web page, kept so it can be shown and replayed.

SQLAlchemy over SQLite (default) or PostgreSQL (``CARERULES_DATABASE_URL``); the schema is owned by the
Alembic migrations in ``api/store/migrations`` and brought up to date when the app starts. Input and decision are
stored as JSON text written by ``engine.decision.dumps`` so money stays exact (no float round trip).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's own locking only
    fcntl = None  # type: ignore[assignment]

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Date, DateTime, Engine, Integer, String, Table, Text, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as NoAnswerInTime
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
        # the WAL, when started again from its beginning after a checkpoint, is cut back to this size (SQLite's
        # default leaves it as large as it ever grew)
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.close()

    return on_connect


WAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes
PRIVATE_FILE = stat.S_IRUSR | stat.S_IWUSR  # 0600: the log holds personal data
PRIVATE_FOLDER = stat.S_IRWXU  # 0700
WATCH_SECONDS = 0.25  # how often the deadlines of calls to PostgreSQL are looked at (at most)


def private_sqlite_file(database: str) -> None:
    """Create a SQLite log file (and any folder made for it) readable by its owner only, before SQLite opens it;
    SQLite gives the ``-wal`` and ``-shm`` files it makes beside it the same mode. An existing log that anyone on
    the machine may read loses the others' permissions (its group's are left as the operator set them)."""
    path = Path(database).expanduser().resolve()
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=PRIVATE_FOLDER)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        for one in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with contextlib.suppress(OSError):  # gone meanwhile, or another user's: left as it is
                mode = stat.S_IMODE(one.stat().st_mode)
                if mode & stat.S_IRWXO:
                    one.chmod(mode & ~stat.S_IRWXO)
    except OSError:
        pass  # a place that cannot be written: SQLite says so in its own words when the log is opened


class Deadlines:
    """A client-side bound on every call to a database over the network. A PostgreSQL that is frozen (stopped,
    or its host gone quiet) never answers, so its own ``statement_timeout`` cannot fire and the calling thread
    would wait for ever; here each statement, commit, rollback and ping is given ``seconds``, after which its
    connection's socket is shut down: the call fails at once (a 503), the thread is free again and the
    connection is thrown away. One watcher thread a process looks a few times a second (arming costs a dict
    entry, no wake-up)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.every = min(WATCH_SECONDS, seconds / 4)
        self._armed: dict[int, tuple[float, Any]] = {}  # id(DBAPI connection) → (deadline, the connection)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._cut_ones: weakref.WeakSet[Any] = weakref.WeakSet()

    def arm(self, connection: Any) -> None:
        with self._lock:
            self._armed[id(connection)] = (time.monotonic() + self.seconds, connection)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="database-deadlines", daemon=True)
                self._thread.start()

    def disarm(self, connection: Any) -> None:
        if connection is not None:
            with self._lock:
                self._armed.pop(id(connection), None)

    def expired(self, connection: Any) -> bool:
        """Was this connection cut for want of an answer?"""
        return connection in self._cut_ones

    def _watch(self) -> None:
        while True:
            time.sleep(self.every)
            now = time.monotonic()
            with self._lock:  # cut while still armed: a call that ended meanwhile has disarmed, and is left alone
                late = [key for key, (deadline, _) in self._armed.items() if deadline <= now]
                for key in late:
                    self._cut(self._armed.pop(key)[1])

    def _cut(self, connection: Any) -> None:
        try:
            fd = connection.fileno()  # raises once the connection is closed: never another file's number
        except Exception:
            return
        self._cut_ones.add(connection)
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as stream:
            stream.shutdown(socket.SHUT_RDWR)


def _watch_calls(engine: Engine, deadlines: Deadlines) -> None:
    """Arm ``deadlines`` around everything that waits for the server; ping a pooled connection on checkout under
    it (instead of ``pool_pre_ping``, whose ping nothing bounds)."""

    def arm_cursor(_conn: Any, cursor: Any, *_args: Any) -> None:
        deadlines.arm(cursor.connection)

    def disarm_cursor(_conn: Any, cursor: Any, *_args: Any) -> None:
        deadlines.disarm(cursor.connection)

    def arm_connection(conn: Any, *_args: Any) -> None:
        with contextlib.suppress(Exception):
            deadlines.arm(conn.connection.dbapi_connection)

    def on_error(context: Any) -> None:
        with contextlib.suppress(Exception):
            deadlines.disarm(context.connection.connection.dbapi_connection)

    def new_connection(_dbapi: Any, record: Any) -> None:
        record.info["carerules_fresh"] = True

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop("carerules_fresh", False):
            return  # just connected (bounded by connect_timeout): no ping needed
        if deadlines.expired(dbapi):  # cut during an earlier call, and put back: the pool connects afresh
            raise DisconnectionError("cut for want of an answer to an earlier call")
        deadlines.arm(dbapi)
        try:
            with contextlib.closing(dbapi.cursor()) as cursor:
                cursor.execute("SELECT 1")
            dbapi.rollback()
        except Exception as exc:
            if deadlines.expired(dbapi):  # this ping went unanswered
                raise NoAnswerInTime(f"the database did not answer within {deadlines.seconds:g} s") from None
            raise DisconnectionError(str(exc)) from None  # closed meanwhile: the pool connects afresh
        finally:
            deadlines.disarm(dbapi)

    def checkin(dbapi: Any, _record: Any) -> None:
        deadlines.disarm(dbapi)

    def reset(dbapi: Any, *_args: Any) -> None:
        deadlines.arm(dbapi)

    event.listen(engine, "before_cursor_execute", arm_cursor)
    event.listen(engine, "after_cursor_execute", disarm_cursor)
    event.listen(engine, "commit", arm_connection)
    event.listen(engine, "rollback", arm_connection)
    event.listen(engine, "handle_error", on_error)
    event.listen(engine, "connect", new_connection)
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    event.listen(engine, "reset", reset)


def make_engine(url: str, timeout_seconds: float = 5.0) -> Engine:
    """A SQLAlchemy engine for the log; waiting for a connection, a lock or a statement is bounded by the timeout.

    SQLite: the file is created readable by its owner only; SQLite's busy timeout bounds a wait for its lock.
    PostgreSQL: ``connect_timeout``, ``statement_timeout`` and ``lock_timeout`` on the server's side, and
    ``Deadlines`` on this side for a server that does not answer at all."""
    parsed = make_url(url)
    pool = {"pool_size": 8, "max_overflow": 32, "pool_timeout": timeout_seconds}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            private_sqlite_file(parsed.database)
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
        engine = create_engine(url, connect_args=connect_args, **pool)
        _watch_calls(engine, Deadlines(timeout_seconds))
        return engine
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **pool)


T = TypeVar("T")


async def off_loop(seconds: float, call: Callable[..., T], *args: Any) -> T:
    """Run a blocking database call on a worker thread, so the event loop keeps serving; at most ``seconds``,
    then ``LogUnavailable`` (a 503). (The thread itself is freed by the database's own timeouts.)"""
    try:
        return await asyncio.wait_for(asyncio.to_thread(call, *args), seconds)
    except TimeoutError:
        raise LogUnavailable(f"the database did not answer within {seconds:g} s") from None


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
    (``<log>.writers``), taken by ``api.store.sqlite_writer.SqliteWriter`` without waiting: a worker that finds it taken
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
        own connection: ``api.store.sqlite_writer.SqliteWriter``.)"""
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
