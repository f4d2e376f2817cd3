"""Incremental file inventory: what `refresh_file_inventory` reads, records and skips.

Each test scans a real tree in a temporary folder into a real DuckDB warehouse
and checks the rows and the counters against facts computed here independently
(sizes from the test's own bytes, checksums with `blake3` directly).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from blake3 import blake3

from anfl_assets.domain.inventory import FILES_SCHEMA, refresh_file_inventory
from anfl_assets.domain.inventory_checks import count_files_on_disk
from anfl_assets.domain.warehouse import Warehouse

GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}

PROJECT_FILES = {
    "README.md": b"# Forecasting\n\nDaily demand models.\n",
    "src/forecast/__init__.py": b"",
    "src/forecast/model.py": b"import numpy as np\n\n\ndef fit(x):\n    return np.mean(x)\n",
    "src/forecast/features.py": b"LAGS = [1, 7, 28]\n" * 40,
    "configs/train.yaml": b"epochs: 20\nlr: 0.001\n",
    "data/sample.csv": b"date,demand\n" + b"".join(b"2024-01-%02d,%d\n" % (d, d * 13) for d in range(1, 29)),
    "models/weights.bin": bytes(range(256)) * 300,
}


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def rows_by_path(table) -> dict[str, dict]:
    """Rows keyed by path; `mtime` (ns timestamp), `recorded_at` (changes every scan) and the
    stored `changed_seq` and `content_seq` (the change clock's stamps, tested on their own) left out."""
    drop = [c for c in ("mtime", "recorded_at", "changed_seq", "content_seq") if c in table.column_names]
    return {r["path"]: r for r in table.drop_columns(drop).to_pylist()}


def stored_rows(wh: Warehouse, project: str) -> dict[str, dict]:
    return rows_by_path(wh.query("SELECT * FROM inventory.files WHERE project = ?", [project]))


def assert_checksums(rows: dict[str, dict], root: Path) -> None:
    """Every regular file's size and blake3 equal the bytes on disk now."""
    for path, row in rows.items():
        if row["kind"] == "file":
            data = (root / path).read_bytes()
            assert (row["size"], row["blake3"]) == (len(data), b3(data)), path


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(tmp_path / "warehouse" / "anfl.duckdb")


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "forecasting"
    write_tree(root, PROJECT_FILES)
    return root


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=Ada", "-c", "user.email=ada@example.com",
                    "-c", "commit.gpgsign=false", *args], check=True, capture_output=True, env=GIT_ENV)


def test_first_scan_reads_every_byte(warehouse, project):
    """A first scan opens every file once and stores correct checksums for all of them."""
    result = refresh_file_inventory(warehouse, "forecast", project)
    s = result.stats
    total = sum(len(d) for d in PROJECT_FILES.values())
    assert (s.files, s.entries, s.new, s.changed, s.deleted, s.unchanged) == (7, 7, 7, 0, 0, 0)
    assert (s.files_read, s.bytes_read, s.bytes, s.errors) == (7, total, total, 0)
    rows = stored_rows(warehouse, "forecast")
    assert set(rows) == set(PROJECT_FILES)
    assert_checksums(rows, project)
    assert result.table.schema == FILES_SCHEMA
    assert rows["src/forecast/__init__.py"]["file_type"] == "empty"
    assert rows["models/weights.bin"]["file_type"] == "binary"
    assert rows["src/forecast/model.py"]["file_type"] == "python"
    assert rows["data/sample.csv"]["line_count"] == 29


def test_unchanged_rescan_reads_nothing(warehouse, project):
    """With nothing changed, a re-scan opens no file and stores the same rows."""
    first = refresh_file_inventory(warehouse, "forecast", project)
    second = refresh_file_inventory(warehouse, "forecast", project)
    s = second.stats
    assert (s.bytes_read, s.files_read) == (0, 0)
    assert (s.unchanged, s.new, s.changed, s.deleted) == (s.files, 0, 0, 0) == (7, 0, 0, 0)
    assert rows_by_path(second.table) == rows_by_path(first.table)
    assert stored_rows(warehouse, "forecast") == rows_by_path(first.table)


