"""The decision log's writers: group commit, answers to the right request on the right event loop, one bad record
failing only its own request, and a timed-out request's records never written later. ``LogWriter``
(api/store/log_writer.py, for PostgreSQL) and ``SqliteWriter`` (api/store/sqlite_writer.py: worker processes taking
turns at one SQLite file, a group a statement)."""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from api.main import writer_for
from api.store.decision_log import DecisionLog, LogUnavailable, NewRecord, WriterTurns
from api.store.log_writer import LogWriter
from api.store.sqlite_writer import SqliteWriter

RECORD = NewRecord(
    datetime(2026, 11, 2, tzinfo=UTC), "local", "api", "P-1", date(2026, 5, 4), "proceed", "v", "{}", "{}"
)


def record(placement_id: str) -> NewRecord:
    return replace(RECORD, placement_id=placement_id)


class FakeLog:
    """Stands in for DecisionLog: ids from a counter; can be held shut, and refuses any record named "bad"."""

    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self.timeout_seconds = timeout_seconds
        self.open = threading.Event()
        self.open.set()
        self.entered = threading.Event()
        self.groups: list[list[str]] = []
        self.ids = itertools.count(1)
        self.turns = WriterTurns("sqlite://")  # no lock file: the turn is always free

    def add(self, records: list[NewRecord]) -> list[int]:
        return self.insert([self.bind(one) for one in records])

    # as api.store.sqlite_writer.SqliteInserter
    def bind(self, record: NewRecord) -> list[str]:
        return [record.placement_id]

    def insert(self, rows: list[list[str]]) -> list[int]:
        self.entered.set()
        self.open.wait(10)
        names = [row[0] for row in rows]
        if "bad" in names:
            raise ValueError("refused")
        self.groups.append(names)
        return [next(self.ids) for _ in rows]

    def close(self) -> None:
        pass


def sqlite_writer(log: FakeLog) -> SqliteWriter:
    return SqliteWriter(log, inserter=log)  # type: ignore[arg-type]


WRITERS = [LogWriter, sqlite_writer]


