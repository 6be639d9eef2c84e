"""Run an upload audit in a child process the API can stop: at most N at once (others get 429), at most the
time limit, and stopped as soon as the client disconnects. An .xlsx whose contents unpack to more than the
limit is refused before any reader sees it."""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import zipfile
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from api.audit_worker import AuditJob, run_job
from api.responses import ApiError
from engine.validate.placement import InputError

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["api.audit_worker", "engine.audit.run", "engine.audit.output"])


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
    def __init__(self, max_concurrent: int, max_seconds: float) -> None:
        self.max_concurrent = max_concurrent
        self.max_seconds = max_seconds
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
        job = dataclasses.replace(job, book=dataclasses.replace(job.book))
        process = _CONTEXT.Process(target=run_job, args=(sender, job), name="carerules-audit", daemon=True)
        await asyncio.to_thread(process.start)
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
        if kind in ("file", "columns"):
            raise InputError({kind: [value]})
        raise RuntimeError(f"the audit failed: {value}")


def _receive(receiver: Connection) -> tuple[str, Any]:
    try:
        return receiver.recv()  # type: ignore[no-any-return]
    except EOFError:  # the child died without an answer (killed, or out of memory)
        return ("failed", "the audit process ended without a result")
