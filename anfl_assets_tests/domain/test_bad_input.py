"""Hostile trees: the scan never stops, and every odd entry becomes a row with a clear status.

Unreadable files and folders, every kind of broken symlink, names that are not
UTF-8, files that vanish, grow or change under the scanner, FIFOs, sockets and
devices, empty, sparse, random and mislabelled files. Checksums are computed here
with `blake3` directly; counts are checked against `count_files_on_disk`.
"""

from __future__ import annotations

import array
import errno
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
import traceback
import zlib
from pathlib import Path

import pytest
from blake3 import blake3

from anfl_assets.domain import inventory, walk
from anfl_assets.domain.hashing import read_content
from anfl_assets.domain.inventory import build_inventory, refresh_file_inventory
from anfl_assets.domain.inventory_checks import count_files_on_disk
from anfl_assets.domain.warehouse import Warehouse

NOBODY = 65534
EACCES = "EACCES: Permission denied"


def b3(data: bytes) -> str:
    return blake3(data).hexdigest()


def write(root: Path, rel: str | bytes, data: bytes) -> bytes:
    """Create a file (parents too) under `root`; `rel` may be non-UTF-8 bytes. Returns the full path."""
    full = os.path.join(os.fsencode(root), os.fsencode(rel))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as fh:
        fh.write(data)
    return full


def rows_by_path(table) -> dict[str, dict]:
    """Rows keyed by `path`, without `mtime` (ns timestamps do not convert) and `recorded_at`."""
    return {r["path"]: r for r in table.drop_columns(["mtime", "recorded_at"]).to_pylist()}


@pytest.fixture
def reads(monkeypatch) -> list[bytes]:
    """Every path the scan opens for reading, in order (wraps `read_many` as the scanner calls it)."""
    opened: list[bytes] = []
    real = inventory.read_many

    def recording(paths, sizes, *args, **kwargs):
        opened.extend(paths)
        return real(paths, sizes, *args, **kwargs)

    monkeypatch.setattr(inventory, "read_many", recording)
    return opened


# --- permissions ---------------------------------------------------------------------

