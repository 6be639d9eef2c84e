"""The HTML report rendered on the other core: a forked process imports matplotlib (most of a second) while the
book is read and audited, then draws the report from the plain data it is sent (``report_context``) while the
parent writes the spreadsheets and CSVs."""

from __future__ import annotations

import contextlib
import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


def warm_up() -> None:
    """The report's libraries imported and readied (in the child: the parent, forked from before it imports them,
    never does unless it must render the report itself)."""
    from engine.audit.outputs.report import warm_up as ready

    ready()


def render_context(context: dict[str, Any]) -> str:
    from engine.audit.outputs.report import render_context as render

    return render(context)


def _serve(connection: Connection, parent_end: Connection) -> None:
    parent_end.close()  # else the parent's end stays open here and a parent that dies never gives end of file
    warm_up()
    try:
        message = connection.recv()
    except EOFError:  # the parent finished without a report to render
        return
    if message is None:
        return
    context, path = message
    try:
        Path(path).write_text(render_context(context), encoding="utf-8")
        connection.send(None)
    except Exception as exc:  # the parent renders it again in its own process and shows that error, if any
        connection.send(f"{type(exc).__name__}: {exc}")


class ReportRenderer:
    """Start it before the audit; ``render`` sends it the report's data; ``wait`` says whether it wrote the
    file. Where processes cannot be forked, ``start`` returns None and the report is rendered in process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self._connection), daemon=True)
        self._process.start()
        child.close()

    @classmethod
    def start(cls) -> ReportRenderer | None:
        return cls() if "fork" in multiprocessing.get_all_start_methods() else None

    def render(self, context: dict[str, Any], path: Path) -> None:
        self._connection.send((context, str(path)))

    def wait(self) -> bool:
        """True when the report was written; False when the renderer failed (or died)."""
        try:
            failure = self._connection.recv()
        except EOFError:
            failure = "the renderer stopped"
        self.close()
        return failure is None

    def close(self) -> None:
        """Stop the renderer if it is still waiting (no report wanted, or the audit failed)."""
        if self._process.is_alive():
            with contextlib.suppress(OSError):  # it may have gone in the meantime
                self._connection.send(None)
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.terminate()
        self._connection.close()
