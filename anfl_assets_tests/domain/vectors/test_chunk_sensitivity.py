"""Chunk sensitivity: the file's level, raised by the unsuppressed findings on the chunk's lines."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from anfl_assets.domain.vectors.pipeline import refresh_chunk_sensitivity
from anfl_assets.domain.warehouse import Warehouse, insert_rows

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def _chunk(cid: str, path: str, start: int, end: int) -> dict:
    return {"project": "ops", "chunk_id": cid, "index_name": "config", "path": path, "start_line": start,
            "end_line": end, "content_hash": cid, "tokens": 10, "file_level": "restricted",
            "sensitivity": "restricted", "sensitivity_rank": 3, "text": "[REDACTED:private-key]"}


def _finding(fid: str, path: str, line: int, end_line: int | None, severity: str, suppressed: bool = False) -> dict:
    return {"project": "ops", "finding_id": fid, "source": "secret", "rule": "private-key", "severity": severity,
            "path": path, "line": line, "end_line": end_line, "location": "file", "fingerprint": fid,
            "suppressed": suppressed, "first_seen_at": NOW, "is_new": True}


def test_every_line_of_a_multi_line_secret_raises_its_chunks(tmp_path):
    """A PEM key on lines 18-26 of a file cut into chunks of ten lines: the chunk holding its
    first line and the one holding only its tail are both restricted; the chunks before and after
    keep the file's level, and so does a chunk whose only finding is suppressed."""
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    chunks = [_chunk(f"c{i}", "deploy/bootstrap.sh", 10 * i + 1, 10 * i + 10) for i in range(4)]
    chunks.append(_chunk("other", "deploy/notes.sh", 1, 10))
    findings = [_finding("pem", "deploy/bootstrap.sh", 18, 26, "critical"),
                _finding("allowed", "deploy/notes.sh", 2, 6, "critical", suppressed=True)]
    with wh.write() as con:
        insert_rows(con, "vectors.chunks", pa.Table.from_pylist(chunks))
        insert_rows(con, "security.findings", pa.Table.from_pylist(findings))
        insert_rows(con, "security.file_sensitivity", pa.Table.from_pylist([
            {"project": "ops", "path": p, "level": "internal", "path_rule": None, "ruleset_version": "1"}
            for p in ("deploy/bootstrap.sh", "deploy/notes.sh")]))

    counts = refresh_chunk_sensitivity(wh, "ops")

    levels = {r["chunk_id"]: r["sensitivity"] for r in
              wh.query("SELECT chunk_id, sensitivity FROM vectors.chunks").to_pylist()}
    assert levels == {"c0": "internal", "c1": "restricted", "c2": "restricted", "c3": "internal",
                      "other": "internal"}
    assert counts == {"internal": 3, "restricted": 2}
    file_levels = {r["file_level"] for r in wh.query("SELECT file_level FROM vectors.chunks").to_pylist()}
    assert file_levels == {"internal"}