class PublicTree:
    """A tree in a world-traversable temp dir (pytest's tmp_path is 0700), cleaned up after."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="anfl-perms-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.locked: list[Path] = []

    def add(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in [path.parent, *path.parent.parents]:
            if parent == self.root.parent:
                break
            os.chmod(parent, 0o755)
        path.write_bytes(data)
        os.chmod(path, 0o644)
        return path

    def lock(self, rel: str) -> None:
        """No permissions at all: neither readable nor listable for anyone but root."""
        os.chmod(self.root / rel, 0)
        self.locked.append(self.root / rel)

    def cleanup(self) -> None:
        for path in self.locked:
            os.chmod(path, 0o700)
        shutil.rmtree(self.root)


@pytest.fixture
def public_tree():
    tree = PublicTree()
    yield tree
    tree.cleanup()


def _scan_payload(root: Path) -> dict:
    result = build_inventory("estate", root, threads=2)
    return {"rows": result.table.drop_columns(["mtime", "recorded_at", "path_raw"]).to_pylist(),
            "errors": result.stats.errors, "on_disk": count_files_on_disk(root)}


def scan_without_privileges(root: Path) -> dict:
    """Scan `root` as a user that permission bits apply to: the rows (JSON-able), error count, recount.

    Root reads everything, so as root the scan runs in a child process that has switched to
    user nobody. The child is forked rather than a fresh `python -c`: this interpreter lives under
    /root (mode 0700), which nobody cannot execute. A scan in the parent first loads every
    lazily-imported module, so the child needs no file nobody cannot read."""
    if os.geteuid() != 0:
        return _scan_payload(root)
    _scan_payload(root)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        status = 1
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload = json.dumps(_scan_payload(root)).encode()
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0, "the scan as user nobody failed (see stderr)"
    return json.loads(data)


@pytest.mark.timeout(120)
def test_unreadable_file(public_tree):
    """A file that cannot be opened gets scan_error EACCES and no checksum; the rest is scanned."""
    files = {"notes.txt": b"meeting at 10\n", "data/report.csv": b"q,revenue\n1,100\n2,120\n"}
    for rel, data in files.items():
        public_tree.add(rel, data)
    public_tree.add("secret.key", b"-----BEGIN PRIVATE KEY-----\n")
    public_tree.lock("secret.key")

    scan = scan_without_privileges(public_tree.root)
    rows = {r["path"]: r for r in scan["rows"]}
    assert set(rows) == {"notes.txt", "data/report.csv", "secret.key"}
    secret = rows["secret.key"]
    assert (secret["kind"], secret["scan_error"], secret["blake3"], secret["size"]) == ("file", EACCES, None, 28)
    assert (secret["file_type"], secret["line_count"]) == (None, None)
    for rel, data in files.items():
        assert (rows[rel]["blake3"], rows[rel]["scan_error"]) == (b3(data), None)
    assert scan["errors"] == 1
    assert scan["on_disk"] == len(rows)


@pytest.mark.timeout(120)
def test_unreadable_directory(public_tree):
    """A folder that cannot be listed is one `directory` row with an error; the walk goes on."""
    public_tree.add("a_first.txt", b"first\n")
    public_tree.add("private/payroll.csv", b"name,salary\n")
    public_tree.add("zz_last/after.txt", b"after\n")
    public_tree.lock("private")

    scan = scan_without_privileges(public_tree.root)
    rows = {r["path"]: r for r in scan["rows"]}
    assert set(rows) == {"a_first.txt", "private", "zz_last/after.txt"}
    locked = rows["private"]
    assert (locked["kind"], locked["scan_error"], locked["size"], locked["blake3"]) == \
        ("directory", EACCES, None, None)
    assert rows["zz_last/after.txt"]["blake3"] == b3(b"after\n")
    assert rows["a_first.txt"]["scan_error"] is None
    assert scan["errors"] == 1
    assert scan["on_disk"] == len(rows)  # the recount also counts the unlistable folder once


# --- symlinks ------------------------------------------------------------------------

def test_symlinks_are_recorded_never_followed(tmp_path, reads):
    """ok, dangling, loop and outside_root links each get their status; no target is ever read."""
    root = tmp_path / "proj"
    write(root, "real.txt", b"the real thing\n")
    write(root, "docs/guide.md", b"# Guide\n")
    outside = tmp_path / "outside"
    write(outside, "credentials.txt", b"password=hunter2\n")
    links = {
        "good": "real.txt",
        "docs_link": "docs",
        "dangling": "missing.txt",
        "loop_a": "loop_b",
        "loop_b": "loop_a",
        "escape": "../outside/credentials.txt",
        "escape_abs": str(outside / "credentials.txt"),
        "escape_dir": str(outside),
    }
    for name, target in links.items():
        os.symlink(target, root / name)

    result = build_inventory("estate", root)
    rows = rows_by_path(result.table)
    assert set(rows) == set(links) | {"real.txt", "docs/guide.md"}  # nothing below docs_link/ or escape_dir/
    assert {name: rows[name]["symlink_status"] for name in links} == {
        "good": "ok", "docs_link": "ok", "dangling": "dangling", "loop_a": "loop", "loop_b": "loop",
        "escape": "outside_root", "escape_abs": "outside_root", "escape_dir": "outside_root"}
    for name, target in links.items():
        row = rows[name]
        assert (row["kind"], row["file_type"], row["symlink_target"]) == ("symlink", "symlink", target)
        assert (row["blake3"], row["line_count"], row["scan_error"]) == (None, None, None)
    assert sorted(os.path.basename(p) for p in reads) == [b"guide.md", b"real.txt"]
    assert result.stats.bytes_read == len(b"the real thing\n") + len(b"# Guide\n")
    assert count_files_on_disk(root) == result.stats.entries == len(rows)


# --- names ---------------------------------------------------------------------------

NON_UTF8 = {
    b"caf\xe9.txt": b"menu du jour\n",
    b"d\xe9j\xe0/inner.txt": b"inside a latin-1 named folder\n",
    "naïve.txt".encode(): b"utf-8 name\n",
    b"plain.txt": b"ascii name\n",
}


def test_non_utf8_names_keep_exact_bytes(tmp_path):
    """path_raw holds a non-UTF-8 name's exact bytes, path a readable escape; checksums hold."""
    root = tmp_path / "proj"
    for rel, data in NON_UTF8.items():
        write(root, rel, data)

    rows = rows_by_path(build_inventory("estate", root).table)
    assert rows["caf\\xe9.txt"]["path_raw"] == b"caf\xe9.txt"
    assert rows["d\\xe9j\\xe0/inner.txt"]["path_raw"] == b"d\xe9j\xe0/inner.txt"
    assert rows["naïve.txt"]["path_raw"] is None
    assert rows["plain.txt"]["path_raw"] is None
    for path, row in rows.items():
        raw = row["path_raw"] if row["path_raw"] is not None else path.encode()
        assert row["blake3"] == b3(NON_UTF8[raw]), path
        assert path.isprintable()
        path.encode("utf-8")  # storable as VARCHAR: no lone surrogates