@pytest.mark.parametrize("kind", WRITERS)
def test_waiting_decisions_share_one_commit_and_each_gets_its_own_ids(kind):
    log = FakeLog()
    writer = kind(log)

    async def run() -> list[list[int]]:
        log.open.clear()
        first = asyncio.ensure_future(writer.add([record("first")]))
        await asyncio.to_thread(log.entered.wait, 5)  # the writer holds "first"; the next ones queue up
        rest = [asyncio.ensure_future(writer.add([record(f"P-{n}"), record(f"Q-{n}")])) for n in range(5)]
        await asyncio.sleep(0.05)
        log.open.set()
        return [await first, *[await one for one in rest]]

    answers = asyncio.run(run())
    writer.close()
    assert log.groups[0] == ["first"]
    assert log.groups[1] == [name for n in range(5) for name in (f"P-{n}", f"Q-{n}")]  # one commit for five
    assert answers == [[1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]


@pytest.mark.parametrize("kind", WRITERS)
def test_a_record_the_log_refuses_fails_only_its_own_request(kind):
    log = FakeLog()
    writer = kind(log)

    async def run() -> list[object]:
        log.open.clear()
        first = asyncio.ensure_future(writer.add([record("first")]))
        await asyncio.to_thread(log.entered.wait, 5)
        rest = [asyncio.ensure_future(writer.add([record(name)])) for name in ("A", "bad", "B")]
        await asyncio.sleep(0.05)
        log.open.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    answers = asyncio.run(run())
    writer.close()
    assert answers[0] == [1] and answers[1] == [2] and answers[3] == [3]
    assert isinstance(answers[2], LogUnavailable)
    assert log.groups == [["first"], ["A"], ["B"]]  # the group of three failed; each was retried alone


def test_a_request_that_times_out_is_answered_503_and_its_waiting_records_are_never_written():
    log = FakeLog(timeout_seconds=0.3)
    writer = LogWriter(log)  # type: ignore[arg-type]

    async def run() -> tuple[object, object]:
        log.open.clear()
        first = asyncio.ensure_future(writer.add([record("taken")]))
        await asyncio.to_thread(log.entered.wait, 5)
        waiting = asyncio.ensure_future(writer.add([record("waiting")]))
        answers = await asyncio.gather(first, waiting, return_exceptions=True)
        log.open.set()
        return answers[0], answers[1]

    taken, waiting = asyncio.run(run())
    writer.close()  # the writer has finished everything it took
    for answer in (taken, waiting):
        assert isinstance(answer, LogUnavailable) and "did not confirm the write within 0.3 s" in str(answer)
    # "taken" was in the database's hands when its request gave up: it may land (503 says "not confirmed");
    # "waiting" was not: it is dropped, so a decision answered "not stored" is not stored later either
    assert log.groups == [["taken"]]


@pytest.mark.parametrize("kind", WRITERS)
def test_nothing_to_store_is_answered_at_once(kind):
    log = FakeLog()
    writer = kind(log)
    assert asyncio.run(writer.add([])) == []
    assert log.groups == []
    writer.close()


def test_sqlite_is_written_by_turns_at_the_file_and_postgresql_on_a_thread(tmp_path):
    sqlite = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
    writer = writer_for(sqlite)
    assert isinstance(writer, SqliteWriter)
    writer.close()
    sqlite.dispose()
    postgresql = DecisionLog("postgresql+psycopg://carerules@127.0.0.1:1/carerules")  # never connected
    writer = writer_for(postgresql)
    assert isinstance(writer, LogWriter)
    writer.close()
    postgresql.dispose()


@pytest.mark.parametrize(("setting", "pragma"), [(None, 2), ("full", 2), ("normal", 1)])
def test_the_sqlite_writers_commits_are_synced_as_the_setting_says(tmp_path, monkeypatch, setting, pragma):
    from api.serve.settings import Settings

    if setting is not None:
        monkeypatch.setenv("CARERULES_SQLITE_SYNCHRONOUS", setting)
    chosen = Settings.from_env().sqlite_synchronous
    assert chosen == (setting or "full")  # FULL unless asked: each 201 synced to the disk
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.upgrade()
    writer = writer_for(log, chosen)
    assert isinstance(writer, SqliteWriter)
    (first,) = asyncio.run(writer.add([record("P-1")]))
    writer_connection = writer.inserter._connection()
    # the writer's own connection (1 NORMAL, 2 FULL); the log's other connections keep FULL
    assert writer_connection.execute("PRAGMA synchronous").fetchone()[0] == pragma
    with log.engine.connect() as other:
        assert other.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert other.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    writer.close()
    assert log.get(first) is not None  # stored, whichever
    log.dispose()


def test_a_synchronous_setting_sqlite_does_not_offer_is_refused(tmp_path, monkeypatch):
    from pydantic import ValidationError

    from api.serve.settings import Settings
    from api.store.sqlite_writer import SqliteInserter

    monkeypatch.setenv("CARERULES_SQLITE_SYNCHRONOUS", "off")
    with pytest.raises(ValidationError):
        Settings.from_env()
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
    with pytest.raises(ValueError, match="full, normal"):
        SqliteInserter(log, "off")
    log.dispose()


@pytest.mark.parametrize(("kind", "one_at_a_time"), [(kind, one) for kind in WRITERS for one in (False, True)])
def test_requests_on_several_event_loops_each_get_their_answers(kind, one_at_a_time):
    log = FakeLog()
    writer = kind(log)
    results: dict[str, list[list[int]]] = {}

    def client(name: str) -> None:
        async def run() -> list[list[int]]:
            adds = [writer.add([record(f"{name}-{n}")]) for n in range(20)]
            if one_at_a_time:  # each waits for its own commit
                return [await add for add in adds]
            return list(await asyncio.gather(*adds))

        results[name] = asyncio.run(run())

    threads = [threading.Thread(target=client, args=(name,)) for name in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    writer.close()
    written = {name: index + 1 for index, name in enumerate(n for group in log.groups for n in group)}
    assert sorted(written.values()) == list(range(1, 61))
    for name, answers in results.items():
        assert answers == [[written[f"{name}-{n}"]] for n in range(20)]


def test_a_writer_that_finds_the_turn_taken_keeps_serving_and_writes_when_it_is_free(tmp_path):
    """Another worker process writing (here: another open lock file holding the turn) does not stop the event
    loop; the decisions that arrive meanwhile wait together, and are written once the turn is free."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = DecisionLog(url)
    log.upgrade()
    other = WriterTurns(url)  # the other worker's lock file
    assert other.try_take()
    writer = SqliteWriter(log)
    ticks: list[int] = []

    async def run() -> list[list[int]]:
        first = asyncio.ensure_future(writer.add([record("first")]))
        for tick in range(20):  # the loop keeps turning while the turn is taken
            await asyncio.sleep(0.001)
            ticks.append(tick)
            if tick == 5:
                later = asyncio.ensure_future(writer.add([record("later")]))
        assert not first.done()
        other.give_back()
        return [await first, await later]

    assert asyncio.run(run()) == [[1], [2]]
    assert len(ticks) == 20
    writer.close()
    other.close()
    assert [log.get(n).placement_id for n in (1, 2)] == ["first", "later"]  # type: ignore[union-attr]
    log.dispose()


def test_a_turn_never_given_back_delays_decisions_only_until_the_log_timeout(tmp_path):
    """A worker stuck holding the turn: after the log's timeout the others write under SQLite's own lock."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = DecisionLog(url, timeout_seconds=0.2)
    log.upgrade()
    stuck = WriterTurns(url)
    assert stuck.try_take()
    writer = SqliteWriter(log)

    async def run() -> tuple[list[int], float]:
        began = asyncio.get_running_loop().time()
        ids = await writer.add([record("waited")])
        return ids, asyncio.get_running_loop().time() - began

    ids, waited = asyncio.run(run())
    assert ids == [1] and 0.2 <= waited < 2
    writer.close()
    stuck.close()
    log.dispose()


@pytest.mark.parametrize("per_statement", [1000, 3])
def test_each_request_gets_the_ids_of_its_own_stored_records_when_two_workers_write_at_once(
    tmp_path, monkeypatch, per_statement
):
    """Two writers on one SQLite file (as two worker processes: their own connections and lock files), many
    requests each, some with several records (a batch): every id a request is given is the row holding that
    request's record, stored exactly once — also when a group is written in several statements."""
    monkeypatch.setattr("api.store.sqlite_writer.ROWS_PER_STATEMENT", per_statement)
    url = f"sqlite:///{tmp_path / 'log.db'}"
    DecisionLog(url).upgrade()
    logs = [DecisionLog(url), DecisionLog(url)]
    writers = [SqliteWriter(one) for one in logs]
    given: dict[str, int] = {}

    def worker(index: int) -> None:
        async def run() -> None:
            requests = [[record(f"W{index}-{n}-{k}") for k in range(1 + n % 4)] for n in range(60)]
            answers = await asyncio.gather(*(writers[index].add(one) for one in requests))
            for one, ids in zip(requests, answers):
                assert len(ids) == len(one)
                given.update({item.placement_id: new_id for item, new_id in zip(one, ids)})

        asyncio.run(run())

    threads = [threading.Thread(target=worker, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for writer in writers:
        writer.close()
    assert len(given) == 2 * sum(1 + n % 4 for n in range(60))
    assert sorted(given.values()) == list(range(1, len(given) + 1))  # each stored once, no gaps
    for name, new_id in given.items():
        assert logs[0].get(new_id).placement_id == name  # type: ignore[union-attr]
    stored = logs[0].get(given["W0-0-0"])
    assert stored is not None and stored.decided_at == RECORD.decided_at and stored.as_at == RECORD.as_at
    for one in logs:
        one.dispose()


def test_the_sqlite_writer_leaves_the_wals_checkpoints_to_a_thread_of_their_own(tmp_path):
    """While the writer serves, its commits on the event loop never checkpoint (a checkpoint's syncs held every
    request of the worker); the checkpointer thread copies the WAL into the database instead."""
    import time

    from api.store.sqlite_checkpoint import Checkpointer

    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.upgrade()
    writer = writer_for(log, "normal")
    assert isinstance(writer, SqliteWriter)
    writer.checkpointer = Checkpointer(log, every=0.05)
    writer.start()
    big = replace(RECORD, input_json="x" * 4000)  # a page of WAL or more a row

    async def write() -> None:
        for start in range(0, 1500, 100):
            await asyncio.gather(
                *(writer.add([replace(big, placement_id=f"P-{n}")]) for n in range(start, start + 100))
            )

    asyncio.run(write())
    connection = writer.inserter._connection()
    assert connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    deadline = time.monotonic() + 10
    while (tmp_path / "log.db").stat().st_size < 1500 * 4000:  # the rows copied from the WAL into the database
        assert time.monotonic() < deadline, (tmp_path / "log.db").stat().st_size
        time.sleep(0.05)
    writer.close()
    assert log.recent(2000) and len(log.recent(2000)) == 1500
    with log.engine.connect() as other:  # the log's other connections keep SQLite's own checkpoints
        assert other.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    log.dispose()


def _log_of_big_decisions(tmp_path):
    """A SQLite log synced at every commit whose writer leaves checkpoints to a Checkpointer, and a decision whose
    pages overflow (the stored decision of the bench is about 9 KB)."""
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.upgrade()
    writer = writer_for(log, "full")
    assert isinstance(writer, SqliteWriter)
    writer.inserter.checkpoint_here(False)
    return log, writer, writer.inserter, replace(RECORD, input_json="x" * 8000)


def test_a_look_that_decisions_overtook_still_lets_the_wal_start_again_from_its_beginning(tmp_path):
    """Under a steady stream of decisions, commits land while the checkpointer's passive look copies, and that
    look reports the WAL as it began, wholly copied: SQLite then never started the WAL again from its beginning,
    and it grew with every decision, each synced commit an append (126 MB after 3,000). The look now copies the
    rest with the writers' turn held, so the next decision's frames are written at the WAL's start."""
    from api.store.sqlite_checkpoint import Checkpointer

    log, writer, inserter, big = _log_of_big_decisions(tmp_path)
    inserter.insert([inserter.bind(replace(big, placement_id=f"P-{n}")) for n in range(20)])
    checkpointer = Checkpointer(log)
    copy = checkpointer.checkpoint
    looks: list[tuple[int, int, int]] = []

    def overtaken() -> tuple[int, int, int]:
        looks.append(copy())
        if len(looks) == 1:  # a decision committed as the look ends
            inserter.insert([inserter.bind(replace(big, placement_id="P-during"))])
        return looks[-1]

    checkpointer.checkpoint = overtaken  # type: ignore[method-assign]
    checkpointer.look()
    assert looks[0][1] == looks[0][2] > 0  # the first look saw its WAL wholly copied
    wal = tmp_path / "log.db-wal"
    size = wal.stat().st_size
    ids = inserter.insert([inserter.bind(replace(big, placement_id="P-after"))])
    assert wal.stat().st_size == size  # written over the WAL's first frames, not appended
    frames = copy()[1]
    assert 0 < frames < 10, frames  # this decision's pages alone
    assert ids == [22] and log.get(22).placement_id == "P-after"  # type: ignore[union-attr]
    assert len(log.recent(100)) == 22
    checkpointer.stop()
    writer.close()
    log.dispose()


def test_a_wal_started_again_is_cut_back_to_the_size_limit(tmp_path, monkeypatch):
    """SQLite leaves a WAL as large as it ever grew; the log's connections cut it back to ``WAL_SIZE_LIMIT`` when
    it starts again from its beginning (here 64 KiB instead of 64 MiB)."""
    from api.store import decision_log
    from api.store.sqlite_checkpoint import Checkpointer

    monkeypatch.setattr(decision_log, "WAL_SIZE_LIMIT", 64 * 1024)
    log, writer, inserter, big = _log_of_big_decisions(tmp_path)
    inserter.insert([inserter.bind(replace(big, placement_id=f"P-{n}")) for n in range(40)])
    wal = tmp_path / "log.db-wal"
    assert wal.stat().st_size > 300 * 1024
    checkpointer = Checkpointer(log)
    assert checkpointer.checkpoint()[0] == 0
    inserter.insert([inserter.bind(replace(big, placement_id="P-after"))])
    assert 0 < wal.stat().st_size <= 64 * 1024
    assert len(log.recent(100)) == 41
    writer.close()
    log.dispose()


def test_the_checkpointer_waits_for_the_writers_turn_a_few_milliseconds_at_most(tmp_path):
    """A worker holding the turn: the checkpointer's second copy is left for its next look (no wait on a stuck
    writer), and its own turn is given back after a copy."""
    import time

    from api.store.sqlite_checkpoint import Checkpointer

    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = DecisionLog(url)
    log.upgrade()
    checkpointer = Checkpointer(log)
    other = WriterTurns(url)
    assert other.try_take()
    started = time.monotonic()
    assert checkpointer.settle() is False
    assert time.monotonic() - started < 1
    other.give_back()
    assert checkpointer.settle() is True
    assert other.try_take()  # given back
    other.give_back()
    other.close()
    checkpointer.stop()
    log.dispose()


def test_a_writer_waiting_for_the_turn_looks_again_less_and_less_often(tmp_path, monkeypatch):
    """The looks at the lock file while another worker writes: 0.1 ms after the first, the waits doubling up to
    1 ms (not a lock-file system call every 0.1 ms for the whole of the other's synced commit)."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    log = DecisionLog(url)
    log.upgrade()
    other = WriterTurns(url)
    assert other.try_take()
    writer = SqliteWriter(log)
    waits: list[float] = []
    looks = 0
    take = log.turns.try_take

    def counted() -> bool:
        nonlocal looks
        looks += 1
        return take()

    monkeypatch.setattr(log.turns, "try_take", counted)

    async def run() -> list[int]:
        loop = asyncio.get_running_loop()
        call_later = loop.call_later

        def recorded(delay: float, callback: Any, *args: object) -> asyncio.TimerHandle:
            if callback == writer._commit:
                waits.append(delay)
            return call_later(delay, callback, *args)

        monkeypatch.setattr(loop, "call_later", recorded)
        added = asyncio.ensure_future(writer.add([record("waited")]))
        while len(waits) < 8:
            await asyncio.sleep(0.0005)
        other.give_back()
        return await added

    assert asyncio.run(run()) == [1]
    assert waits[:6] == [0.0001, 0.0002, 0.0004, 0.0008, 0.001, 0.001]
    assert looks == len(waits) + 1  # the last look took the turn
    writer.close()
    other.close()
    log.dispose()
