"""Uploads cannot take the server down (issue 13): each hostile book of the issue is refused or answered with a
limit named, while another client's decisions keep being answered; at most N audits at once; an audit stops
when its client disconnects; a client that sends its request too slowly is cut off. Against a real server."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import P_1001
from hostile import many_cells_xlsx, one_huge_cell_xlsx, wide_header_csv

from api.loadgen import local_server

SMALL_CSV = (
    b"placement_id,service,start_date,age,care_type,core_weekly_fee\nP-1,care_home,2026-05-04,82,nursing,1040.00\n"
)
LIMITS = {
    "CARERULES_MAX_AUDIT_SECONDS": "60",
    "CARERULES_MAX_DECOMPRESSED_BYTES": "100000000",
    "CARERULES_MAX_UPLOAD_ROWS": "100000",
    "CARERULES_MAX_CELL_CHARS": "1000",
    "CARERULES_MAX_CONCURRENT_AUDITS": "1",
    "CARERULES_REQUEST_READ_SECONDS": "1",
}
HASTY_SECONDS = "3"
SLOW_BOOK_ROWS = 99_000  # an .xlsx of this many rows takes seconds to audit (read, evaluate, write the outputs)


def _server(tmp_path_factory: pytest.TempPathFactory, **changes: str) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('uploads') / 'decisions.db'}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**LIMITS, **changes}.items():
            patch.setenv(name, value)
        with local_server(url) as base:
            yield base


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _server(tmp_path_factory)


@pytest.fixture(scope="module")
def hasty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same limits but 3 seconds for an audit."""
    yield from _server(tmp_path_factory, CARERULES_MAX_AUDIT_SECONDS=HASTY_SECONDS)


def upload(base: str, name: str, content: bytes, timeout: float = 60) -> httpx.Response:
    return httpx.post(f"{base}/v1/audits", files={"file": (name, content)}, timeout=timeout)


class Decisions(threading.Thread):
    """Another client deciding placements one after another until told to stop; keeps every latency."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.stop, self.latencies, self.statuses = base, threading.Event(), [], []

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                began = time.perf_counter()
                self.statuses.append(client.post("/v1/decisions", json=P_1001).status_code)
                self.latencies.append(time.perf_counter() - began)


def usual_latency(base: str) -> float:
    with httpx.Client(base_url=base, timeout=30) as client:
        times = []
        for _ in range(30):
            began = time.perf_counter()
            assert client.post("/v1/decisions", json=P_1001).status_code == 201
            times.append(time.perf_counter() - began)
    return statistics.median(times)


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("wide_header.csv", wide_header_csv),
        ("one_huge_cell.xlsx", one_huge_cell_xlsx),
        ("many_cells.xlsx", many_cells_xlsx),
    ],
)
def test_a_hostile_upload_is_bounded_while_decisions_keep_answering(hasty_server, name, build):
    server = hasty_server
    content = build()
    usual = usual_latency(server)
    other = Decisions(server)
    other.start()
    began = time.perf_counter()
    response = upload(server, name, content)
    took = time.perf_counter() - began
    time.sleep(0.2)
    other.stop.set()
    other.join()
    assert response.status_code in (200, 413, 422), response.text
    if response.status_code == 413 or response.json().get("error", {}).get("code") == "audit_time_limit":
        message = json.dumps(response.json()["error"])
        assert "limit" in message, message  # says which limit
    elif response.status_code == 422:
        assert response.json()["error"]["fields"]["file"]  # the book's own problem, in words
    assert took < float(HASTY_SECONDS) + 5
    assert other.statuses and set(other.statuses) == {201}
    # Liveness, not a benchmark: the issue saw decisions stall for 12 s during such an upload.
    assert max(other.latencies) < max(1.0, 50 * usual), (max(other.latencies), usual)


def test_the_huge_cell_is_refused_by_its_decompressed_size(server):
    response = upload(server, "one_huge_cell.xlsx", one_huge_cell_xlsx())
    assert response.status_code == 413
    assert "decompressed" in response.json()["error"]["message"]


def test_an_audit_over_the_time_limit_is_stopped_with_422(hasty_server):
    response = upload(hasty_server, "many_cells.xlsx", many_cells_xlsx(SLOW_BOOK_ROWS))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "audit_time_limit"


def test_rows_and_cell_size_over_their_limits_are_422_naming_the_limit(server):
    rows = SMALL_CSV + b"".join(b"P-%d,care_home,2026-05-04,82,nursing,1040.00\n" % index for index in range(100_000))
    too_long = upload(server, "rows.csv", rows)
    assert too_long.status_code == 422 and "100,000 rows" in too_long.json()["error"]["fields"]["file"][0]
    big_cell = SMALL_CSV + b"P-2,care_home,2026-05-04,82,nursing," + b"1" * 2000 + b"\n"
    too_big = upload(server, "cell.csv", big_cell)
    assert too_big.status_code == 422 and "1,000 characters" in too_big.json()["error"]["fields"]["file"][0]


def test_control_characters_in_a_cell_are_an_error_row(server):
    book = SMALL_CSV + b"P-2,care_home,2026-05-04,82,nurs\x0bing,1040.00\n"
    response = upload(server, "control.csv", book)
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["errors"] is None and second["errors"] and second["outcome"] is None


def test_only_n_audits_at_once_and_a_disconnect_stops_the_audit(server):
    """A slow audit is running (its client still there): another gets 429. Its client goes away: the audit
    stops at once (the time limit is a minute away), so the next audit is accepted."""
    body, boundary = _multipart("slow.xlsx", many_cells_xlsx(SLOW_BOOK_ROWS))
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(
            f"POST /v1/audits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={boundary}"
            f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(1.2)  # the audit is running
        refused = upload(server, "small.csv", SMALL_CSV)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_audits"
    time.sleep(0.5)
    assert upload(server, "small.csv", SMALL_CSV).status_code == 200  # not 429: the slow one was stopped


def _multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "carerulesboundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), boundary


def test_a_client_that_sends_too_slowly_is_disconnected(server):
    host, port = server.removeprefix("http://").split(":")
    for partial in (b"", b"POST /v1/decisions HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"POST /v1/decisions HTTP/1.1\r\n"
                    b"Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"):  # fmt: skip
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(partial)
            began = time.monotonic()
            assert raw.recv(4096) == b""  # closed by the server
            assert time.monotonic() - began < 5
    assert httpx.post(f"{server}/v1/decisions", json=P_1001).status_code == 201


def test_sample_book_still_audits(server):
    book = (Path(__file__).resolve().parents[2] / "examples" / "sample_placements.csv").read_bytes()
    response = upload(server, "sample_placements.csv", book)
    assert response.status_code == 200 and response.json()["summary"]["rows"] > 0
