"""Build one project's file inventory incrementally, as an Arrow table.

Per-file state lives in `inventory.files`, keyed by path: a file whose
(size, mtime_ns, ctime_ns, inode) match the previous inventory keeps its
checksum and content facts without being opened. The comparison is one Arrow
hash join, not a Python loop over dicts, so a re-scan of an unchanged tree costs
little more than the stat walk itself.
"""

from __future__ import annotations

import json
import os
import pwd
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from anfl_assets.domain import arrow_memory, gitrepo  # noqa: F401 - arrow_memory: Arrow's allocator
from anfl_assets.domain.hashing import read_many
from anfl_assets.domain.walk import load_ignore_spec, symlink_info, walk_tree
from anfl_assets.domain.warehouse import tick_change_clock

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
    ("git_status", pa.string()), ("scan_error", pa.string()), ("recorded_at", pa.timestamp("us", tz="UTC")),
])
CONTENT_COLUMNS = ("file_type", "mime", "is_text", "encoding", "line_count", "blake3")
STAT_KEY = ("size", "mtime_ns", "ctime_ns", "inode")
# Bump when sniffing or line counting changes: stored facts of another version are re-read.
FACTS_VERSION = 3

# SQL that reads the previous inventory of a project in the shape `build_inventory` joins on.
PREVIOUS_COLUMNS = ("kind",) + STAT_KEY + CONTENT_COLUMNS + ("facts_version", "git_status", "scan_error",
                                                            "recorded_at")