def test_modify_add_delete_reads_exactly_what_changed(warehouse, project):
    """One file modified, one added, one deleted: counters say so and only those bytes are read."""
    refresh_file_inventory(warehouse, "forecast", project)
    modified = project / "configs/train.yaml"
    modified.write_bytes(b"epochs: 40\nlr: 0.0005\nwarmup: 500\n")
    added = project / "src/forecast/evaluate.py"
    added.write_bytes(b"def mape(y, yhat):\n    return abs((y - yhat) / y).mean()\n")
    (project / "data/sample.csv").unlink()

    s = refresh_file_inventory(warehouse, "forecast", project).stats
    assert (s.new, s.changed, s.deleted, s.unchanged, s.files) == (1, 1, 1, 5, 7)
    assert s.files_read == 2
    assert s.bytes_read == modified.stat().st_size + added.stat().st_size
    rows = stored_rows(warehouse, "forecast")
    assert "data/sample.csv" not in rows
    assert {"configs/train.yaml", "src/forecast/evaluate.py"} <= set(rows)
    assert_checksums(rows, project)
    assert rows["configs/train.yaml"]["line_count"] == 3


def test_the_change_clock_stamps_written_rows_and_records_removed_paths(warehouse, project):
    """What later steps plan from: each refresh advances the clock, stamps exactly the rows it
    wrote, and records the paths it removed; an unchanged re-scan stamps nothing."""
    def stamps() -> dict[str, int]:
        return {r["path"]: r["changed_seq"] for r in warehouse.query(
            "SELECT path, changed_seq FROM inventory.files WHERE project = 'forecast'").to_pylist()}

    def clock() -> int:
        return warehouse.query("SELECT seq FROM inventory.change_clock").to_pylist()[0]["seq"]

    refresh_file_inventory(warehouse, "forecast", project)
    first = clock()
    assert set(stamps().values()) == {first}
    refresh_file_inventory(warehouse, "forecast", project)
    assert clock() == first + 1 and set(stamps().values()) == {first}  # nothing written, nothing stamped
    (project / "configs/train.yaml").write_bytes(b"epochs: 40\n")
    (project / "src/forecast/evaluate.py").write_bytes(b"def mape(y, yhat):\n    return 0\n")
    (project / "data/sample.csv").unlink()
    refresh_file_inventory(warehouse, "forecast", project)
    now = clock()
    assert {p for p, seq in stamps().items() if seq > first} == {"configs/train.yaml", "src/forecast/evaluate.py"}
    assert warehouse.query("SELECT path, seq FROM inventory.removed_files").to_pylist() == [
        {"path": "data/sample.csv", "seq": now}]
    # a touched file (new mtime, same bytes) is rewritten, but its content stamp stays
    def content_stamps() -> dict[str, int]:
        return {r["path"]: r["content_seq"] for r in warehouse.query(
            "SELECT path, content_seq FROM inventory.files WHERE project = 'forecast'").to_pylist()}

    assert content_stamps()["configs/train.yaml"] == now and content_stamps()["README.md"] == first
    st = (project / "README.md").stat()
    os.utime(project / "README.md", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    refresh_file_inventory(warehouse, "forecast", project)
    assert stamps()["README.md"] == clock() and content_stamps()["README.md"] == first
    (project / "README.md").write_bytes(b"# Forecasting, weekly\n")
    refresh_file_inventory(warehouse, "forecast", project)
    assert stamps()["README.md"] == content_stamps()["README.md"] == clock()
    # rows written before the clock existed (an older warehouse) count as changed at the next refresh
    with warehouse.write() as con:
        con.execute("UPDATE inventory.files SET changed_seq = NULL WHERE path = 'README.md'")
    refresh_file_inventory(warehouse, "forecast", project)
    assert stamps()["README.md"] == clock()
    # a removal record goes once every step's plan mark is past it
    with warehouse.write() as con:
        con.execute("INSERT INTO enrich.plan_marks VALUES ('forecast', 'classify', 'k', ?)", [now])
    refresh_file_inventory(warehouse, "forecast", project)
    assert warehouse.query("SELECT count(*) AS n FROM inventory.removed_files").to_pylist() == [{"n": 0}]


def test_touching_mtime_rereads_only_that_file(warehouse, project):
    """A new mtime with the same bytes re-reads that one file; checksum stays, mtime_ns moves."""
    refresh_file_inventory(warehouse, "forecast", project)
    before = stored_rows(warehouse, "forecast")["src/forecast/model.py"]
    target = project / "src/forecast/model.py"
    new_mtime = before["mtime_ns"] + 3_600 * 10**9
    os.utime(target, ns=(new_mtime, new_mtime))

    s = refresh_file_inventory(warehouse, "forecast", project).stats
    assert (s.files_read, s.bytes_read, s.changed, s.unchanged) == (1, target.stat().st_size, 1, 6)
    after = stored_rows(warehouse, "forecast")["src/forecast/model.py"]
    assert after["mtime_ns"] == new_mtime
    assert after["blake3"] == before["blake3"] == b3(target.read_bytes())


def test_git_internals_never_appear(warehouse, project):
    """Nothing under .git/ is inventoried; dot-files and .github/ next to it are."""
    git(project, "init", "-q", "-b", "main")
    write_tree(project, {".gitignore": b"*.tmp\n", ".github/workflows/ci.yml": b"on: push\n"})
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "init")
    assert any((project / ".git").rglob("*"))

    result = refresh_file_inventory(warehouse, "forecast", project)
    paths = set(rows_by_path(result.table))
    assert not [p for p in paths if p == ".git" or p.startswith(".git/")]
    assert {".gitignore", ".github/workflows/ci.yml"} <= paths
    assert paths == set(PROJECT_FILES) | {".gitignore", ".github/workflows/ci.yml"}
    assert count_files_on_disk(project) == result.stats.entries


