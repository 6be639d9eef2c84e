"""Checkpoints of a SQLite decision log's WAL on a thread of their own, not on the event loop.

SQLite copies the WAL back into the database file (a checkpoint, with its syncs) from inside whichever commit
takes the WAL past 1,000 pages. The decision writer commits on the event loop (api/store/sqlite_writer.py), so
that commit's requests, and every other request of the worker, waited for it: on a busy disk a checkpoint took
up to 65 ms, and the checkpoints were most of the writer's time (docs/benchmarks.md, "The API (6 Dec 2026)").
While a worker serves, its writer's connection does not checkpoint and this thread does, a few times a second
(``PRAGMA wal_checkpoint(PASSIVE)``: it waits for no one, readers and writers carry on meanwhile, and a page a
reader still needs is copied at a later look). The log's other connections checkpoint as SQLite's default.

Under a steady stream of decisions that passive look never caught up: commits kept landing while it copied, so
the WAL was never wholly copied, SQLite never started it again from its beginning, and it grew for as long as
the stream lasted (126 MB after 3,000 decisions), every commit appending to the file. A synced append must also
sync the file's new size (the file system's journal); a synced overwrite of the file's existing blocks need not,
and costs about half as much on the benchmark's disk (docs/benchmarks.md, "API store"). So after the bulk has been
copied, the thread takes the writers' turn (``WriterTurns``, its own lock of the file: a worker's writer that
finds it taken keeps serving and looks again a moment later) and copies the few frames written meanwhile; with
the WAL wholly copied, the next commit starts it again from its beginning, over blocks already there. It waits
for the turn a few milliseconds at most, and holds it for that short second copy alone.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.engine import make_url

from api.store.decision_log import DecisionLog, WriterTurns

logger = logging.getLogger("carerules.api")

CHECKPOINT_SECONDS = 0.25  # at 3,000 decisions/s, about 3,000 WAL pages a look
TURN_TRIES, TURN_PAUSE_SECONDS = 20, 0.0005  # waiting for the writers' turn: 10 ms at most, then at the next look


class Checkpointer:
    """The thread that checkpoints a SQLite log's WAL every ``every`` seconds while it runs."""

    def __init__(self, log: DecisionLog, every: float = CHECKPOINT_SECONDS) -> None:
        self.log, self.every = log, every
        url = make_url(log.url) if getattr(log, "url", None) else None  # (a stand-in log in tests has none)
        self.usable = (
            url is not None and url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._turns: WriterTurns | None = None
        self._settled = -1  # the WAL's frames after the last settle (none written since while a look finds as many)

    def start(self) -> bool:
        """Start the thread (if not running); False when this log has no WAL to checkpoint (in memory)."""
        if not self.usable:
            return False
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="carerules-log-checkpoint", daemon=True)
            self._thread.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._turns is not None:
            self._turns.close()
            self._turns = None

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint: (1 if it could not run now, WAL frames, frames copied to the database)."""
        connection = self.log.engine.raw_connection()
        try:
            row: Any = connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            connection.close()
        return int(row[0]), int(row[1]), int(row[2])

    def settle(self) -> bool:
        """With the writers' turn held (no decision committed meanwhile), copy what the last look left; True if
        the WAL is then wholly copied, so the next commit starts it again from its beginning. False if the turn
        was not had within a few milliseconds, or a reader still needs a frame (tried again at the next look)."""
        if self._turns is None:  # its own open file: its lock excludes this process's writer too
            self._turns = WriterTurns(self.log.url)
        turns = self._turns
        for _ in range(TURN_TRIES):
            if turns.try_take():
                break
            if self._stop.wait(TURN_PAUSE_SECONDS):
                return False
        else:
            return False
        try:
            busy, frames, copied = self.checkpoint()
        finally:
            turns.give_back()
        self._settled = frames
        return busy == 0 and frames == copied

    def look(self) -> None:
        """A passive checkpoint; then, if anything was written since the last settle, the rest in turn."""
        # (its figures are the WAL as the look began: decisions committed while it copied are not in them)
        busy, frames, _copied = self.checkpoint()
        if busy == 0 and frames > 0 and frames != self._settled:
            self.settle()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.look()
            except Exception as exc:  # a disk error: said, and tried again at the next look
                logger.warning("decision log checkpoint failed: %s", exc)
