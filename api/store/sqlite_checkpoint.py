"""Checkpoints of a SQLite decision log's WAL on a thread of their own, not on the event loop.

SQLite copies the WAL back into the database file (a checkpoint, with its syncs) from inside whichever commit
takes the WAL past 1,000 pages. The decision writer commits on the event loop (api/store/sqlite_writer.py), so
that commit's requests, and every other request of the worker, waited for it: on a busy disk a checkpoint took
up to 65 ms, and the checkpoints were most of the writer's time (docs/benchmarks.md, "The API (6 Dec 2026)").
While a worker serves, its writer's connection does not checkpoint and this thread does, a few times a second
(``PRAGMA wal_checkpoint(PASSIVE)``: it waits for no one, readers and writers carry on meanwhile, and a page a
reader still needs is copied at a later look). The log's other connections checkpoint as SQLite's default.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.engine import make_url

from api.store.decision_log import DecisionLog

logger = logging.getLogger("carerules.api")

CHECKPOINT_SECONDS = 0.25  # at 3,000 decisions/s, about 3,000 WAL pages a look


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

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint: (1 if it could not run now, WAL frames, frames copied to the database)."""
        connection = self.log.engine.raw_connection()
        try:
            row: Any = connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            connection.close()
        return int(row[0]), int(row[1]), int(row[2])

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.checkpoint()
            except Exception as exc:  # a disk error: said, and tried again at the next look
                logger.warning("decision log checkpoint failed: %s", exc)