def test_non_utf8_names_are_recognised_on_rescan(tmp_path):
    """Through the warehouse, a re-scan matches non-UTF-8 names to their stored rows and reads nothing."""
    root = tmp_path / "proj"
    for rel, data in NON_UTF8.items():
        write(root, rel, data)
    wh = Warehouse(tmp_path / "wh.duckdb")
    refresh_file_inventory(wh, "estate", root)
    s = refresh_file_inventory(wh, "estate", root).stats
    assert (s.unchanged, s.new, s.deleted, s.bytes_read) == (4, 0, 0, 0)


# --- files moving under the scanner --------------------------------------------------

def test_file_vanishing_before_read(tmp_path, monkeypatch):
    """A file deleted between the walk and the read is a row with 'vanished during scan'."""
    root = tmp_path / "proj"
    write(root, "keep.txt", b"still here\n")
    write(root, "tmp/doomed.part", b"partial download")
    real = inventory.read_many

    def delete_then_read(paths, sizes, *args, **kwargs):
        os.unlink(next(p for p in paths if p.endswith(b"/doomed.part")))
        return real(paths, sizes, *args, **kwargs)

    monkeypatch.setattr(inventory, "read_many", delete_then_read)
    result = build_inventory("estate", root)
    rows = rows_by_path(result.table)
    doomed = rows["tmp/doomed.part"]
    assert (doomed["kind"], doomed["scan_error"], doomed["blake3"], doomed["file_type"]) == \
        ("file", "vanished during scan", None, None)
    assert doomed["size"] == len(b"partial download")  # what the walk saw
    assert (rows["keep.txt"]["blake3"], rows["keep.txt"]["scan_error"]) == (b3(b"still here\n"), None)
    assert result.stats.errors == 1


class _Listing:
    """What `os.scandir` returns: a context manager that iterates over DirEntry objects."""

    def __init__(self, entries):
        self.entries = entries

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __iter__(self):
        return iter(self.entries)


@pytest.mark.parametrize("walker", ["python", "native"])
def test_file_vanishing_between_listing_and_stat_on_rescan(tmp_path, monkeypatch, walker):
    """A file listed by the walk but gone before its lstat is a row with an error and no facts,
    not the previous scan's checksum of a file that no longer exists. (The Python walk lists with
    os.scandir, where the test deletes the file; the native walk is C, so there the test deletes
    it first and hands the walker's output the entry as listed, with lstat's ENOENT.)"""
    root = tmp_path / "proj"
    write(root, "keep.txt", b"still here\n")
    write(root, "cache.json", b'{"hits": 12}\n')
    wh = Warehouse(tmp_path / "wh.duckdb")
    refresh_file_inventory(wh, "estate", root)
    real_scandir = os.scandir

    def list_then_delete(path):
        with real_scandir(path) as it:
            entries = list(it)
        for entry in entries:
            if entry.name == b"cache.json":
                os.unlink(entry.path)  # listed, not yet stat-ed
        return _Listing(entries)

    def native_list_then_delete(root_b, threads):
        paths, ends, stats, errnos, dir_errors = real_native(root_b, threads)
        os.unlink(os.path.join(root_b, b"cache.json"))
        listed = [paths[a:b] for a, b in zip([0, *memoryview(ends).cast("q")[:-1]], memoryview(ends).cast("q"))]
        assert listed == [b"cache.json", b"keep.txt"]
        return paths, ends, stats, array.array("i", [errno.ENOENT, 0]).tobytes(), dir_errors

    with monkeypatch.context() as m:
        if walker == "python":
            m.setattr(walk, "_fastwalk", None)
            m.setattr(os, "scandir", list_then_delete)
        else:
            if walk._fastwalk is None:
                pytest.skip("the native walker is not built in this install")
            real_native = walk._fastwalk.walk
            m.setattr(walk._fastwalk, "walk", native_list_then_delete)
        result = refresh_file_inventory(wh, "estate", root)
    row = rows_by_path(result.table)["cache.json"]
    assert row["scan_error"] == "vanished during scan" and row["size"] is None
    assert (row["blake3"], row["file_type"], row["line_count"], row["is_text"]) == (None, None, None, None)


