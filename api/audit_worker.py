"""The child process side of an upload audit (see api/audits_runner.py): imported by the fork server, so it
keeps to the engine and the standard library."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.audit.read import Limits
from engine.rulebook.loader import Rulebook


@dataclass(frozen=True)
class AuditJob:
    path: Path
    filename: str
    book: Rulebook
    as_at: date | None
    period_start: date | None
    results_limit: int
    limits: Limits


def run_job(connection: Connection, job: AuditJob) -> None:
    """Audit the book and send ("ok", body) or ("book_error", message) back; anything else is ("failed", text)."""
    os.nice(10)  # an audit never slows single decisions down more than it must
    from engine.audit.run import BookError, run_audit

    outcome: tuple[str, Any]
    try:
        audit = run_audit(job.path, as_at=job.as_at, period_start=job.period_start, rules=job.book, limits=job.limits)
        rows = audit.table.slice(0, job.results_limit).to_pylist()
        body = {"summary": audit.summary(), "results": rows, "results_truncated": audit.rows > job.results_limit}
        outcome = ("ok", body)
    except BookError as exc:
        outcome = ("book_error", str(exc).replace(str(job.path), job.filename))
    except Exception as exc:  # reported by the parent as a 500, the traceback kept in its log
        outcome = ("failed", f"{type(exc).__name__}: {exc}")
    connection.send(outcome)
    connection.close()
