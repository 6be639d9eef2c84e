"""Group commit for a SQLite decision log, written on a thread so the event loop never waits for the disk.

A worker's decisions wait on its event loop while one group is being written; each group is written as one
multi-row ``INSERT`` — one SQLite statement, so one transaction, one commit and one sync of the log
(``synchronous=FULL``) — on the worker's writer thread. A decision is answered only once that statement has
returned. Worker processes take turns through the writers' lock file (``api.db.WriterTurns``), waited for on
the writer thread; after the log's timeout without the turn (a worker stuck holding it), the group is written
under SQLite's own lock alone, whose busy timeout then bounds the wait: stored, or a 503.

Why this shape (docs/benchmarks.md, "Fourth pass on the API"): writing on the event loop's thread stopped that
worker's serving during each sync, and a worker that found the turn taken could only look again on the loop's
next timer (about 1 ms later), so one worker wrote one decision at a time while the other waited; and a writer
thread that makes one SQLite call per row must win Python's lock back from the busy loop after each one. Here
the thread makes one call per group, and each worker's switch interval is short (``api.server.served_app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from api.db import DecisionLog, LogUnavailable, NewRecord, record_table
from api.log_writer import _STOP, Answer, WriterThread, _deliver, _store, _Submission

logger = logging.getLogger("carerules.api")
ROWS_PER_STATEMENT = 1000  # 12 values a row; SQLite allows 32,766 in one statement
_NAMES = tuple(one.name for one in fields(NewRecord))


class SqliteInserter:
    """Inserts on the writer thread's own connection (autocommit: one statement is one transaction)."""

    def __init__(self, log: DecisionLog) -> None:
        self.log = log
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
            sql = self._sql[count] = (
                f"INSERT INTO {record_table().name} ({', '.join(_NAMES)}) VALUES {', '.join([self._row] * count)}"
            )
        last = connection.execute(sql, [value for row in rows for value in row]).lastrowid
        if last is None:
            raise LogUnavailable("the decision log did not say which ids it gave")
        # One statement holding SQLite's write lock: the rows were given consecutive ids, the last one ``last``.
        return list(range(last - count + 1, last + 1))

    def _connection(self) -> sqlite3.Connection:
        if self._raw is None:
            self._raw = self.log.engine.raw_connection()  # with the log's pragmas (WAL, FULL, busy timeout)
            self._raw.driver_connection.isolation_level = None  # autocommit: no implicit BEGIN
        connection: sqlite3.Connection = self._raw.driver_connection
        return connection

    def close(self) -> None:
        if self._raw is not None:
            self._raw.invalidate()  # its isolation level was changed: not back to the pool
            self._raw = None


@dataclass
class _Bound(_Submission):
    """A submission with its records' values as SQLite stores them."""

    rows: list[list[Any]] = field(default_factory=list)


@dataclass
class _Lane:
    """One event loop's writing state: what waits, and whether a group is with the writer thread."""

    loop: asyncio.AbstractEventLoop
    waiting: list[_Bound] = field(default_factory=list)
    busy: bool = False


class SqliteWriter(WriterThread):
    """Decisions gathered on the event loop, written a group at a time on the writer thread."""

    def __init__(self, log: DecisionLog, max_group: int = 512, inserter: SqliteInserter | None = None) -> None:
        self.inserter = inserter or SqliteInserter(log)
        self._lanes: dict[asyncio.AbstractEventLoop, _Lane] = {}
        super().__init__(log, max_group)

    def close(self) -> None:
        super().close()
        self.inserter.close()

    async def add(self, records: list[NewRecord]) -> list[int]:
        """Wait for the records' ids: they are written with everything else waiting when the writer is next free."""
        if not records:
            return []
        loop = asyncio.get_running_loop()
        lane = self._lanes.get(loop)
        if lane is None:
            lane = self._lanes[loop] = _Lane(loop)
        submission = _Bound(records, loop, loop.create_future(), [self.inserter.bind(one) for one in records])
        lane.waiting.append(submission)
        if len(lane.waiting) == 1 and not lane.busy:
            loop.call_soon(self._send, lane)  # after the requests already under way on this turn of the loop
        return await submission.answer

    def _send(self, lane: _Lane) -> None:
        if lane.busy or not lane.waiting:
            return
        group, lane.waiting = lane.waiting[: self.max_group], lane.waiting[self.max_group :]
        lane.busy = True
        self._queue.put((lane, group))

    def _done(self, lane: _Lane, answers: list[Answer]) -> None:
        lane.busy = False
        _deliver(answers)
        self._send(lane)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            lane, group = item
            took = self.log.turns.take(self.log.timeout_seconds)
            try:
                answers = _store(self._insert, group)
            finally:
                if took:
                    self.log.turns.give_back()
            with contextlib.suppress(RuntimeError):  # a loop that has closed: its requests are gone
                lane.loop.call_soon_threadsafe(self._done, lane, answers)

    def _insert(self, group: Sequence[_Bound]) -> list[int]:
        return self.inserter.insert([row for one in group for row in one.rows])
