"""Run an upload audit in a child process the API can stop: at most N at once (others get 429), at most the
time limit, under a memory limit (the child's address space: an allocation past it is a 422 naming the limit,
never a 500), and stopped as soon as the client disconnects. An .xlsx whose contents unpack to more than the
limit is refused before any reader sees it."""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import signal
import zipfile
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from api.routes.responses import ApiError
from api.uploads.worker import AuditJob, run_job
from engine.validate.placement import InputError

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["api.uploads.worker", "engine.audit.run", "engine.audit.outputs.write"])
# The memory limit caps address space, so the audit processes must not reserve much more than they use: by
# default Arrow's allocator (mimalloc) reserves 1 GiB up front and glibc 64 MB per thread. These are read when the
# fork server starts (it passes them on to every audit process); the audit command makes the same choice of
# allocator (engine/audit/memory.py).
FORKSERVER_ENVIRONMENT = {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc", "MALLOC_ARENA_MAX": "2"}
# How a child that ran out of memory ends without an answer: native code aborts when an allocation fails
# (calamine), or the kernel kills it; a null pointer used after a failed allocation is a segmentation fault.
OUT_OF_MEMORY_SIGNALS = frozenset({signal.SIGABRT, signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS})


class ClientGone(Exception):
    """The client disconnected while its audit ran: the audit was stopped and no answer is sent."""


def check_unpacked_size(path: Path, filename: str, limit: int) -> None:
    """An .xlsx is a zip: refuse one that would unpack to more than ``limit`` bytes (its directory says so
    without unpacking; Python's zip reader stops at the declared size, so the directory cannot lie)."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(item.file_size for item in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: the reader says so in its own words
    if unpacked > limit:
        raise ApiError(
            413,
            "too_large",
            f"{filename} unpacks to {unpacked:,} bytes, over the limit of {limit:,} bytes (decompressed size)",
            {"file": [f"unpacks to more than the decompressed-size limit of {limit:,} bytes"]},
        )


class AuditRunner:
    def __init__(self, max_concurrent: int, max_seconds: float, memory_bytes: int | None = None) -> None:
        self.max_concurrent = max_concurrent
        self.max_seconds = max_seconds
        self.memory_bytes = memory_bytes
        self.running = 0

    async def run(self, job: AuditJob, disconnected: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        if self.running >= self.max_concurrent:
            raise ApiError(
                429,
                "too_many_audits",
                f"{self.running} audit(s) already running, the limit is {self.max_concurrent} at once: try again "
                "in a minute",
            )
        self.running += 1
        try:
            return await self._run(job, disconnected)
        finally:
            self.running -= 1

    async def _run(self, job: AuditJob, disconnected: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        receiver, sender = _CONTEXT.Pipe(duplex=False)
        # A fresh copy of the loaded rulebook (its caches left behind): the audit uses the decisions' rulebook.
        job = dataclasses.replace(job, book=dataclasses.replace(job.book), memory_limit_bytes=self.memory_bytes)
        process = _CONTEXT.Process(target=run_job, args=(sender, job), name="carerules-audit", daemon=True)
        await asyncio.to_thread(_start, process)
        sender.close()
        # The answer is read on a worker thread; killing the child ends that read (end of file) at once.
        answer = asyncio.ensure_future(asyncio.to_thread(_receive, receiver))
        gone = asyncio.ensure_future(disconnected())
        try:
            done, _ = await asyncio.wait({answer, gone}, timeout=self.max_seconds, return_when=asyncio.FIRST_COMPLETED)
            if answer in done:
                kind, value = answer.result()
            elif gone in done:
                raise ClientGone
            else:
                raise ApiError(
                    422,
                    "audit_time_limit",
                    f"the audit took longer than the time limit of {self.max_seconds:g} s and was stopped: "
                    "split the book or audit it with the carerules command",
                    {"file": [f"took longer than the audit time limit of {self.max_seconds:g} s"]},
                )
        finally:
            gone.cancel()
            if process.is_alive():
                process.kill()
            await asyncio.to_thread(process.join, 5)
            await asyncio.wait({answer})
            receiver.close()
        if kind == "ok":
            return value  # type: ignore[no-any-return]
        if kind in ("file", "columns", "providers", "block_beds"):
            raise InputError({kind: [value]})
        if kind == "memory" or (kind == "ended" and self._out_of_memory(process.exitcode)):
            raise self._memory_error()
        if kind == "ended":
            value = f"the audit process ended without a result (exit code {process.exitcode})"
        raise RuntimeError(f"the audit failed: {value}")

    def _out_of_memory(self, exitcode: int | None) -> bool:
        return self.memory_bytes is not None and exitcode is not None and -exitcode in OUT_OF_MEMORY_SIGNALS

    def _memory_error(self) -> ApiError:
        limit = f"{self.memory_bytes:,} bytes"
        return ApiError(
            422,
            "audit_memory_limit",
            f"the audit needed more memory than the limit of {limit} and was stopped: split the book or audit it "
            "with the carerules command",
            {"file": [f"needed more memory than the audit memory limit of {limit}"]},
        )


def _start(process: multiprocessing.process.BaseProcess) -> None:
    from multiprocessing import forkserver

    saved = {name: os.environ.get(name) for name in FORKSERVER_ENVIRONMENT}
    os.environ.update(FORKSERVER_ENVIRONMENT)  # for the fork server, when this starts it
    try:
        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    process.start()


def _receive(receiver: Connection) -> tuple[str, Any]:
    try:
        return receiver.recv()  # type: ignore[no-any-return]
    except EOFError:  # the child ended without an answer (out of memory, killed, or crashed): see its exit code
        return ("ended", None)