def test_anflignore_and_extra_ignores_exclude_files(warehouse, project):
    """`.anflignore` (gitignore syntax, comments, negation) and extra globs keep files out."""
    write_tree(project, {
        ".anflignore": b"# build outputs\nbuild/\n*.tmp\n!keep.tmp\n",
        "build/lib/forecast/model.py": b"# copy\n",
        "scratch.tmp": b"scratch\n",
        "keep.tmp": b"kept on purpose\n",
        "checkpoints/epoch1.ckpt": b"\x00" * 100,
        "data/raw/2024.csv": b"a,b\n1,2\n",
    })
    extra = ("*.ckpt", "data/raw/")
    result = refresh_file_inventory(warehouse, "forecast", project, extra_ignores=extra)
    paths = set(rows_by_path(result.table))
    assert paths == set(PROJECT_FILES) | {".anflignore", "keep.tmp"}
    assert count_files_on_disk(project, extra) == len(paths)
    without_extra = refresh_file_inventory(warehouse, "forecast", project)
    assert {"checkpoints/epoch1.ckpt", "data/raw/2024.csv"} <= set(rows_by_path(without_extra.table))
    assert without_extra.stats.new == 2


def test_rescanning_one_project_leaves_another_untouched(warehouse, project, tmp_path):
    """Two projects share a warehouse: re-scanning one never changes or counts the other's rows."""
    other = tmp_path / "billing"
    write_tree(other, {"invoice.py": b"TOTAL = 0\n", "README.md": b"# Billing\n"})
    refresh_file_inventory(warehouse, "forecast", project)
    refresh_file_inventory(warehouse, "billing", other)
    billing_before = stored_rows(warehouse, "billing")

    (project / "README.md").write_bytes(b"# Forecasting v2\n")
    (project / "data/sample.csv").unlink()
    s = refresh_file_inventory(warehouse, "forecast", project).stats
    assert (s.changed, s.deleted, s.new) == (1, 1, 0)
    assert stored_rows(warehouse, "billing") == billing_before
    assert set(billing_before) == {"invoice.py", "README.md"}
    counts = warehouse.query("SELECT project, count(*) AS n FROM inventory.files GROUP BY project ORDER BY project")
    assert counts.to_pydict() == {"project": ["billing", "forecast"], "n": [2, 6]}