PREVIOUS_SQL = (
    "SELECT coalesce(path_raw, encode(path)) AS key, "
    + ", ".join(f"{c} AS prev_{c}" for c in PREVIOUS_COLUMNS)
    + ", content_seq AS prev_content_seq FROM inventory.files WHERE project = ?"
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
    rows_written: int = 0

    @property
    def read_mb_per_s(self) -> float:
        return self.bytes_read / 1e6 / self.read_s if self.read_s > 0 else 0.0

    @property
    def files_per_s(self) -> float:
        return self.entries / self.total_s if self.total_s > 0 else 0.0


@dataclass
class InventoryResult:
    """The whole inventory (`table`) and the delta against the stored one: rows to write
    (`write_mask`) and keys of rows that are gone (`deleted_keys`)."""

    table: pa.Table
    stats: InventoryStats
    write_mask: pa.Array | None = None
    deleted_keys: pa.Array | None = None
    kept_content_seq: pa.Array | None = None  # per row: the stored content stamp if kind and checksum stayed


def _owner_names(uids: pa.Array) -> pa.Array:
    """User names for uids, looked up once per distinct uid."""
    distinct = pc.unique(uids.drop_null())
    names = []
    for uid in distinct.to_pylist():
        try:
            names.append(pwd.getpwuid(uid).pw_name)
        except KeyError:
            names.append(str(uid))
    return pc.take(pa.array(names, pa.string()), pc.index_in(uids, value_set=distinct))


def _path_columns(keys: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Readable text for every path; the exact bytes only where the name is not UTF-8."""
    try:
        return keys.cast(pa.string()), pa.nulls(len(keys), pa.binary())
    except pa.ArrowInvalid:  # some names are not UTF-8: decode one by one
        rels = keys.to_pylist()
        texts, raws = [], []
        for rel in rels:
            try:
                texts.append(rel.decode("utf-8"))
                raws.append(None)
            except UnicodeDecodeError:
                texts.append(rel.decode("utf-8", "backslashreplace"))
                raws.append(rel)
        return pa.array(texts, pa.string()), pa.array(raws, pa.binary())


# The extension rule of `sniff.extension_of`, vectorised: the last `.suffix` of the base name,
# none for dot-files such as `.gitignore`.
EXTENSION_RE = r"(?:^|/)\.*[^/.][^/]*\.(?P<ext>[^./]*)$"


def _extensions(paths: pa.Array) -> pa.Array:
    ext = pc.struct_field(pc.extract_regex(paths, EXTENSION_RE), "ext")
    return pc.utf8_lower(pc.fill_null(ext, ""))


def _missing_keys(old: pa.ChunkedArray, new: pa.Array) -> pa.Array:
    """Keys in `old` that are not in `new`."""
    return pc.filter(old, pc.invert(pc.is_in(old, value_set=new))).combine_chunks() \
        if len(old) else pa.array([], pa.binary())


def _empty_previous() -> pa.Table:
    cols = {"key": pa.array([], pa.binary())}
    for c in PREVIOUS_COLUMNS:
        cols[f"prev_{c}"] = pa.array([], FILES_SCHEMA.field(c).type)
    cols["prev_content_seq"] = pa.array([], pa.int64())
    return pa.table(cols)


def build_inventory(project: str, root: Path, previous: pa.Table | Callable[[], pa.Table] | None = None,
                    extra_ignores: tuple[str, ...] = (), threads: int = 4,
                    progress: Progress | None = None, processes: int = 0) -> InventoryResult:
    """Walk, compare with `previous` (rows of PREVIOUS_SQL), read only what changed.

    `previous` may be a callable, called once the walk is done, so that reading the stored
    rows overlaps the walk."""
    t0 = time.perf_counter()
    root = Path(root).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"project root {root} is not a readable directory")
    stats = InventoryStats()
    walked = walk_tree(root, load_ignore_spec(root, extra_ignores),
                       progress=(lambda n: progress("walk", n, None)) if progress else None)
    stats.walk_s = time.perf_counter() - t0
    n = len(walked)
    keys = pa.array(walked.rel, pa.binary())
    path_text, path_raw = _path_columns(keys)

    base = pa.table({
        "key": keys,
        "kind": pa.array(walked.kind, pa.string()),
        "size": walked.arrow("size"),
        "mtime_ns": walked.arrow("mtime_ns"),
        "ctime_ns": walked.arrow("ctime_ns"),
        "inode": walked.arrow("inode"),
        "walk_error": pa.array(walked.error, pa.string()),
    })
    if callable(previous):
        previous = previous()
    prev = previous if previous is not None and previous.num_rows else _empty_previous()
    # Align the stored rows with the walk: a hash lookup of every walked key among the stored keys.
    # (An Acero hash join does the same but costs ~10x more in set-up for a single probe.)
    aligned = prev.drop_columns(["key"]).take(pc.index_in(keys, value_set=prev["key"]))
    joined = {**{c: base[c] for c in base.column_names}, **{c: aligned[c] for c in aligned.column_names}}
    del aligned  # joined holds the columns it needs; the rest of the copy goes now (peak memory)

    is_file = pc.and_(pc.equal(joined["kind"], "file"), pc.is_null(joined["walk_error"]))
    was_file = pc.fill_null(pc.equal(joined["prev_kind"], "file"), False)
    same_stat = pc.and_kleene(pc.and_(was_file, pc.is_valid(joined["prev_blake3"])),
                              pc.equal(joined["prev_facts_version"], FACTS_VERSION))
    for c in STAT_KEY:
        same_stat = pc.and_kleene(same_stat, pc.equal(joined[c], joined[f"prev_{c}"]))
    unchanged = pc.fill_null(pc.and_(is_file, same_stat), False)
    to_read_mask = pc.and_(is_file, pc.invert(unchanged))
    to_read = pc.indices_nonzero(to_read_mask).to_pylist()

    stats.unchanged = pc.sum(unchanged).as_py() or 0
    stats.new = pc.sum(pc.and_(is_file, pc.invert(was_file))).as_py() or 0
    stats.changed = len(to_read) - stats.new
    prev_files = pc.sum(pc.equal(prev["prev_kind"], "file")).as_py() or 0
    stats.deleted = prev_files - (pc.sum(was_file).as_py() or 0)
    deleted_keys = _missing_keys(prev["key"], base["key"])
    prev_git_status = joined["prev_git_status"]
    prev_recorded_at = joined["prev_recorded_at"]

    # Content: previous facts where unchanged, a fresh read where not.
    t1 = time.perf_counter()
    root_b = os.fsencode(root)
    full_paths = [root_b + b"/" + walked.rel[i] for i in to_read]
    sizes = [walked.get("size", i) for i in to_read]
    total_to_read = sum(sizes)
    done_bytes = [0]

    def on_batch(files: int, nbytes: int) -> None:
        done_bytes[0] += nbytes
        if progress:
            progress("read", done_bytes[0], total_to_read)

    prev_content = {c: joined[f"prev_{c}"] for c in CONTENT_COLUMNS}
    prev_kind = joined["prev_kind"]
    prev_content_seq = joined.get("prev_content_seq")  # (absent from rows a caller passed without it)
    del joined
    errors = walked.error
    fresh = {c: [None] * len(to_read) for c in CONTENT_COLUMNS}  # facts of the files read, by read order

    def on_read(k: int, f) -> None:
        """Fold one read into the columns (runs on reader threads; each call owns its own slots)."""
        i = to_read[k]
        if f.size is not None:  # the file moved on since the walk: keep what was read
            for name, value in (("size", f.size), ("mtime_ns", f.mtime_ns), ("ctime_ns", f.ctime_ns),
                                ("inode", f.inode)):
                walked.set(name, i, value)
        errors[i] = f.error
        if f.error and f.size is None:
            return
        s = f.sniffed
        fresh["file_type"][k], fresh["mime"][k] = s.file_type, s.mime
        fresh["is_text"][k], fresh["encoding"][k] = s.is_text, s.encoding
        # Lines as editors count them: a last line without a newline still counts.
        fresh["line_count"][k] = (f.newlines + (not f.ends_with_newline)) if s.is_text else None
        fresh["blake3"][k] = f.blake3

    stats.bytes_read = read_many(full_paths, sizes, on_read, threads=threads, progress=on_batch,
                                 processes=processes)
    stats.files_read = len(to_read)
    stats.read_s = time.perf_counter() - t1
    del full_paths

    # Content columns: stored facts, the fresh ones spliced in where files were read, and
    # none at all for entries that are not readable regular files.
    kind_arr = base["kind"]
    read_mask = to_read_mask.combine_chunks() if isinstance(to_read_mask, pa.ChunkedArray) else to_read_mask
    no_content = pc.invert(is_file)
    content = {}
    for c in CONTENT_COLUMNS:
        col = prev_content[c].combine_chunks().cast(FILES_SCHEMA.field(c).type)
        if to_read:
            col = pc.replace_with_mask(col, read_mask, pa.array(fresh[c], col.type))
        content[c] = pc.if_else(no_content, pa.scalar(None, col.type), col)
    content["file_type"] = pc.if_else(pc.not_equal(kind_arr, "file"), kind_arr, content["file_type"])

    # Symlinks: target and status, never followed.
    link_target: list[str | None] = [None] * n
    link_status: list[str | None] = [None] * n
    for i in pc.indices_nonzero(pc.equal(kind_arr, "symlink")).to_pylist():
        link_target[i], link_status[i] = symlink_info(root, walked.rel[i])

    git_status_arr = pa.nulls(n, pa.string())
    if gitrepo.is_git_root(root):
        try:
            git_status_arr = gitrepo.status_index(root).status_column(keys)
        except gitrepo.GitError as exc:  # a broken repository leaves git_status empty, not the scan failed
            stats.git_error = str(exc)

    # A row equal to the stored one is not rewritten: same content facts, same git status.
    same_row = pc.fill_null(pc.and_(unchanged, pc.or_kleene(
        pc.equal(git_status_arr, prev_git_status),
        pc.and_(pc.is_null(git_status_arr), pc.is_null(prev_git_status)))), False)
    now = pa.array(np.full(n, time.time_ns() // 1000, dtype=np.int64)).cast(pa.timestamp("us", tz="UTC"))
    recorded_at = pc.if_else(same_row, prev_recorded_at.cast(now.type), now)
    table = pa.table({
        "project": pa.array([project] * n, pa.string()),
        "path": path_text,
        "path_raw": path_raw,
        "kind": kind_arr,
        "size": walked.arrow("size"),
        "allocated_bytes": walked.arrow("allocated"),
        "mtime": walked.arrow("mtime_ns", pa.timestamp("ns", tz="UTC")),
        "mtime_ns": walked.arrow("mtime_ns"),
        "ctime_ns": walked.arrow("ctime_ns"),
        "mode": walked.arrow("mode", pa.int32()),
        "uid": walked.arrow("uid", pa.int32()),
        "gid": walked.arrow("gid", pa.int32()),
        "owner": _owner_names(walked.arrow("uid")),
        "inode": walked.arrow("inode"),
        "nlink": walked.arrow("nlink", pa.int32()),
        "file_type": content["file_type"],
        "extension": _extensions(path_text),
        "mime": content["mime"],
        "is_text": content["is_text"],
        "encoding": content["encoding"],
        "line_count": content["line_count"],
        "blake3": content["blake3"],
        "facts_version": pa.array(np.full(n, FACTS_VERSION, dtype=np.int32)),
        "symlink_target": pa.array(link_target, pa.string()),
        "symlink_status": pa.array(link_status, pa.string()),
        "git_status": git_status_arr,
        "scan_error": pa.array(errors, pa.string()),
        "recorded_at": recorded_at,
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
    # The content stamp carries over where the kind and checksum stayed (a touched file, a new git status).
    kept_content_seq = None
    if prev_content_seq is not None:
        same_content = pc.fill_null(pc.and_(pc.equal(kind_arr, prev_kind), pc.or_kleene(
            pc.equal(content["blake3"], prev_content["blake3"]),
            pc.and_(pc.is_null(content["blake3"]), pc.is_null(prev_content["blake3"])))), False)
        kept_content_seq = pc.if_else(same_content, prev_content_seq, pa.scalar(None, pa.int64()))
    return InventoryResult(table=table, stats=stats, write_mask=pc.invert(same_row), deleted_keys=deleted_keys,
                           kept_content_seq=kept_content_seq)


def refresh_file_inventory(wh, project: str, root: Path, extra_ignores: tuple[str, ...] = (),
                           threads: int = 4, progress: Progress | None = None,
                           processes: int = 0) -> InventoryResult:
    """Scan `root` against the stored inventory and apply the difference in one transaction.

    Only rows that differ are deleted and re-inserted, so the stored rows end up
    exactly equal to `result.table`, and a re-scan of an unchanged tree writes
    nothing but its line in `inventory.scan_runs`."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="anfl-previous") as side:
        # DuckDB works without the GIL: the stored rows arrive while the tree is walked
        previous = side.submit(wh.query, PREVIOUS_SQL, [project])
        result = build_inventory(project, root, previous.result, extra_ignores, threads, progress, processes)
    del previous
    pool = pa.default_memory_pool()
    pool.release_unused()  # mimalloc keeps freed pages otherwise: 300k files, ~200 MB of RSS
    # a first scan writes every row: the table itself, not a filtered copy of it
    changed_rows = result.table if pc.all(result.write_mask).as_py() else result.table.filter(result.write_mask)
    kept = result.kept_content_seq
    if kept is None:
        kept = pa.nulls(result.table.num_rows, pa.int64())
    # the stored content stamp where kind and checksum stayed; null (stamped now) where they changed
    changed_rows = changed_rows.append_column(
        "content_seq", kept if changed_rows is result.table else kept.filter(result.write_mask))
    stale = pa.table({"key": pa.concat_arrays([
        pc.coalesce(changed_rows["path_raw"], pc.cast(changed_rows["path"], pa.binary())).combine_chunks(),
        result.deleted_keys])})
    removed = pa.table({"path": _path_columns(result.deleted_keys)[0]})
    with wh.write() as con:
        seq = tick_change_clock(con)
        if stale.num_rows:
            con.register("stale_keys", stale)
            con.execute("DELETE FROM inventory.files WHERE project = ? "
                        "AND coalesce(path_raw, encode(path)) IN (SELECT key FROM stale_keys)", [project])
        if changed_rows.num_rows:
            con.register("changed_rows", changed_rows)
            con.execute("INSERT INTO inventory.files BY NAME SELECT * REPLACE (coalesce(content_seq, $seq) AS "
                        "content_seq), $seq AS changed_seq FROM changed_rows", {"seq": seq})
        _record_changes(con, project, seq, removed)
        con.execute("INSERT INTO inventory.scan_runs VALUES (?, 'file_inventory', now(), ?, ?)",
                    [project, result.table.num_rows, json.dumps(asdict(result.stats))])
    result.stats.rows_written = changed_rows.num_rows
    del changed_rows, stale
    pool.release_unused()
    return result


def _record_changes(con, project: str, seq: int, removed: pa.Table) -> None:
    """The change clock's side of a refresh: the paths removed, rows written before the clock
    existed adopted as changed now, and removal records no step's plan mark predates dropped."""
    if removed.num_rows:
        con.register("removed_paths", removed)
        con.execute("INSERT INTO inventory.removed_files SELECT ?, path, ? FROM removed_paths", [project, seq])
        con.unregister("removed_paths")
    con.execute("UPDATE inventory.files SET changed_seq = ? WHERE project = ? AND changed_seq IS NULL", [seq, project])
    con.execute("DELETE FROM inventory.removed_files WHERE project = ? AND seq <= "
                "(SELECT min(seq) FROM enrich.plan_marks WHERE project = ?)", [project, project])


def files_parquet(table: pa.Table) -> bytes:
    """The inventory as Parquet bytes, for the object store (snapshots outlive the warehouse)."""
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()
