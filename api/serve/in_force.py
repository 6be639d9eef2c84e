"""The edition a request uses, taken once: every engine, decider, word and role of one request is one edition's,
whatever is swapped in meanwhile (api/serve/edition.py). Imports nothing of the API, so the sign-in guard can
read it as well as the routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from api.serve.edition import Edition


def edition_of(connection: HTTPConnection) -> Edition:
    """The rulebook edition this request uses, from its first look to its end."""
    state = connection.scope.setdefault("state", {})
    edition = state.get("edition")
    if edition is None:
        edition = state["edition"] = connection.app.state.editions.current
    return edition  # type: ignore[no-any-return]