def test_git_status_tracked_untracked_ignored(warehouse, tmp_path):
    """git_status per file from a real repository with a .gitignore; a sub-folder project agrees."""
    repo = tmp_path / "webapp"
    write_tree(repo, {
        ".gitignore": b"node_modules/\n*.log\n",
        "package.json": b'{"name": "webapp"}\n',
        "src/index.js": b"console.log('hi')\n",
        "src/util.js": b"export const one = 1\n",
        "vendor/keep.log": b"forced\n",
    })
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".gitignore", "package.json", "src")
    git(repo, "add", "-f", "vendor/keep.log")
    git(repo, "commit", "-q", "-m", "init")
    write_tree(repo, {
        "node_modules/left-pad/index.js": b"module.exports = s => s\n",
        "node_modules/left-pad/package.json": b"{}\n",
        "debug.log": b"trace\n",
        "src/server.log": b"listening\n",
        "src/new_feature.js": b"// wip\n",
        "notes/todo.md": b"- ship\n",
    })

    rows = rows_by_path(refresh_file_inventory(warehouse, "webapp", repo).table)
    assert {p: r["git_status"] for p, r in rows.items()} == {
        ".gitignore": "tracked", "package.json": "tracked", "src/index.js": "tracked",
        "src/util.js": "tracked", "vendor/keep.log": "tracked",
        "node_modules/left-pad/index.js": "ignored", "node_modules/left-pad/package.json": "ignored",
        "debug.log": "ignored", "src/server.log": "ignored",
        "src/new_feature.js": "untracked", "notes/todo.md": "untracked",
    }
    sub = rows_by_path(refresh_file_inventory(warehouse, "webapp-src", repo / "src").table)
    assert {p: r["git_status"] for p, r in sub.items()} == {
        "index.js": "tracked", "util.js": "tracked", "server.log": "ignored", "new_feature.js": "untracked"}


def test_no_git_status_outside_a_repository(warehouse, project):
    """A plain folder has NULL git_status, not 'untracked'."""
    rows = rows_by_path(refresh_file_inventory(warehouse, "forecast", project).table)
    assert {r["git_status"] for r in rows.values()} == {None}


@pytest.mark.parametrize("data, lines", [
    (b"one\ntwo\nthree", 3),
    (b"one\ntwo\nthree\n", 3),
    (b"single line without newline", 1),
    (b"\n", 1),
    (b"\n\n\n", 3),
    (b"windows\r\nline endings\r\n", 2),
    (b"".join(b"row %06d\n" % i for i in range(200_000)) + b"tail", 200_001),
], ids=["no-final-newline", "final-newline", "one-line", "only-newline", "blank-lines", "crlf",
        "multi-chunk-2MB"])
def test_line_count(warehouse, tmp_path, data, lines):
    """Lines as editors count them: a last line without newline counts, across read chunks too."""
    root = tmp_path / "p"
    write_tree(root, {"notes.txt": data})
    row = rows_by_path(refresh_file_inventory(warehouse, "p", root).table)["notes.txt"]
    assert (row["line_count"], row["is_text"], row["blake3"]) == (lines, True, b3(data))


def test_binary_and_empty_files_have_no_line_count(warehouse, project):
    """line_count is NULL for binary and for empty files."""
    rows = rows_by_path(refresh_file_inventory(warehouse, "forecast", project).table)
    assert rows["models/weights.bin"]["line_count"] is None
    assert rows["src/forecast/__init__.py"]["line_count"] is None


ENCODED = {
    "ascii.txt": ("plain ascii text\n", "ascii"),
    "utf8.txt": ("naïve café, 学习率\n", "utf-8"),
    "utf8_bom.txt": ("naïve café, 学习率\n", "utf-8-sig"),
    "utf16.txt": ("naïve café, 学习率\n", "utf-16"),
    "latin1.txt": ("Prix : 12 francs pour le café crème brûlée\n", "latin-1"),
}


