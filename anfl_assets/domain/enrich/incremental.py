"""Incremental bookkeeping shared by every enrichment extractor.

`enrich.processed` records, per extractor, which (path, blake3, version) has
been handled, with its parse error if any. A file is (re)processed only when
its content hash or the extractor version changed; rows of every other file
are kept as they are. Files are read and extracted in worker processes, in
chunks, because parsing is CPU-bound and the GIL would serialise it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

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


# A plan with at most this many files to process keeps its (write) connection until the commit:
# opening and closing DuckDB costs tens of milliseconds, most of a small incremental run, and
# holding the lock while a few hundred files are read is short. Bigger work lets go meanwhile.
HOLD_TODO_FILES = 2_000


@dataclass
class WorkSet:
    """What one materialization must do: `todo` rows to (re)process; `stale` paths whose rows go
    (the todo's, and those of files no longer among the candidates); `files` candidates in all.

    Planned with `hold=True`, a small work set keeps the write connection it was planned on
    until `commit_work`; use it as a context manager so that an error in between rolls back and
    releases the lock."""

    files: int
    todo: pa.Table
    stale: pa.Table
    _held: ExitStack | None = None
    _con: object | None = None

    @property
    def reused(self) -> int:
        return self.files - self.todo.num_rows

    def __enter__(self) -> WorkSet:
        return self

    def __exit__(self, *exc) -> None:
        self._release(*exc)

    def _release(self, *exc) -> None:
        held, self._held, self._con = self._held, None, None
        if held is not None:
            held.__exit__(*(exc or (None, None, None)))


def _plan(con, project: str, extractor: str, version: str, files_sql: str, params: list | None,
          select: Callable[[pa.Table], pa.Table] | None) -> WorkSet:
    if select is None:
        source, source_params = f"({files_sql})", list(params or [])
    else:
        con.register("candidate_files", select(con.sql(files_sql, params=params or None).to_arrow_table()))
        source, source_params = "candidate_files", []
    columns = [d[0] for d in con.sql(f"SELECT * FROM {source} c LIMIT 0", params=source_params or None).description]
    input_key = "c.input_key" if "input_key" in columns else "NULL"
    picked = ", ".join(f'c."{name}"' for name in columns)
    # (a separate count: a window count over the join would hold all of it before filtering)
    diff = con.sql(
        f"SELECT {picked}, p.path AS _processed_path FROM {source} c FULL JOIN ("
        "SELECT path, blake3, version, error, input_key FROM enrich.processed WHERE project = ? AND extractor = ?"
        ") p ON p.path = c.path "
        "WHERE c.path IS NULL OR p.path IS NULL OR p.version IS DISTINCT FROM ? OR p.blake3 IS DISTINCT FROM c.blake3 "
        f"OR p.error IS NOT DISTINCT FROM ? OR p.input_key IS DISTINCT FROM {input_key}",
        params=[*source_params, project, extractor, version, UNREADABLE]).to_arrow_table()
    files = con.execute(f"SELECT count(*) FROM {source} c", source_params).fetchall()[0][0]
    if select is not None:
        con.unregister("candidate_files")
    todo = diff.filter(pc.is_valid(diff["path"])).select(columns)
    stale = pa.table({"path": pc.coalesce(diff["path"], diff["_processed_path"])})
    return WorkSet(files=files, todo=todo, stale=stale)


def plan_work(wh: Warehouse, project: str, extractor: str, version: str, files_sql: str,
              params: list | None = None, select: Callable[[pa.Table], pa.Table] | None = None,
              hold: bool = False) -> WorkSet:
    """`files_sql` selects this extractor's candidate files (must return path, blake3 and
    whatever the extractor needs), `select` narrows them where SQL cannot (a filename test);
    compare with what was processed at this version. A file recorded as UNREADABLE counts as
    not processed. An extractor whose output depends on more than the content (the file's
    class, say) returns that as an `input_key` column and records it: a change re-processes.

    One query joins the candidates with what was processed (on path) and returns only what
    differs: the todo rows, and the paths processed before that are no longer candidates. A
    run that changes a few files moves a few rows out of DuckDB. `hold`: see WorkSet."""
    if not hold:
        with wh.read() as con:
            return _plan(con, project, extractor, version, files_sql, params, select)
    held = ExitStack()
    con = held.enter_context(wh.write(checkpoint=False))  # a held plan writes little
    try:
        work = _plan(con, project, extractor, version, files_sql, params, select)
    except BaseException:
        held.__exit__(*sys.exc_info())
        raise
    if work.todo.num_rows <= HOLD_TODO_FILES:
        work._held, work._con = held, con
    else:
        held.__exit__(None, None, None)
    return work


def commit_work(wh: Warehouse, project: str, extractor: str, work: WorkSet,
                outputs: dict[str, pa.Table], processed: pa.Table,
                derived: dict[str, pa.Table] | None = None) -> None:
    """One transaction: drop the rows of the stale paths, insert the new ones, record what was processed.

    `outputs` are per-file tables (path column) maintained incrementally; `derived`
    are per-project tables recomputed whole (e.g. drift), replaced outright."""
    if work._con is not None:
        _commit(work._con, project, extractor, work, outputs, processed, derived)
        work._release()  # COMMIT and close
        return
    with wh.write() as con:
        _commit(con, project, extractor, work, outputs, processed, derived)


def _commit(con, project: str, extractor: str, work: WorkSet, outputs: dict[str, pa.Table],
            processed: pa.Table, derived: dict[str, pa.Table] | None) -> None:
    con.register("stale_paths", work.stale)
    for table, rows in [*outputs.items(), ("enrich.processed", processed)]:
        extra = " AND extractor = ?" if table == "enrich.processed" else ""
        params = [project, extractor] if extra else [project]
        if work.stale.num_rows:
            con.execute(f"DELETE FROM {table} WHERE project = ?{extra} "
                        "AND path IN (SELECT path FROM stale_paths)", params)
        insert_rows(con, table, rows)
    for table, rows in (derived or {}).items():
        con.execute(f"DELETE FROM {table} WHERE project = ?", [project])
        insert_rows(con, table, rows)
    con.unregister("stale_paths")


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
