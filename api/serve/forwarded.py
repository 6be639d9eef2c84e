"""Behind the council's reverse proxy: its forwarded headers (only from its addresses) and a sub-path.

``CARERULES_FORWARDED_ALLOW_IPS``: addresses or networks of reverse proxies (e.g. the one ending HTTPS) whose
``X-Forwarded-Proto`` and ``X-Forwarded-For`` are believed: the request's scheme becomes the one the browser
used (so redirects, links and Secure cookies are right) and its client the address the proxy forwards (for the
log and sign-in limits). From any other address those headers are ignored. The socket peer is kept apart
(``SOCKET_PEER``): a single-sign-on proxy is still recognised only by its own connection (api/auth/identity.py).

``CARERULES_ROOT_PATH``: the sub-path the proxy serves the app under (e.g. ``/carerules``). The proxy may strip
it or pass it on; either way the routes see their own paths and every link and redirect starts with it.
"""

from __future__ import annotations

import ipaddress

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

SOCKET_PEER = "carerules.socket_peer"  # the scope key holding the connection's own (host, port)


def networks(addresses: tuple[str, ...] | list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(address, strict=False) for address in addresses]


def clean_root(root_path: str) -> str:
    """``/carerules/`` → ``/carerules``; empty for none. Anything but a plain path is refused."""
    root = root_path.strip().rstrip("/")
    if root and (not root.startswith("/") or "//" in root or any(c in root for c in "?#\\ ") or not root.isprintable()):
        raise ValueError(f"root_path must be a path such as /carerules, not {root_path!r}")
    return root


def _last(value: str) -> str:
    """The entry the proxy itself added: the last of a comma-separated list (earlier ones came from the client)."""
    return value.split(",")[-1].strip()


class ProxyHeaders:
    """Outermost pure ASGI middleware: forwarded headers from an allowed proxy, and the sub-path taken off the
    path (so every middleware sees the route's own path) and kept as ``root_path``."""

    def __init__(self, app: ASGIApp, allow: tuple[str, ...] | list[str] = (), root_path: str = "") -> None:
        self.app, self.allow, self.root = app, networks(allow), clean_root(root_path)

    def allowed(self, scope: Scope) -> bool:
        client = scope.get("client")
        if not self.allow or not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in network for network in self.allow)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not (self.allow or self.root):
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        if self.root:
            path = scope["path"]
            if path == self.root or path.startswith(self.root + "/"):  # the proxy passed the sub-path on
                scope["path"] = path[len(self.root) :] or "/"
            scope["root_path"] = self.root
        if self.allowed(scope):
            headers = Headers(scope=scope)
            proto = _last(headers.get("x-forwarded-proto", "")).lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
            forwarded_for = _last(headers.get("x-forwarded-for", ""))
            try:
                ipaddress.ip_address(forwarded_for)
            except ValueError:
                pass
            else:
                scope[SOCKET_PEER] = scope["client"]
                scope["client"] = (forwarded_for, 0)
        await self.app(scope, receive, send)


class UnderRootPath:
    """Innermost: the path given back its sub-path just before routing, as Starlette's mounts expect (a path
    that starts with ``root_path``)."""

    def __init__(self, app: ASGIApp, root_path: str = "") -> None:
        self.app, self.root = app, clean_root(root_path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.root and scope["type"] in ("http", "websocket"):
            path = scope["path"]
            if not (path == self.root or path.startswith(self.root + "/")):
                scope = dict(scope, path=self.root + path, root_path=self.root)
        await self.app(scope, receive, send)
