"""Group commit for a SQLite decision log, on the event loop's own thread: the decisions waiting at one turn of
the loop are written in one multi-row ``INSERT`` — one SQLite statement, so one transaction and one commit (synced
to the disk with ``synchronous=FULL``, the default; in the log's WAL file with ``CARERULES_SQLITE_SYNCHRONOUS=normal``)
— and each is answered only once that statement has returned.

Worker processes take turns through the writers' lock file (``api.store.decision_log.WriterTurns``) without waiting:
a worker that finds the turn taken keeps serving and looks again on the loop's next turn, and the decisions that
arrive meanwhile join its group. SQLite's own lock is never waited for on the loop either: the writer's connection
has no busy timeout, so a write that finds the database locked (another process, a ``carerules`` command, a thread
writing users or audit results) fails at once and is tried again a moment later, the loop serving other requests
meanwhile. After the log's timeout without the turn or the lock, the group's requests get a 503 and nothing of
theirs is stored.
Why on the loop's thread (docs/benchmarks.md, "Third pass on the API" and "Fourth pass on the API"): a writer
thread must win Python's lock back from the busy event loop after each SQLite call; with a short switch interval
it did, but the switching cost more CPU than the sync it let the loop overlap (2,325–2,532 decisions/s against
2,738–3,045/s written here, same minutes). And one statement through ``sqlite3`` costs a third of the CPU that a
SQLAlchemy insert of the same rows did.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from api.store.decision_log import DecisionLog, LogUnavailable, NewRecord, record_table
from api.store.log_writer import Answer, _deliver, _store, _Submission
from api.store.sqlite_checkpoint import Checkpointer

# The turn taken by another worker: look again after the first wait, doubling up to the last. A commit synced to the
# disk takes 1.6–11 ms on the benchmark's disk (0.15 ms with synchronous=normal): a look every 0.1 ms throughout was
# a lock-file system call and a timer each time, 2% of a worker's CPU under 32 connections (docs/benchmarks.md).
TURN_RETRY_SECONDS = (0.0001, 0.001)
LOCKED_RETRY_SECONDS = (0.0005, 0.02)  # the database locked by someone else: first wait, doubling up to the last
ROWS_PER_STATEMENT = 1000  # 12 values a row; SQLite allows 32,766 in one statement
CACHED_STATEMENTS = 64  # the statements for groups of up to 64 rows are kept
_NAMES = tuple(one.name for one in fields(NewRecord))
SYNCHRONOUS = ("full", "normal")  # CARERULES_SQLITE_SYNCHRONOUS


class Locked(Exception):
    """The database is locked by another connection: nothing was written; try again later."""


def _locked(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or (
        "database is locked" in str(exc)
    )


class SqliteInserter:
    """Inserts on the writer's own connection (autocommit: one statement is one transaction)."""

    def __init__(self, log: DecisionLog, synchronous: str = "full") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}")
        self.log = log
        self.synchronous = synchronous
        self.autocheckpoint = True  # off while a Checkpointer thread does it (api/store/sqlite_checkpoint.py)
        table, dialect = record_table(), log.engine.dialect
        self.binders: list[Callable[[Any], Any] | None] = [
            table.c[name].type.bind_processor(dialect) for name in _NAMES
        ]
        self._row = f"({', '.join('?' for _ in _NAMES)})"
        self._sql: dict[int, str] = {}
        self._raw: Any = None

    def bind(self, record: NewRecord) -> list[Any]:
        """A record's values as SQLite stores them (the same conversions SQLAlchemy applies)."""
        values = record.__dict__
        return [values[name] if bind is None else bind(values[name]) for name, bind in zip(_NAMES, self.binders)]

    def insert(self, rows: list[list[Any]]) -> list[int]:
        """Insert in one transaction; the new ids in the rows' order. Many rows: one statement a thousand rows, in
        one explicit transaction."""
        connection = self._connection()
        try:
            return self._insert(connection, rows)
        except sqlite3.OperationalError as exc:
            if _locked(exc):
                raise Locked from None
            raise

    def _insert(self, connection: sqlite3.Connection, rows: list[list[Any]]) -> list[int]:
        if len(rows) <= ROWS_PER_STATEMENT:
            return self._statement(connection, rows)
        connection.execute("BEGIN IMMEDIATE")
        try:
            ids = [
                new_id
                for start in range(0, len(rows), ROWS_PER_STATEMENT)
                for new_id in self._statement(connection, rows[start : start + ROWS_PER_STATEMENT])
            ]
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.rollback()
            raise
        return ids

    def _statement(self, connection: sqlite3.Connection, rows: list[list[Any]]) -> list[int]:
        count = len(rows)
        sql = self._sql.get(count)
        if sql is None:
            sql = f"INSERT INTO {record_table().name} ({', '.join(_NAMES)}) VALUES {', '.join([self._row] * count)}"
            if count <= CACHED_STATEMENTS:  # the usual groups; a long batch's statement is made when needed
                self._sql[count] = sql
        last = connection.execute(sql, [value for row in rows for value in row]).lastrowid
        if last is None:
            raise LogUnavailable("the decision log did not say which ids it gave")
        # One statement holding SQLite's write lock: the rows were given consecutive ids, the last one ``last``.
        return list(range(last - count + 1, last + 1))

    def _connection(self) -> sqlite3.Connection:
        if self._raw is None:
            self._raw = self.log.engine.raw_connection()  # with the log's pragmas (WAL, FULL, busy timeout)
            self._raw.driver_connection.isolation_level = None  # autocommit: no implicit BEGIN
            self._raw.driver_connection.execute("PRAGMA busy_timeout=0")  # never wait for the lock on the loop
            # this connection's commits only (the log's other connections keep FULL): in WAL mode NORMAL writes each
            # commit to the WAL file before the statement returns and syncs the disk at checkpoints (SQLite docs,
            # "PRAGMA synchronous"); FULL also syncs the WAL at every commit
            self._raw.driver_connection.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            self._apply_autocheckpoint()
        connection: sqlite3.Connection = self._raw.driver_connection
        return connection

    def checkpoint_here(self, here: bool) -> None:
        """Whether this connection's commits also checkpoint the WAL (SQLite's default, 1,000 pages) or never."""
        self.autocheckpoint = here
        self._apply_autocheckpoint()

    def _apply_autocheckpoint(self) -> None:
        if self._raw is not None:
            pages = 1000 if self.autocheckpoint else 0
            self._raw.driver_connection.execute(f"PRAGMA wal_autocheckpoint={pages}")

    def close(self) -> None:
        if self._raw is not None:
            self._raw.invalidate()  # its isolation level was changed: not back to the pool
            self._raw = None


