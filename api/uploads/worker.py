"""The child process side of an upload audit (see api/uploads/runner.py): read, audit and write the outputs of one
book into its folder, and send the JSON answer back. Imported by the fork server, so it keeps to the engine and
the standard library."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

from engine.audit.books.read import Limits
from engine.rulebook.loader import Rulebook

LIST_ROWS = 200  # rows of each list in the JSON answer; the CSVs and results.xlsx hold them all


@dataclass(frozen=True)
class AuditJob:
    path: Path  # the upload, inside ``folder``
    filename: str  # as the client named it, for messages
    book: Rulebook  # the loaded rulebook the decisions use
    audit_id: str
    folder: Path  # where the outputs are written
    downloads: frozenset[str]  # output file names offered for download
    as_at: date | None
    period_start: date | None
    sheet: str | None
    column_map: bytes | None
    results_limit: int
    limits: Limits
    memory_limit_bytes: int | None = None  # the child's address space (set by the runner from the settings)
    by: Literal["quarter", "month"] | None = None  # every KPI also as a series by quarter or month
    providers: tuple[Path, str] | None = None  # the provider register's path and the name messages use
    block_beds: tuple[Path, str] | None = None  # the block-bed file's path and the name messages use


def run_job(connection: Connection, job: AuditJob) -> None:
    """Send back ("ok", body), ("file", message), ("columns", message) or ("memory", message) when an allocation
    failed under the memory limit; anything else is ("failed", text)."""
    os.nice(10)  # an audit never slows single decisions down more than it must
    if job.memory_limit_bytes is not None:
        from engine.audit.memory import limit_memory

        limit_memory(job.memory_limit_bytes)
    outcome: tuple[str, Any]
    try:
        outcome = ("ok", audit(job))
    except MemoryError:  # numpy, Arrow and Python say so; the parent names the limit
        outcome = ("memory", "an allocation failed")
    except SideError as exc:
        outcome = (exc.field, exc.message)
    except Exception as exc:
        from engine.audit.books.columns import ColumnError
        from engine.audit.run import BookError

        if isinstance(exc, ColumnError):
            outcome = ("columns", str(exc))
        elif isinstance(exc, BookError):
            outcome = ("file", str(exc).replace(str(job.path), job.filename))
        else:  # reported by the parent as a 500, the text kept in its log
            outcome = ("failed", f"{type(exc).__name__}: {exc}")
    try:
        connection.send(outcome)
    except MemoryError:  # the answer itself did not fit under the limit
        connection.send(("memory", "the answer did not fit"))
    connection.close()


class SideError(Exception):
    """A provider register or block-bed file that cannot be used: the field it was given in and why."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(message)


def _side_files(job: AuditJob) -> tuple[Any, Any]:
    from engine.audit.books.block_beds import load_block_beds
    from engine.audit.books.book import BookError
    from engine.audit.books.providers import load_register

    loaded = []
    for field, given, load in (
        ("providers", job.providers, load_register),
        ("block_beds", job.block_beds, load_block_beds),
    ):
        if given is None:
            loaded.append(None)
            continue
        path, shown = given
        try:
            loaded.append(load(path, limits=job.limits))
        except BookError as exc:
            raise SideError(field, str(exc).replace(str(path), shown)) from None
    return loaded[0], loaded[1]


def audit(job: AuditJob) -> dict[str, Any]:
    from engine.audit.books.columns import load_column_map
    from engine.audit.lists.tables import list_masks, list_table, side_lists
    from engine.audit.outputs.write import write_outputs
    from engine.audit.run import run_audit

    providers, block_beds = _side_files(job)
    result = run_audit(
        job.path,
        as_at=job.as_at,
        period_start=job.period_start,
        rules=job.book,
        columns=load_column_map(job.column_map),
        sheet=job.sheet,
        limits=job.limits,
        by=job.by,
        providers=providers,
        block_beds=block_beds,
    )
    job.path.unlink()
    paths = [path for path in write_outputs(result, job.folder).values() if path.name in job.downloads]
    masks = list_masks(result)
    limit = job.results_limit
    return {
        "audit_id": job.audit_id,
        "summary": result.summary(),
        "results": result.table.slice(0, limit).to_pylist(),
        "results_truncated": result.rows > limit,
        "lists": {
            name: {"count": int(mask.sum()), "rows": list_table(result, mask).slice(0, LIST_ROWS).to_pylist()}
            for name, mask in masks.items()
        }
        | {
            name: {"count": table.num_rows, "rows": table.slice(0, LIST_ROWS).to_pylist()}
            for name, table in side_lists(result).items()
        },
        "downloads": {path.name: f"/v1/audits/{job.audit_id}/files/{path.name}" for path in paths},
    }