def test_encoding_detection(warehouse, tmp_path):
    """ascii, utf-8, BOM-marked utf-8 and utf-16, and latin-1 text reported as '8bit'; all text."""
    root = tmp_path / "p"
    write_tree(root, {name: text.encode(codec) for name, (text, codec) in ENCODED.items()})
    rows = rows_by_path(refresh_file_inventory(warehouse, "p", root).table)
    assert {p: (r["encoding"], r["is_text"]) for p, r in rows.items()} == {
        "ascii.txt": ("ascii", True), "utf8.txt": ("utf-8", True), "utf8_bom.txt": ("utf-8-sig", True),
        "utf16.txt": ("utf-16", True), "latin1.txt": ("8bit", True)}
    assert_checksums(rows, root)
    assert rows["utf8.txt"]["line_count"] == 1


@pytest.mark.parametrize("codec, encoding", [("utf-16", "utf-16"), ("utf-16-be", "utf-16"),
                                             ("utf-32", "utf-32")])
def test_utf16_and_utf32_line_count(warehouse, tmp_path, codec, encoding):
    """BOM-marked UTF-16/32 text counts lines like any other text, final line without newline too.

    Regression: newlines were only counted when the head had no NUL byte (line_count was 1)."""
    root = tmp_path / "p"
    bom = {"utf-16-be": "\ufeff"}.get(codec, "")
    write_tree(root, {"strings.txt": (bom + "un\ndeux\ntrois\n").encode(codec),
                      "open.txt": (bom + "un\ndeux\ntrois").encode(codec)})
    rows = rows_by_path(refresh_file_inventory(warehouse, "p", root).table)
    assert {p: (r["encoding"], r["is_text"], r["line_count"]) for p, r in rows.items()} == {
        "strings.txt": (encoding, True, 3), "open.txt": (encoding, True, 3)}


def test_file_replaced_by_symlink_drops_old_content_facts(warehouse, project):
    """When a file becomes a symlink, its row carries no checksum or text facts of the old file.

    Regression: the previous file's prev_* content columns were copied onto the symlink row."""
    refresh_file_inventory(warehouse, "forecast", project)
    target = project / "configs/train.yaml"
    target.unlink()
    target.symlink_to("../README.md")
    result = refresh_file_inventory(warehouse, "forecast", project)
    row = rows_by_path(result.table)["configs/train.yaml"]
    assert (row["kind"], row["file_type"], row["symlink_status"]) == ("symlink", "symlink", "ok")
    assert (row["blake3"], row["mime"], row["is_text"], row["encoding"], row["line_count"]) == \
        (None, None, None, None, None)


def test_delta_writes_leave_stored_rows_equal_to_a_full_scan(warehouse, project):
    """Only differing rows are rewritten, yet the stored inventory always equals the scan result,
    including git status changes and deletions; an unchanged re-scan writes no file row."""
    first = refresh_file_inventory(warehouse, "p", project)
    assert first.stats.rows_written == len(PROJECT_FILES)
    again = refresh_file_inventory(warehouse, "p", project)
    assert again.stats.rows_written == 0
    assert stored_rows(warehouse, "p") == rows_by_path(again.table)

    git(project, "init", "-q")
    git(project, "add", "README.md")
    (project / "data/sample.csv").unlink()
    (project / "configs/train.yaml").write_bytes(b"epochs: 30\nlr: 0.001\n")
    (project / "NOTES.txt").write_bytes(b"new\n")
    third = refresh_file_inventory(warehouse, "p", project)
    stored = stored_rows(warehouse, "p")
    assert stored == rows_by_path(third.table)
    assert "data/sample.csv" not in stored and stored["NOTES.txt"]["git_status"] == "untracked"
    assert stored["README.md"]["git_status"] == "tracked"
    # Git status changed for every row, so all present rows were rewritten once.
    assert third.stats.rows_written == len(stored)
    assert refresh_file_inventory(warehouse, "p", project).stats.rows_written == 0
    runs = warehouse.query("SELECT count(*) AS n FROM inventory.scan_runs WHERE project = 'p'").to_pylist()
    assert runs == [{"n": 4}]


