"""Incremental bookkeeping shared by every enrichment extractor.

`enrich.processed` records, per extractor, which (path, blake3, version) has
been handled, with its parse error if any. A file is (re)processed only when
its content hash or the extractor version changed; rows of every other file
are kept as they are. Files are read and extracted in worker processes, in
chunks, because parsing is CPU-bound and the GIL would serialise it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from anfl_assets.domain.warehouse import Warehouse, insert_rows
from anfl_assets.domain.workers import worker_pool

PROCESSED_SCHEMA = pa.schema([
    ("project", pa.string()), ("extractor", pa.string()), ("path", pa.string()), ("blake3", pa.string()),
    ("version", pa.string()), ("error", pa.string()), ("error_line", pa.int64()), ("skipped", pa.string()),
    ("input_key", pa.string()),
])


# The `error` of a file that could not be read when its turn came (gone, a transient I/O error):
# such a record is never kept, so the file is tried again on the next run even if its content
# hash did not change.
UNREADABLE = "unreadable"


@dataclass
class WorkStats:
    """What one incremental refresh did, for the asset's metadata (`extra`: step-specific counts)."""

    files: int = 0
    processed: int = 0
    reused: int = 0
    errors: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def processed_table(project: str, extractor: str, version: str, paths, blake3s, errors=None, error_lines=None,
                    skipped=None, input_keys=None) -> pa.Table:
    """The `enrich.processed` rows recording that these (path, blake3[, input_key]) were handled at `version`."""
    n = len(paths)
    return pa.table({
        "project": [project] * n, "extractor": [extractor] * n, "path": paths, "blake3": blake3s,
        "version": [version] * n, "error": errors if errors is not None else [None] * n,
        "error_line": error_lines if error_lines is not None else [None] * n,
        "skipped": skipped if skipped is not None else [None] * n,
        "input_key": input_keys if input_keys is not None else [None] * n,
    }, schema=PROCESSED_SCHEMA)


@dataclass
class WorkSet:
    """What one materialization must do: `todo` rows to (re)process, `kept` paths whose rows stay."""

    current: pa.Table
    todo: pa.Table
    kept: pa.Table

    @property
    def reused(self) -> int:
        return self.kept.num_rows


def plan_work(wh: Warehouse, project: str, extractor: str, version: str, files_sql: str,
              params: list | None = None, select: Callable[[pa.Table], pa.Table] | None = None) -> WorkSet:
    """`files_sql` selects this extractor's candidate files (must return path, blake3 and
    whatever the extractor needs), `select` narrows them where SQL cannot (a filename test);
    compare with what was processed at this version. A file recorded as UNREADABLE counts as
    not processed. An extractor whose output depends on more than the content (the file's
    class, say) returns that as an `input_key` column and records it: a change re-processes."""
    with wh.read() as con:
        current = con.sql(files_sql, params=params or None).to_arrow_table()
        if select is not None:
            current = select(current)
        con.register("current_files", current)
        input_key = "c.input_key" if "input_key" in current.column_names else "NULL"
        kept = con.sql(
            "SELECT c.path FROM current_files c JOIN enrich.processed p "
            "ON p.project = ? AND p.extractor = ? AND p.version = ? AND p.path = c.path AND p.blake3 = c.blake3 "
            f"AND p.error IS DISTINCT FROM ? AND p.input_key IS NOT DISTINCT FROM {input_key}",
            params=[project, extractor, version, UNREADABLE]).to_arrow_table()
        con.register("kept_paths", kept)
        todo = con.sql("SELECT * FROM current_files WHERE path NOT IN (SELECT path FROM kept_paths)"
                       ).to_arrow_table()
    return WorkSet(current=current, todo=todo, kept=kept)


def commit_work(wh: Warehouse, project: str, extractor: str, work: WorkSet,
                outputs: dict[str, pa.Table], processed: pa.Table,
                derived: dict[str, pa.Table] | None = None) -> None:
    """One transaction: drop rows of paths not kept, insert the new ones, record what was processed.

    `outputs` are per-file tables (path column) maintained incrementally; `derived`
    are per-project tables recomputed whole (e.g. drift), replaced outright."""
    with wh.write() as con:
        con.register("kept_paths", work.kept)
        for table, rows in [*outputs.items(), ("enrich.processed", processed)]:
            extra = " AND extractor = ?" if table == "enrich.processed" else ""
            params = [project, extractor] if extra else [project]
            con.execute(f"DELETE FROM {table} WHERE project = ?{extra} "
                        "AND path NOT IN (SELECT path FROM kept_paths)", params)
            insert_rows(con, table, rows)
        for table, rows in (derived or {}).items():
            con.execute(f"DELETE FROM {table} WHERE project = ?", [project])
            insert_rows(con, table, rows)


def full_path(root: Path, path: str, path_raw: bytes | None) -> bytes:
    return os.fsencode(root) + b"/" + (path_raw if path_raw is not None else path.encode("utf-8"))


def read_bytes(full: bytes, limit: int) -> bytes | None:
    """Up to `limit` bytes of a file; None when it cannot be read any more (it is then retried next run)."""
    try:
        with open(full, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return None


def pool_map(fn: Callable[[object], object], chunks: list, workers: int) -> list:
    """`fn` over chunks of work, in worker processes when there is more than one chunk."""
    if workers <= 1 or len(chunks) <= 1:
        return list(map(fn, chunks))
    with worker_pool(workers) as pool:
        return list(pool.map(fn, chunks))
