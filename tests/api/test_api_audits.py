"""POST /v1/audits: an uploaded book → the same results and KPIs as the library's run_audit; bad uploads 4xx."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
from conftest import make_client
from fastapi.testclient import TestClient

from engine.audit.run import run_audit
from engine.decide import default_engine
from engine.explain.decision import dumps

EXAMPLES = json.loads((Path(__file__).resolve().parents[2] / "examples" / "placements.json").read_text())


def csv_book(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    pd.DataFrame(rows).to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def test_audit_upload_gives_run_audits_results_and_kpis(client, tmp_path):
    rows = [{key: value for key, value in item.items()} for item in EXAMPLES]
    body = csv_book(rows)
    (tmp_path / "book.csv").write_bytes(body)
    response = client.post("/v1/audits", files={"file": ("book.csv", body, "text/csv")}, data={"as_at": "2026-08-01"})
    assert response.status_code == 200
    got = response.json(parse_float=Decimal)
    expected = run_audit(tmp_path / "book.csv", as_at=__import__("datetime").date(2026, 8, 1))
    assert got["summary"] == json.loads(dumps(expected.summary(), indent=None), parse_float=Decimal)
    assert got["results_truncated"] is False
    assert [row["placement_id"] for row in got["results"]] == [item["placement_id"] for item in EXAMPLES]
    engine = default_engine()
    for row, item in zip(got["results"], EXAMPLES):
        if row["errors"] is None:
            decision = engine.decide(item, __import__("datetime").date(2026, 8, 1))
            assert row["outcome"] == decision.outcome
            assert row["rule_ids"].split() == [f.rule_id for f in decision.findings]


def test_audit_results_can_be_limited(client):
    response = client.post(
        "/v1/audits", files={"file": ("book.csv", csv_book(EXAMPLES), "text/csv")}, data={"results_limit": "2"}
    )
    body = response.json()
    assert len(body["results"]) == 2 and body["results_truncated"] is True and body["summary"]["rows"] == 7


def test_bad_uploads_are_4xx_with_a_message(client):
    wrong_type = client.post("/v1/audits", files={"file": ("book.pdf", b"%PDF", "application/pdf")})
    assert wrong_type.status_code == 415
    empty = client.post("/v1/audits", files={"file": ("book.csv", b"", "text/csv")})
    assert empty.status_code == 422 and "empty" in empty.json()["error"]["fields"]["file"][0]
    not_excel = client.post("/v1/audits", files={"file": ("book.xlsx", b"not a zip", "application/octet-stream")})
    assert not_excel.status_code == 422
    no_file = client.post("/v1/audits", data={"as_at": "2026-01-01"})
    assert no_file.status_code == 422 and "file" in no_file.json()["error"]["fields"]


def test_oversized_upload_is_refused_with_413(sqlite_url):
    with make_client(sqlite_url, max_upload_bytes=10_000) as small:
        big = csv_book(EXAMPLES * 40)
        assert len(big) > 10_000
        response = small.post("/v1/audits", files={"file": ("book.csv", big, "text/csv")})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"


def test_audit_formats_column_map_lists_and_downloads(client):
    rows = [
        {("Client Ref" if k == "placement_id" else k.replace("_", " ").title()): v for k, v in r.items()}
        for r in EXAMPLES
    ]
    body = csv_book(rows)
    mapping = b"placement_id: [Client Ref]\n"
    answer = client.post(
        "/v1/audits", files={"file": ("book.csv", body, "text/csv"), "columns": ("map.yaml", mapping, "text/yaml")}
    ).json()
    assert [row["placement_id"] for row in answer["results"]] == [item["placement_id"] for item in EXAMPLES]
    isp = next(k for k in answer["summary"]["kpis"] if k["id"] == "isp_no_nhs_contribution")
    assert answer["lists"]["isp_no_nhs_contribution"]["count"] == isp["value"]
    assert set(answer["downloads"]) >= {"results.xlsx", "results.csv", "errors.csv", "report.html", "refer.csv"}
    workbook = client.get(answer["downloads"]["results.xlsx"])
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    assert client.get(f"/v1/audits/{answer['audit_id']}/files/secrets.txt").status_code == 404
    assert client.get("/v1/audits/nope/files/results.csv").status_code == 404
    for fmt, start in [("xlsx", b"PK"), ("csv", b'\xef\xbb\xbf"placement_id"'), ("html", b"<!doctype html>")]:
        got = client.post(
            "/v1/audits",
            files={"file": ("book.csv", body, "text/csv"), "columns": ("map.yaml", mapping, "text/yaml")},
            data={"format": fmt},
        )
        assert got.status_code == 200 and got.content.lstrip()[: len(start)].lower() == start.lower(), fmt


def test_audit_refuses_a_book_with_no_known_column_and_a_bad_column_map(client):
    unknown = client.post("/v1/audits", files={"file": ("book.csv", b"a,b\n1,2\n", "text/csv")})
    assert unknown.status_code == 422 and "no required column" in unknown.json()["error"]["fields"]["file"][0]
    bad_map = client.post(
        "/v1/audits",
        files={"file": ("book.csv", csv_book(EXAMPLES), "text/csv"), "columns": ("m.yaml", b"nope: [x]", "text/yaml")},
    )
    assert bad_map.status_code == 422 and "unknown field" in bad_map.json()["error"]["fields"]["columns"][0]


# ---- where the outputs are kept (issue 22): the database, for the user who ran the audit, for a while ----


def audit_as(client, headers: dict[str, str], **data: str):
    return client.post("/v1/audits", files={"file": ("book.csv", csv_book(EXAMPLES), "text/csv")}, data=data,
                       headers=headers)  # fmt: skip


def test_audit_downloads_are_the_auditors_own(database_url):
    """Only the user who ran the audit downloads its files; another finance officer gets the same 404 as for an
    audit that never existed; both see their own."""
    from conftest import add_user

    with make_client(database_url) as client:
        first, second = add_user(client, "fin-one", "finance"), add_user(client, "fin-two", "finance")
        answer = audit_as(client, first).json()
        assert answer["downloads"]
        for name, link in answer["downloads"].items():
            mine = client.get(link, headers=first)
            assert mine.status_code == 200 and mine.content, name
            theirs = client.get(link, headers=second)
            assert theirs.status_code == 404, name
            assert theirs.json() == client.get(f"/v1/audits/{'x' * 24}/files/{name}", headers=second).json()
        other = audit_as(client, second).json()
        assert client.get(other["downloads"]["results.csv"], headers=second).status_code == 200
        assert client.get(other["downloads"]["results.csv"], headers=first).status_code == 404


def test_audit_downloads_are_deleted_after_the_retention_period(sqlite_url):
    from datetime import timedelta

    from conftest import FIXED_NOW
    from sqlalchemy import text

    from api.main import create_app
    from api.serve.settings import Settings

    now = [FIXED_NOW]
    settings = Settings(database_url=sqlite_url, allowed_hosts=["testserver"], audit_retention_days=7)
    with TestClient(create_app(settings, clock=lambda: now[0])) as client:
        answer = audit_as(client, {}).json()
        link = answer["downloads"]["results.xlsx"]
        now[0] = FIXED_NOW + timedelta(days=7) - timedelta(seconds=1)
        assert client.get(link).status_code == 200
        now[0] = FIXED_NOW + timedelta(days=7)
        assert client.get(link).status_code == 404
        engine = client.app.state.log.engine  # type: ignore[attr-defined]
        with engine.connect() as connection:
            count = text("SELECT count(*) FROM audit_results WHERE audit_id = :id")
            assert connection.execute(count, {"id": answer["audit_id"]}).scalar() > 0
            audit_as(client, {})  # the next audit deletes what has expired
            assert connection.execute(count, {"id": answer["audit_id"]}).scalar() == 0


def test_a_users_oldest_audits_go_beyond_the_most_kept(sqlite_url):
    from datetime import timedelta

    from conftest import FIXED_NOW

    from api.main import create_app
    from api.serve.settings import Settings

    now = [FIXED_NOW]
    settings = Settings(database_url=sqlite_url, allowed_hosts=["testserver"], audit_results_per_user=2)
    with TestClient(create_app(settings, clock=lambda: now[0])) as client:
        links = []
        for minutes in range(3):
            now[0] = FIXED_NOW + timedelta(minutes=minutes)
            links.append(audit_as(client, {}).json()["downloads"]["kpis.json"])
        assert [client.get(link).status_code for link in links] == [404, 200, 200]


def test_audits_leave_nothing_in_the_temporary_folder(sqlite_url, tmp_path, monkeypatch):
    """The upload and the outputs are written to a temporary folder deleted when the request ends: after a JSON
    audit, a file answer and a book that cannot be read, the temporary folder is empty."""
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    with make_client(sqlite_url) as client:
        assert audit_as(client, {}).status_code == 200
        assert audit_as(client, {}, format="csv").status_code == 200
        assert client.post("/v1/audits", files={"file": ("book.csv", b"a,b\n1,2\n", "text/csv")}).status_code == 422
        assert list(scratch.iterdir()) == []


def test_a_large_audits_downloads_come_back_whole(sqlite_url):
    """A book whose results.csv is several parts: the download is byte for byte what the library writes."""
    from engine.audit.outputs.write import write_outputs

    rows = [{**EXAMPLES[index % len(EXAMPLES)], "placement_id": f"P-{index:06d}"} for index in range(12_000)]
    body = csv_book(rows)
    with make_client(sqlite_url) as client:
        answer = client.post("/v1/audits", files={"file": ("book.csv", body, "text/csv")}, data={"results_limit": "0"})
        assert answer.status_code == 200
        got = client.get(answer.json()["downloads"]["results.csv"])
        assert got.status_code == 200 and int(got.headers["content-length"]) == len(got.content) > 1 << 20
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "book.csv").write_bytes(body)
        outputs = write_outputs(run_audit(Path(folder) / "book.csv"), Path(folder) / "out")
        written = {path.name: path for path in outputs.values()}
        assert got.content == written["results.csv"].read_bytes()


def test_a_book_as_parquet_or_utf16_text_is_audited_as_the_same_book_as_csv(client, tmp_path):
    """The upload takes the formats load_book reads (issue 28): a Parquet book and Excel's UTF-16 "Unicode text"
    give the summary the CSV gives."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{key: "" if value is None else str(value) for key, value in item.items()} for item in EXAMPLES]
    frame = pd.DataFrame(rows)
    expected = client.post("/v1/audits", files={"file": ("book.csv", csv_book(rows), "text/csv")}).json()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "book.parquet")
    text = "\ufeff" + frame.to_csv(index=False, sep="\t", lineterminator="\r\n")
    for name, body in [
        ("book.parquet", (tmp_path / "book.parquet").read_bytes()),
        ("book.txt", text.encode("utf-16-le")),
    ]:
        got = client.post("/v1/audits", files={"file": (name, body, "application/octet-stream")})
        assert got.status_code == 200, got.text
        summary, want = got.json()["summary"], expected["summary"]
        assert {k: v for k, v in summary.items() if k != "notes"} == {k: v for k, v in want.items() if k != "notes"}


def test_an_upload_by_quarter_gives_the_kpi_series_and_a_bad_by_is_a_422(client, tmp_path):
    body = csv_book(EXAMPLES)
    (tmp_path / "book.csv").write_bytes(body)
    data = {"as_at": "2026-08-01", "by": "quarter"}
    response = client.post("/v1/audits", files={"file": ("book.csv", body, "text/csv")}, data=data)
    assert response.status_code == 200
    expected = run_audit(tmp_path / "book.csv", as_at=__import__("datetime").date(2026, 8, 1), by="quarter")
    series = response.json(parse_float=Decimal)["summary"]["series"]
    assert series == json.loads(dumps(expected.summary()["series"], indent=None), parse_float=Decimal)
    assert [p["end"] for p in series["periods"]][-1] == "2026-08-01" and len(series["periods"]) == 4
    bad = client.post("/v1/audits", files={"file": ("book.csv", body, "text/csv")}, data={"by": "week"})
    assert bad.status_code == 422 and "by" in json.dumps(bad.json())