@dataclass
class _Bound(_Submission):
    """A submission with its records' values as SQLite stores them."""

    rows: list[list[Any]] = field(default_factory=list)


class SqliteWriter:
    """Group commit on the event loop's thread: everything waiting, once per turn of the loop."""

    def __init__(self, log: DecisionLog, max_group: int = 512, inserter: SqliteInserter | None = None) -> None:
        self.log = log
        self.max_group = max_group
        self.inserter = inserter or SqliteInserter(log)
        self.checkpointer = Checkpointer(log)
        self._waiting: dict[asyncio.AbstractEventLoop, list[_Bound]] = {}

    def start(self) -> None:
        """The WAL's checkpoints go to their own thread, off the event loop (api/store/sqlite_checkpoint.py)."""
        if self.checkpointer.start():
            self.inserter.checkpoint_here(False)

    def close(self) -> None:
        """Nothing waits beyond the loop's turn; the checkpoints stop and the writing connection goes."""
        if self.checkpointer.usable:
            self.checkpointer.stop()
            self.inserter.checkpoint_here(True)
        self.inserter.close()

    async def add(self, records: list[NewRecord]) -> list[int]:
        """Wait for the records' ids: they are written with everything else that arrives before the loop's next
        turn."""
        if not records:
            return []
        loop = asyncio.get_running_loop()
        submission = _Bound(records, loop, loop.create_future(), [self.inserter.bind(one) for one in records])
        waiting = self._waiting.setdefault(loop, [])
        waiting.append(submission)
        if len(waiting) == 1:
            loop.call_soon(self._commit, loop, loop.time())
        return await submission.answer

    def _commit(self, loop: asyncio.AbstractEventLoop, since: float, pause: float = 0.0, wait: float = 0.0) -> None:
        late = loop.time() - since >= self.log.timeout_seconds
        took = self.log.turns.try_take()
        if not took and not late:
            # Another worker is writing: keep serving, and the decisions that arrive meanwhile join this group.
            wait = min(wait * 2, TURN_RETRY_SECONDS[1]) if wait else TURN_RETRY_SECONDS[0]
            loop.call_later(wait, self._commit, loop, since, pause, wait)
            return
        # With the turn; or, after the log's timeout without it (a worker stuck holding it), under SQLite's own
        # lock alone.
        try:
            waiting = self._waiting.pop(loop, [])
            still: list[_Bound] = []
            for start in range(0, len(waiting), self.max_group):
                group = waiting[start : start + self.max_group]
                answers, locked = _write(self._insert, group) if not still else ([], True)
                _deliver(answers)
                if locked:
                    still.extend(group)
        finally:
            if took:
                self.log.turns.give_back()
        if not still:
            return
        if late:
            _deliver([(one, LogUnavailable(_LOCKED_TOO_LONG.format(self.log.timeout_seconds))) for one in still])
            return
        # The database is locked by someone else: these go first on a later turn, with what arrives meanwhile.
        self._waiting[loop] = still + self._waiting.get(loop, [])
        pause = min(max(pause * 2, LOCKED_RETRY_SECONDS[0]), LOCKED_RETRY_SECONDS[1])
        loop.call_later(min(pause, max(0.0, since + self.log.timeout_seconds - loop.time())), self._commit, loop,
                        since, pause)  # fmt: skip

    def _insert(self, group: Sequence[_Bound]) -> list[int]:
        return self.inserter.insert([row for one in group for row in one.rows])


_LOCKED_TOO_LONG = "the decision log was locked by another writer for {:g} s; nothing was stored"


def _write(insert: Callable[[Sequence[_Bound]], list[int]], group: Sequence[_Bound]) -> tuple[list[Answer], bool]:
    """As ``api.store.log_writer._store``; or, if the database was locked, no answers and True (none of the group's rows
    stored: one statement, or one transaction rolled back)."""
    try:
        return _store(insert, group, retry_on=Locked), False
    except Locked:
        return [], True
