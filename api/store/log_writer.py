"""Group commit for the decision log: a decision is answered only once it is stored, and decisions waiting at the
same moment share one transaction (one commit, one fsync).

Two writers with the same promise:

- ``api.store.sqlite_writer.SqliteWriter`` for a SQLite file: on the event loop's own thread, once per turn of the
  loop, one statement a group; worker processes take turns at the file;
- ``LogWriter`` here, for a database over the network (PostgreSQL): a writer thread, so that a database that
  stops answering cannot stop the event loop; each request waits at most the log's timeout, then gets a 503, and
  records not yet handed to the database are never written.

In both, if a group's transaction fails, each submission is retried alone, so one bad record cannot fail other
clients' decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from api.store.decision_log import DecisionLog, LogUnavailable, NewRecord

logger = logging.getLogger("carerules.api")
_STOP = object()


@dataclass
class _Submission:
    """One request's records and the event-loop future it awaits."""

    records: list[NewRecord]
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future[list[int]]


@dataclass
class _Claimed(_Submission):
    """For the writer thread: ``claim`` is the thread-safe handshake — the writer takes it, or the request's
    timeout cancels it first."""

    claim: Future[None] = field(default_factory=Future)


Answer = tuple[_Submission, "list[int] | BaseException"]
S = TypeVar("S", bound=_Submission)


def _store(
    write: Callable[[Sequence[S]], list[int]], group: Sequence[S], retry_on: type[Exception] | None = None
) -> list[Answer]:
    """Write a group in one transaction (``write``: the group → its records' new ids, in order); on failure, each
    submission alone. Each submission's ids, or the error its request gets. ``retry_on``: an error that wrote
    nothing and is raised for the caller to try again later (only from the whole group's first attempt)."""
    try:
        ids = write(group)
    except Exception as exc:
        if retry_on is not None and isinstance(exc, retry_on):
            raise
        if len(group) > 1:
            return [answer for one in group for answer in _store(write, [one])]
        logger.exception("the decision log refused a write")
        return [(group[0], LogUnavailable("the decision could not be stored in the decision log"))]
    answers: list[Answer] = []
    start = 0
    for one in group:
        answers.append((one, ids[start : start + len(one.records)]))
        start += len(one.records)
    return answers


def _deliver(answers: list[Answer]) -> None:
    """On the requests' event loop: each waiting request gets its ids or its error."""
    for submission, result in answers:
        if submission.answer.done():  # timed out or cancelled meanwhile
            continue
        if isinstance(result, BaseException):
            submission.answer.set_exception(result)
        else:
            submission.answer.set_result(result)


class LogWriter:
    """Group commit on a writer thread (a database over the network): the event loop never waits for it."""

    def __init__(self, log: DecisionLog, max_group: int = 512) -> None:
        self.log = log
        self.max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread()
        self.start()

    def start(self) -> None:
        """Start the writer thread, or start it again after ``close`` (an app whose lifespan runs again)."""
        if not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="decision-log-writer", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    async def add(self, records: list[NewRecord]) -> list[int]:
        """Wait for the records' ids, at most the log's timeout: then LogUnavailable (a 503), and records not yet
        handed to the database are dropped, so a decision answered "not stored" is not stored later either."""
        if not records:
            return []
        loop = asyncio.get_running_loop()
        submission = _Claimed(records, loop, loop.create_future())
        self._queue.put(submission)
        timer = loop.call_later(self.log.timeout_seconds, _time_out, submission, self.log.timeout_seconds)
        try:
            return await submission.answer
        finally:
            timer.cancel()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            group = [item]
            stop = False
            while len(group) < self.max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                group.append(more)
            # A submission its request gave up on (timed out, so cancelled) is not written.
            group = [one for one in group if one.claim.set_running_or_notify_cancel()]
            if group:
                _answer(_store(self._add, group))
            if stop:
                return

    def _add(self, group: Sequence[_Submission]) -> list[int]:
        return self.log.add([record for one in group for record in one.records])


def _answer(answers: list[Answer]) -> None:
    """From the writer thread to the requests' event loops: one wake-up per loop, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Answer]] = {}
    for answer in answers:
        by_loop.setdefault(answer[0].loop, []).append(answer)
    for loop, some in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a loop that has closed: its requests are gone
            loop.call_soon_threadsafe(_deliver, some)


def _time_out(submission: _Claimed, seconds: float) -> None:
    submission.claim.cancel()  # fails (and the write goes ahead) if the writer has already taken it
    if not submission.answer.done():
        submission.answer.set_exception(
            LogUnavailable(f"the decision log did not confirm the write within {seconds:g} s")
        )


class Writer(Protocol):
    """What the API needs of a log writer: ``api.store.sqlite_writer.SqliteWriter`` or ``LogWriter``."""

    async def add(self, records: list[NewRecord]) -> list[int]: ...

    def start(self) -> None: ...

    def close(self) -> None: ...
