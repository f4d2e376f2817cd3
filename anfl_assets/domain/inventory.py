"""Build one project's file inventory incrementally, as an Arrow table.

Per-file state lives in `inventory.files`, keyed by path: a file whose
(size, mtime_ns, ctime_ns, inode) match the previous inventory keeps its
checksum and content facts without being opened. The comparison is one Arrow
hash join, not a Python loop over dicts, so a re-scan of an unchanged tree costs
little more than the stat walk itself.
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from anfl_assets.domain import gitrepo
from anfl_assets.domain.hashing import read_many
from anfl_assets.domain.sniff import extension_of, sniff
from anfl_assets.domain.walk import load_ignore_spec, symlink_info, walk_tree

# Column order of `inventory.files`.
FILES_SCHEMA = pa.schema([
    ("project", pa.string()), ("path", pa.string()), ("path_raw", pa.binary()),
    ("kind", pa.string()), ("size", pa.int64()), ("allocated_bytes", pa.int64()),
    ("mtime", pa.timestamp("ns", tz="UTC")), ("mtime_ns", pa.int64()), ("ctime_ns", pa.int64()),
    ("mode", pa.int32()), ("uid", pa.int32()), ("gid", pa.int32()), ("owner", pa.string()),
    ("inode", pa.int64()), ("nlink", pa.int32()), ("file_type", pa.string()),
    ("extension", pa.string()), ("mime", pa.string()), ("is_text", pa.bool_()),
    ("encoding", pa.string()), ("line_count", pa.int64()), ("blake3", pa.string()),
    ("facts_version", pa.int32()), ("symlink_target", pa.string()), ("symlink_status", pa.string()),
    ("git_status", pa.string()), ("scan_error", pa.string()), ("scanned_at", pa.timestamp("us", tz="UTC")),
])
CONTENT_COLUMNS = ("file_type", "mime", "is_text", "encoding", "line_count", "blake3")
STAT_KEY = ("size", "mtime_ns", "ctime_ns", "inode")
# Bump when sniffing or line counting changes: stored facts of another version are re-read.
FACTS_VERSION = 3

# SQL that reads the previous inventory of a project in the shape `build_inventory` joins on.
PREVIOUS_SQL = (
    "SELECT coalesce(path_raw, encode(path)) AS key, "
    + ", ".join(f"{c} AS prev_{c}" for c in STAT_KEY + CONTENT_COLUMNS)
    + f" FROM inventory.files WHERE project = ? AND kind = 'file' AND facts_version = {FACTS_VERSION}"
)

Progress = Callable[[str, int, int | None], None]


@dataclass
class InventoryStats:
    files: int = 0
    bytes: int = 0
    entries: int = 0
    new: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    files_read: int = 0
    bytes_read: int = 0
    errors: int = 0
    walk_s: float = 0.0
    read_s: float = 0.0
    total_s: float = 0.0
    top_types: list[tuple[str, int, int]] = field(default_factory=list)
    git_error: str | None = None

    @property
    def read_mb_per_s(self) -> float:
        return self.bytes_read / 1e6 / self.read_s if self.read_s > 0 else 0.0

    @property
    def files_per_s(self) -> float:
        return self.entries / self.total_s if self.total_s > 0 else 0.0


@dataclass
class InventoryResult:
    table: pa.Table
    stats: InventoryStats


def _owner_names(uids, no_stat: bytearray) -> list[str | None]:
    names: dict[int, str | None] = {}
    out = []
    for uid, missing in zip(uids, no_stat):
        if missing:
            out.append(None)
            continue
        if uid not in names:
            try:
                names[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                names[uid] = str(uid)
        out.append(names[uid])
    return out


def _path_columns(rels: list[bytes]) -> tuple[list[str], list[bytes | None]]:
    """Readable text for every path; the exact bytes only where the name is not UTF-8."""
    texts, raws = [], []
    for rel in rels:
        try:
            texts.append(rel.decode("utf-8"))
            raws.append(None)
        except UnicodeDecodeError:
            texts.append(rel.decode("utf-8", "backslashreplace"))
            raws.append(rel)
    return texts, raws


def _empty_previous() -> pa.Table:
    cols = {"key": pa.array([], pa.binary())}
    for c in STAT_KEY + CONTENT_COLUMNS:
        cols[f"prev_{c}"] = pa.array([], FILES_SCHEMA.field(c).type)
    return pa.table(cols)


def build_inventory(project: str, root: Path, previous: pa.Table | None = None,
                    extra_ignores: tuple[str, ...] = (), threads: int = 4,
                    progress: Progress | None = None) -> InventoryResult:
    """Walk, compare with `previous` (rows of PREVIOUS_SQL), read only what changed."""
    t0 = time.perf_counter()
    root = Path(root).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"project root {root} is not a readable directory")
    stats = InventoryStats()
    walked = walk_tree(root, load_ignore_spec(root, extra_ignores),
                       progress=(lambda n: progress("walk", n, None)) if progress else None)
    stats.walk_s = time.perf_counter() - t0
    n = len(walked)
    texts, raws = _path_columns(walked.rel)

    base = pa.table({
        "row": pa.array(range(n), pa.int64()),
        "key": pa.array(walked.rel, pa.binary()),
        "kind": pa.array(walked.kind, pa.string()),
        "size": walked.arrow("size"),
        "mtime_ns": walked.arrow("mtime_ns"),
        "ctime_ns": walked.arrow("ctime_ns"),
        "inode": walked.arrow("inode"),
        "walk_error": pa.array(walked.error, pa.string()),
    })
    prev = previous if previous is not None and previous.num_rows else _empty_previous()
    joined = base.join(prev, keys="key", join_type="left outer").sort_by("row")

    is_file = pc.and_(pc.equal(joined["kind"], "file"), pc.is_null(joined["walk_error"]))
    seen_before = pc.is_valid(joined["prev_size"])
    same_stat = pc.and_kleene(seen_before, pc.is_valid(joined["prev_blake3"]))
    for c in STAT_KEY:
        same_stat = pc.and_kleene(same_stat, pc.equal(joined[c], joined[f"prev_{c}"]))
    unchanged = pc.fill_null(pc.and_(is_file, same_stat), False)
    to_read_mask = pc.and_(is_file, pc.invert(unchanged))
    to_read = pc.indices_nonzero(to_read_mask).to_pylist()

    stats.unchanged = pc.sum(unchanged).as_py() or 0
    stats.new = pc.sum(pc.and_(is_file, pc.invert(seen_before))).as_py() or 0
    stats.changed = len(to_read) - stats.new
    stats.deleted = prev.num_rows - (pc.sum(seen_before).as_py() or 0)

    # Content: previous facts where unchanged, a fresh read where not.
    t1 = time.perf_counter()
    root_b = os.fsencode(root)
    full_paths = [root_b + b"/" + walked.rel[i] for i in to_read]
    sizes = [walked.size[i] or 0 for i in to_read]
    total_to_read = sum(sizes)
    done_bytes = [0]

    def on_batch(files: int, nbytes: int) -> None:
        done_bytes[0] += nbytes
        if progress:
            progress("read", done_bytes[0], total_to_read)

    content = {c: joined[f"prev_{c}"].to_pylist() for c in CONTENT_COLUMNS}
    del joined, base
    size_col, mtime_col, ctime_col, inode_col = walked.size, walked.mtime_ns, walked.ctime_ns, walked.inode
    errors = walked.error

    def on_read(k: int, f) -> None:
        """Fold one read into the columns at its row (runs on reader threads; one row each)."""
        i = to_read[k]
        if f.size is not None:  # the file moved on since the walk: keep what was read
            size_col[i], mtime_col[i], ctime_col[i], inode_col[i] = f.size, f.mtime_ns, f.ctime_ns, f.inode
        errors[i] = f.error
        if f.error and f.size is None:
            for c in CONTENT_COLUMNS:
                content[c][i] = None
            return
        s = sniff(f.head, texts[i], size_col[i] or 0)
        content["file_type"][i], content["mime"][i] = s.file_type, s.mime
        content["is_text"][i], content["encoding"][i] = s.is_text, s.encoding
        # Lines as editors count them: a last line without a newline still counts.
        content["line_count"][i] = (f.newlines + (not f.ends_with_newline)) if s.is_text else None
        content["blake3"][i] = f.blake3

    stats.bytes_read = read_many(full_paths, sizes, on_read, threads=threads, progress=on_batch)
    stats.files_read = len(to_read)
    stats.read_s = time.perf_counter() - t1
    del full_paths

    # Non-regular entries: their kind is their type; symlinks get target and status.
    link_target: list[str | None] = [None] * n
    link_status: list[str | None] = [None] * n
    for i, kind in enumerate(walked.kind):
        if kind != "file" or walked.error[i] is not None:
            # No content facts, even if the path held a readable regular file last time.
            for c in CONTENT_COLUMNS:
                content[c][i] = None
            if kind != "file":
                content["file_type"][i] = kind
            if kind == "symlink":
                link_target[i], link_status[i] = symlink_info(root, walked.rel[i])

    git_status: list[str | None] = [None] * n
    if gitrepo.is_git_root(root):
        try:
            idx = gitrepo.status_index(root)
            git_status = [idx.status_of(rel) for rel in walked.rel]
        except gitrepo.GitError as exc:  # a broken repository leaves git_status empty, not the scan failed
            stats.git_error = str(exc)

    scanned_at = pa.array(np.full(n, time.time_ns() // 1000, dtype=np.int64)).cast(
        pa.timestamp("us", tz="UTC"))
    table = pa.table({
        "project": pa.array([project] * n, pa.string()),
        "path": pa.array(texts, pa.string()),
        "path_raw": pa.array(raws, pa.binary()),
        "kind": pa.array(walked.kind, pa.string()),
        "size": walked.arrow("size"),
        "allocated_bytes": walked.arrow("allocated"),
        "mtime": walked.arrow("mtime_ns", pa.timestamp("ns", tz="UTC")),
        "mtime_ns": walked.arrow("mtime_ns"),
        "ctime_ns": walked.arrow("ctime_ns"),
        "mode": walked.arrow("mode", pa.int32()),
        "uid": walked.arrow("uid", pa.int32()),
        "gid": walked.arrow("gid", pa.int32()),
        "owner": pa.array(_owner_names(walked.uid, walked.no_stat), pa.string()),
        "inode": walked.arrow("inode"),
        "nlink": walked.arrow("nlink", pa.int32()),
        "file_type": pa.array(content["file_type"], pa.string()),
        "extension": pa.array([extension_of(t) for t in texts], pa.string()),
        "mime": pa.array(content["mime"], pa.string()),
        "is_text": pa.array(content["is_text"], pa.bool_()),
        "encoding": pa.array(content["encoding"], pa.string()),
        "line_count": pa.array(content["line_count"], pa.int64()),
        "blake3": pa.array(content["blake3"], pa.string()),
        "facts_version": pa.array(np.full(n, FACTS_VERSION, dtype=np.int32)),
        "symlink_target": pa.array(link_target, pa.string()),
        "symlink_status": pa.array(link_status, pa.string()),
        "git_status": pa.array(git_status, pa.string()),
        "scan_error": pa.array(errors, pa.string()),
        "scanned_at": scanned_at,
    }, schema=FILES_SCHEMA)

    files_mask = pc.equal(table["kind"], "file")
    stats.entries = n
    stats.files = pc.sum(files_mask).as_py() or 0
    stats.bytes = pc.sum(pc.filter(table["size"], files_mask)).as_py() or 0
    stats.errors = pc.sum(pc.is_valid(table["scan_error"])).as_py() or 0
    by_type = (table.group_by("file_type").aggregate([("size", "count"), ("size", "sum")])
               .sort_by([("size_count", "descending")]).slice(0, 10))
    stats.top_types = list(zip(by_type["file_type"].to_pylist(), by_type["size_count"].to_pylist(),
                               by_type["size_sum"].to_pylist()))
    stats.total_s = time.perf_counter() - t0
    return InventoryResult(table=table, stats=stats)


def refresh_file_inventory(wh, project: str, root: Path, extra_ignores: tuple[str, ...] = (),
                           threads: int = 4, progress: Progress | None = None) -> InventoryResult:
    """Scan `root` against the stored inventory and swap the project's rows in one transaction."""
    previous = wh.query(PREVIOUS_SQL, [project])
    result = build_inventory(project, root, previous, extra_ignores, threads, progress)
    wh.replace_project_rows({"inventory.files": result.table}, project)
    return result


def files_parquet(table: pa.Table) -> bytes:
    """The inventory as Parquet bytes, for the object store (snapshots outlive the warehouse)."""
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()