def test_file_modified_between_walk_and_read(tmp_path, monkeypatch):
    """A file appended to after the walk is recorded as read: new size, checksum of the new bytes."""
    root = tmp_path / "proj"
    original = b"".join(b"2024-05-01T10:%02d:00 GET /health 200\n" % m for m in range(60))
    log = write(root, "access.log", original)
    late = b"2024-05-01T11:00:00 GET /metrics 200\n"
    real = inventory.read_many

    def append_then_read(paths, sizes, *args, **kwargs):
        assert sizes == [len(original)]  # the walk saw the old size
        with open(log, "ab") as fh:
            fh.write(late)
        return real(paths, sizes, *args, **kwargs)

    monkeypatch.setattr(inventory, "read_many", append_then_read)
    result = build_inventory("estate", root)
    row = rows_by_path(result.table)["access.log"]
    assert (row["size"], row["blake3"], row["scan_error"]) == (len(original + late), b3(original + late), None)
    assert row["line_count"] == 61
    assert row["mtime_ns"] == os.stat(log).st_mtime_ns
    assert result.stats.bytes_read == len(original + late)


@pytest.mark.timeout(120)
def test_file_growing_during_read(tmp_path):
    """A file appended to while it is being hashed is flagged 'changed during scan', no checksum.

    The writer is bounded (at most 1000 appends of 256 KiB, ~1 ms apart): slower than the reader,
    so the read reaches an end instead of chasing the file, and still running when it does."""
    path = tmp_path / "training.log"
    line = b"step=000123 loss=0.4321 lr=0.0003 grad_norm=1.02\n"
    size = 64 << 20
    path.write_bytes((line * (size // len(line) + 1))[:size])
    started, stop = threading.Event(), threading.Event()
    appends = [0]

    def writer():
        with open(path, "ab", buffering=0) as fh:
            for _ in range(1000):
                fh.write(line * (256 * 1024 // len(line)))
                appends[0] += 1
                started.set()
                if stop.is_set():
                    return
                time.sleep(0.001)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        assert started.wait(10)
        facts = read_content(os.fsencode(path))
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert 0 < appends[0] < 1000, "the writer must still be appending when the read ends"
    assert (facts.error, facts.blake3) == ("changed during scan", None)
    assert facts.bytes_read >= size


# --- special files -------------------------------------------------------------------

@pytest.mark.timeout(60)  # opening the FIFO for reading would block: a timeout, not a hang
def test_fifo_and_socket_are_recorded_never_opened(tmp_path, monkeypatch, reads):
    """A FIFO and a Unix socket are rows of their own kind; neither is ever opened."""
    root = tmp_path / "proj"
    write(root, "app.py", b"print('serving')\n")
    os.mkfifo(root / "events.pipe")
    monkeypatch.chdir(root)  # a relative name keeps the socket path under the 108-byte limit
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("app.sock")
        server.listen(1)
        result = build_inventory("estate", root)
    rows = rows_by_path(result.table)
    assert {p: (r["kind"], r["file_type"]) for p, r in rows.items()} == {
        "app.py": ("file", "python"), "events.pipe": ("fifo", "fifo"), "app.sock": ("socket", "socket")}
    for name in ("events.pipe", "app.sock"):
        assert (rows[name]["blake3"], rows[name]["scan_error"], rows[name]["line_count"]) == (None, None, None)
    assert [os.path.basename(p) for p in reads] == [b"app.py"]
    assert result.stats.files == 1
    assert count_files_on_disk(root) == 3


@pytest.mark.timeout(60)
def test_character_device_is_recorded_never_opened(tmp_path, reads):
    """A character device (like /dev/zero, which would never end) is a 'device' row, never read."""
    root = tmp_path / "proj"
    write(root, "readme.txt", b"devices ahead\n")
    try:
        os.mknod(root / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a character device here: {exc}")
    rows = rows_by_path(build_inventory("estate", root).table)
    assert (rows["zero"]["kind"], rows["zero"]["file_type"], rows["zero"]["blake3"]) == ("device", "device", None)
    assert [os.path.basename(p) for p in reads] == [b"readme.txt"]


# --- unusual contents ----------------------------------------------------------------

def test_empty_file(tmp_path):
    """An empty file: size 0, type 'empty', checksum of no bytes, no error."""
    root = tmp_path / "proj"
    write(root, "pkg/__init__.py", b"")
    row = rows_by_path(build_inventory("estate", root).table)["pkg/__init__.py"]
    assert (row["size"], row["file_type"], row["blake3"], row["scan_error"]) == (0, "empty", b3(b""), None)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_large_sparse_file(tmp_path):
    """A 1 GiB sparse file: full logical size, tiny allocation, checksum of 1 GiB of zeros."""
    root = tmp_path / "proj"
    path = write(root, "disk.img", b"")
    os.truncate(path, 1 << 30)
    result = build_inventory("estate", root)
    row = rows_by_path(result.table)["disk.img"]
    zeros, expected = bytes(16 << 20), blake3()
    for _ in range((1 << 30) // len(zeros)):
        expected.update(zeros)
    assert row["size"] == 1 << 30
    assert row["allocated_bytes"] < 1 << 20
    assert (row["blake3"], row["scan_error"], row["file_type"]) == (expected.hexdigest(), None, "binary")
    assert result.stats.bytes_read == 1 << 30


def _png() -> bytes:
    """A valid 2x2 RGB PNG: signature, IHDR, one zlib IDAT of two filtered rows, IEND."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    ihdr = (2).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress((b"\x00" + b"\xff\x80\x00" * 2) * 2)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_random_and_mislabelled_files_are_sniffed_by_content(tmp_path):
    """Random bytes are 'binary' even as .txt; PNG bytes in .txt are png; JSON in .txt is json."""
    root = tmp_path / "proj"
    garbage = os.urandom(1 << 18)
    contents = {
        "blob.bin": garbage,
        "random.txt": garbage[::-1],
        "screenshot.txt": _png(),
        "settings.txt": json.dumps({"batch_size": 64, "optimizer": {"name": "adamw"}}, indent=2).encode(),
    }
    for rel, data in contents.items():
        write(root, rel, data)
    rows = rows_by_path(build_inventory("estate", root).table)
    assert {p: (r["file_type"], r["mime"], r["is_text"]) for p, r in rows.items()} == {
        "blob.bin": ("binary", "application/octet-stream", False),
        "random.txt": ("binary", "application/octet-stream", False),
        "screenshot.txt": ("png", "image/png", False),
        "settings.txt": ("json", "application/json", True),
    }
    for rel, data in contents.items():
        assert rows[rel]["blake3"] == b3(data)
    assert rows["blob.bin"]["line_count"] is None
    assert rows["settings.txt"]["line_count"] == 6


# --- the whole mess, twice -----------------------------------------------------------

def test_rescan_of_a_messy_tree_is_idempotent(tmp_path, monkeypatch):
    """Scanning the same messy tree again gives the same rows, and the recount agrees."""
    root = tmp_path / "proj"
    for rel, data in NON_UTF8.items():
        write(root, rel, data)
    write(root, "empty.txt", b"")
    write(root, "model.bin", os.urandom(70_000))
    write(root, "src/app.py", b"import os\nprint(os.getcwd())")
    for name, target in {"good": "src/app.py", "dangling": "gone", "loop_a": "loop_b", "loop_b": "loop_a",
                         "escape": "../../etc/passwd"}.items():
        os.symlink(target, root / name)
    os.mkfifo(root / "queue.fifo")
    monkeypatch.chdir(root)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("ipc.sock")
        first, second = build_inventory("estate", root), build_inventory("estate", root)
        wh = Warehouse(tmp_path / "wh.duckdb")
        stored_first = refresh_file_inventory(wh, "estate", root)
        stored_second = refresh_file_inventory(wh, "estate", root)

    rows = rows_by_path(first.table)
    assert len(rows) == first.stats.entries == 14
    assert rows_by_path(second.table) == rows
    assert rows_by_path(stored_first.table) == rows
    assert rows_by_path(stored_second.table) == rows
    assert (stored_second.stats.bytes_read, stored_second.stats.unchanged) == (0, stored_second.stats.files)
    assert first.stats.errors == 0
    non_directory = [r for r in rows.values() if r["kind"] != "directory"]
    assert count_files_on_disk(root) == len(non_directory) == len(rows)