def test_vectorised_extension_rule_matches_extension_of():
    """The Arrow regex that fills `extension` agrees with `sniff.extension_of` on tricky names."""
    import pyarrow as pa

    from anfl_assets.domain.inventory import _extensions
    from anfl_assets.domain.sniff import extension_of

    names = ["a.py", "dir.d/Makefile", ".gitignore", ".env.local", "archive.tar.GZ", "x/...hidden",
             "trailing.", "deep/a.b/c.d.e", "Dockerfile.prod", "noext", "x/.bashrc", "..x.y", "Ünïcode.TXT"]
    assert _extensions(pa.array(names)).to_pylist() == [extension_of(n) for n in names]


def test_worker_processes_record_the_same_rows_as_threads(tmp_path, monkeypatch):
    """Big reads go to worker processes; every row they give equals an in-process read of the
    same tree: text, binary, empty, multi-chunk, UTF-16 and a non-UTF-8 name."""
    from anfl_assets.domain import hashing
    from anfl_assets.domain.inventory import build_inventory

    root = tmp_path / "p"
    write_tree(root, {**PROJECT_FILES, "logs/big.log": b"2024-05-01 GET /health 200\n" * 90_000,
                      "empty.txt": b"", "notes/utf16.txt": "un\ndeux\ntrois".encode("utf-16")})
    with open(os.path.join(os.fsencode(root), b"caf\xe9-menu.txt"), "wb") as fh:
        fh.write(b"espresso\n")
    started = []

    real_pool = hashing.worker_pool

    def recording_pool(workers):
        started.append(workers)
        return real_pool(workers)

    monkeypatch.setattr(hashing, "worker_pool", recording_pool)
    monkeypatch.setattr(hashing, "PROCESS_MIN_FILES", 1)
    monkeypatch.setattr(hashing, "BATCH_FILES", 3)  # several batches, so several tasks
    in_process = build_inventory("p", root, processes=1)
    assert started == []
    pooled = build_inventory("p", root, processes=2)
    assert started == [2]
    assert pooled.stats.bytes_read == in_process.stats.bytes_read == sum(
        (root / r).stat().st_size for r in PROJECT_FILES) + 27 * 90_000 + 9 + len("un\ndeux\ntrois".encode("utf-16"))
    assert rows_by_path(pooled.table) == rows_by_path(in_process.table)
    rows = rows_by_path(pooled.table)
    assert rows["logs/big.log"]["line_count"] == 90_000 and rows["notes/utf16.txt"]["line_count"] == 3
    assert_checksums({p: r for p, r in rows.items() if r["path_raw"] is None}, root)


def test_small_read_is_not_worth_worker_processes():
    """A re-scan with a few changed files stays in the process (starting workers costs more)."""
    from anfl_assets.domain.hashing import use_processes

    assert use_processes(0, 12, 40_000) == 0
    assert use_processes(1, 100_000, 10 << 30) == 0  # 1 = never
    assert use_processes(3, 100_000, 10 << 30) == 3
    assert use_processes(0, 100_000, 10 << 30) == (0 if (os.cpu_count() or 1) == 1 else min(4, os.cpu_count()))


def test_short_reads_still_hash_the_whole_file(tmp_path, monkeypatch):
    """A file system that returns fewer bytes than asked (NFS, FUSE) still gives the checksum and
    line count of the whole file, not of its first read."""
    from anfl_assets.domain import hashing

    data = b"".join(b"line %04d of a config dump\n" % i for i in range(400))
    path = tmp_path / "dump.txt"
    path.write_bytes(data)
    real_read = os.read
    monkeypatch.setattr(hashing.os, "read", lambda fd, n: real_read(fd, min(n, 1000)))
    facts = hashing.read_content(os.fsencode(path))
    assert (facts.error, facts.blake3, facts.bytes_read, facts.newlines) == (None, b3(data), len(data), 400)
