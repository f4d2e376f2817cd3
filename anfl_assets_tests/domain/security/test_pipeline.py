"""The scan step of the security pipeline on one chunk of files (`_scan_chunk`, what a worker runs)."""

from __future__ import annotations

import os

from anfl_assets.domain.security.pipeline import _scan_chunk


def test_an_unreadable_file_still_gets_its_name_only_findings(tmp_path):
    """A key file that cannot be read (here: gone between planning and reading) is reported by its
    name, with the read error beside it, not skipped."""
    (tmp_path / "deploy").mkdir()
    rows = [("deploy/id_rsa", None, 1679, "text", True, "other", None)]  # listed, then deleted
    [(found, error)] = _scan_chunk((tmp_path, b"k" * 32, None, rows))
    assert error == "unreadable"
    assert [(f[0], f[1], f[2], f[4]) for f in found] == [
        ("deploy/id_rsa", "sensitive-file", "sensitive-file-private-key", "high")]


def test_a_secret_twice_in_one_file_is_one_finding_at_its_first_line(tmp_path):
    """The same key pasted at line 40 and line 3 of one file: one finding (its id names the file,
    not the line), reported at line 3 whatever order the matches were stored in."""
    import datetime as dt

    import pyarrow as pa

    from anfl_assets.domain.projects import Project
    from anfl_assets.domain.security.pipeline import derive_findings
    from anfl_assets.domain.warehouse import Warehouse, insert_rows

    wh = Warehouse(tmp_path / "warehouse.duckdb")
    match = {"project": "ops", "path": "deploy/env.sh", "source": "secret", "rule": "aws-access-key-id",
             "title": "AWS access key id", "severity": "critical", "confidence": "high", "col": 8,
             "context": "text", "fingerprint": "f" * 32, "redacted": "AKIA****", "allowed_inline": False}
    with wh.write() as con:
        insert_rows(con, "security.file_matches", pa.Table.from_pylist([{**match, "line": 40}, {**match, "line": 3}]))
    project = Project("ops", tmp_path, False, dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
    derive_findings(wh, project, now=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
    rows = wh.query("SELECT path, line FROM security.findings WHERE project = 'ops'").to_pylist()
    assert rows == [{"path": "deploy/env.sh", "line": 3}]


def test_an_archive_over_25_mb_is_still_scanned(tmp_path):
    """The scanner reads archives up to 64 MiB; the pipeline reads what the scanner takes (it once
    cut every file at 25 MB, so a 30 MB release bundle with a key in it went unscanned)."""
    import zipfile

    key = "AKIA" + "QX7R2M4V6B3N5C7Z"  # an AWS access key id in its real format
    bundle = tmp_path / "release" / "bundle.zip"
    bundle.parent.mkdir()
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as z:
        z.writestr("assets/blob.bin", os.urandom(30_000_000))
        z.writestr("config/deploy.env", f"AWS_ACCESS_KEY_ID={key}\nREGION=eu-west-1\n")
    size = bundle.stat().st_size
    assert size > 30_000_000
    rows = [("release/bundle.zip", None, size, "zip", False, "data", None)]
    [(found, error)] = _scan_chunk((tmp_path, b"k" * 32, None, rows))
    assert error is None
    assert [(f[0], f[2], f[9]) for f in found if f[1] == "secret"] == [
        ("release/bundle.zip", "aws-access-key-id", "config/deploy.env")]
    assert key not in repr(found)
