"""A response's head written as uvicorn writes it, with its header checks made once over all the headers.

uvicorn's ``RequestResponseCycle.send`` searches each header's name and each value with a regular expression
before writing the head: twenty searches for a decision's ten headers, 5–13 µs a response on this machine (the
largest piece left of the shell around a decision; docs/benchmarks.md, "The API, fifth pass"). A match of either
pattern is one byte of a class, so the joined names (and values) hold one exactly when a header does: one
``bytes.translate`` of each, deleting those bytes, leaves its length as it was exactly when none of the twenty
searches would find one; when it does not, uvicorn's own ``send`` refuses the head (or writes it) as it always does.
Everything else — the body, a head while writing is paused, the access log, a client gone — is uvicorn's own.
tests/api/test_quick_head.py compares what this writes, raises and leaves in the cycle with uvicorn's ``send``.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE, STATUS_LINE, RequestResponseCycle

# The bytes uvicorn's two patterns refuse (each is one class of bytes): deleting them changes a header's length
# exactly when a search of it would find one. Used only with the patterns this was written for (``USABLE``):
# another uvicorn's patterns, perhaps not one class of bytes each, leave every head to its own send.
USABLE = (HEADER_RE.pattern, HEADER_VALUE_RE.pattern) == (
    b'[\x00-\x1f\x7f()<>@,;:\\[\\]={} \t\\\\"]',
    b"[\x00-\x08\x0a-\x1f\x7f]",
)
_NAME_REFUSED = bytes(byte for byte in range(256) if HEADER_RE.fullmatch(bytes([byte])))
_VALUE_REFUSED = bytes(byte for byte in range(256) if HEADER_VALUE_RE.fullmatch(bytes([byte])))


class QuickHeadCycle(RequestResponseCycle):
    async def send(self, message: Any) -> None:
        if (
            self.response_started
            or message["type"] != "http.response.start"
            or self.access_log
            or self.disconnected
            or self.flow.write_paused
        ):
            await super().send(message)
            return
        headers = self.default_headers + list(message.get("headers", []))
        names, values = b"".join([name for name, _ in headers]), b"".join([value for _, value in headers])
        refused = len(names.translate(None, _NAME_REFUSED)) != len(names)
        if refused or len(values.translate(None, _VALUE_REFUSED)) != len(values):
            await super().send(message)  # uvicorn's checks, header by header: its error, or its head
            return
        self.response_started = True
        self.waiting_for_100_continue = False
        status_code = message["status"]
        # From here as uvicorn's own send (tests/api/test_quick_head.py), without the searches made above.
        content = [STATUS_LINE[status_code]]
        has_connection_close = False
        for name, value in headers:
            name = name.lower()
            if name == b"content-length" and self.chunked_encoding is None:
                self.expected_content_length = int(value.decode())
                self.chunked_encoding = False
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                self.expected_content_length = 0
                self.chunked_encoding = True
            elif name == b"connection":
                connection = [token.lower().strip() for token in value.split(b",")]
                if b"close" in connection:
                    self.keep_alive = False
                    has_connection_close = True
            content.extend([name, b": ", value, b"\r\n"])
        if not self.keep_alive and not has_connection_close:
            content.append(b"connection: close\r\n")
        if self.chunked_encoding is None and self.scope["method"] != "HEAD" and status_code not in (204, 304):
            self.chunked_encoding = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        self.transport.write(b"".join(content))
