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


def render_context(context: dict[str, Any], drawn: dict[str, Any] | None = None) -> str:
    """``report.render_context``, imported when first used (in the child)."""
    from engine.audit.outputs.report import render_context as render

    return render(context, drawn)


def draw_charts(charts: dict[str, Any]) -> dict[str, Any]:
    """``report.draw_charts``, imported when first used (in the child)."""
    from engine.audit.outputs.report import draw_charts as draw

    return draw(charts)


def _serve(connection: Connection, parent_end: Connection) -> None:
    parent_end.close()  # else the parent's end stays open here and a parent that dies never gives end of file
    warm_up()
    drawn = None
    try:
        message = connection.recv()
        if isinstance(message, dict):  # the charts first (``draw``): drawn while the parent makes the lists
            with contextlib.suppress(Exception):  # else drawn again with the rest, and any error sent then
                drawn = draw_charts(message)
            message = connection.recv()
    except EOFError:  # the parent finished without a report to render
        return
    if message is None:
        return
    context, path = message
    try:
        Path(path).write_text(render_context(context, drawn), encoding="utf-8")
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

    def draw(self, charts: dict[str, Any]) -> None:
        """Send the charts' figures (``chart_context``) ahead of the rest: drawn while the lists are made."""
        self._connection.send(charts)

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
