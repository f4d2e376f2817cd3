"""The scan step of the security pipeline on one chunk of files (`_scan_chunk`, what a worker runs)."""

from __future__ import annotations

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
