"""Incremental bookkeeping shared by every enrichment extractor.

`enrich.processed` records, per extractor, which (path, blake3, version) has
been handled, with its parse error if any. A file is (re)processed only when
its content hash or the extractor version changed; rows of every other file
are kept as they are. Files are read and extracted in worker processes, in
chunks, because parsing is CPU-bound and the GIL would serialise it.

Planning compares only what changed since the step's last commit: the rows its
candidate query reads carry the change clock's stamp (`inventory.files`,
`enrich.file_classes`), and `enrich.plan_marks` keeps the clock each step's last
plan saw. A first run, a new version or a large change compares everything.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from anfl_assets.domain.warehouse import Warehouse, insert_rows, tick_change_clock
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


# A plan with at most this many files to process keeps its write connection until the commit:
# one attach and detach (about 5 ms) and the checkpoint (tens of milliseconds) less, much of a
# small incremental run, and holding the lock while a few hundred files are read is short.
# Bigger work lets go meanwhile.
HOLD_TODO_FILES = 2_000

# Tables whose rows carry `changed_seq`, the change clock's value when the row was written.
CHANGE_STAMPED = ("inventory.files", "enrich.file_classes")
# A table a candidate query reads, with its alias if it has one.
_TABLE_REFERENCE = re.compile(
    r"\b(FROM|JOIN)\s+([A-Za-z_]\w*\.[A-Za-z_]\w*)"
    r"(?:\s+(?:AS\s+)?(?!(?:WHERE|JOIN|LEFT|RIGHT|INNER|FULL|CROSS|ON|USING|GROUP|ORDER|LIMIT)\b)([A-Za-z_]\w*))?",
    re.IGNORECASE)
# Beyond this many changed paths a plan compares everything: filtering by a large set costs more.
CHANGE_PLAN_MAX_PATHS = 20_000


@dataclass
class WorkSet:
    """What one materialization must do: `todo` rows to (re)process; `stale` paths whose rows go
    (the todo's, and those of files no longer among the candidates); `files` candidates in all.

    Planned with `hold=True`, a small work set keeps the write connection it was planned on
    until `commit_work`; use it as a context manager so that an error in between rolls back and
    releases the lock."""

    files: int | None  # None until the commit when planned from changes (counted there)
    todo: pa.Table
    stale: pa.Table
    changed: int | None = None  # paths compared when planned from the change set; None: all compared
    _mark: tuple[str, int] | None = None  # (plan key, change clock at planning) to record at the commit
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


def _differs(input_key: str) -> str:
    """SQL: processed row `p` no longer stands for candidate `c` (parameters: version, UNREADABLE)."""
    return ("p.version IS DISTINCT FROM ? OR p.blake3 IS DISTINCT FROM c.blake3 OR p.error IS NOT DISTINCT FROM ? "
            f"OR p.input_key IS DISTINCT FROM {input_key}")


def _tables(files_sql: str) -> set[str]:
    return {m.group(2).lower() for m in _TABLE_REFERENCE.finditer(files_sql)}


def plan_key(version: str, files_sql: str, params: list | None) -> str | None:
    """What a plan mark is valid for: the version and the candidate query. None, so that the
    step always compares everything, unless the query has the shape planning from changes
    relies on: it selects inventory files (`kind = 'file'`) and joins only stamped tables,
    on path."""
    tables = _tables(files_sql)
    if "inventory.files" not in tables or not tables <= set(CHANGE_STAMPED) or "kind = 'file'" not in files_sql:
        return None
    blob = "\x00".join([version, files_sql, *map(repr, params or [])])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass
class _Changes:
    """What changed since a step's mark: `paths` to compare; per stamped table the paths to look
    up by name besides its rows stamped after the mark (`lookups`, empty when none); and the
    paths that must be processed again if they are candidates (`redo`: new content, or not
    readable last time), which need no comparison with what was processed."""

    mark: int
    paths: pa.Table
    lookups: dict[str, pa.Array]
    redo: pa.Array


def _changed_paths(con, project: str, extractor: str, mark: int | None, files_sql: str) -> _Changes | None:
    """Paths that may plan differently since this step's mark: rows of the candidate query's
    tables stamped after it, paths removed from the inventory after it, and files that could
    not be read last time. None when there is no mark for this key, or too much changed.

    Rows stamped after the mark are found through the stamp (DuckDB skips row groups by their
    min/max), so a table is searched by path only for changed paths whose row in it carries an
    older stamp: a touched file's class, say. In a typical run that is none."""
    if mark is None:
        return None
    tables = sorted(_tables(files_sql))
    facts = {"inventory.files": "kind = 'file' AS is_file, coalesce(content_seq > $mark, false) AS new_content"}
    parts = [f"SELECT '{t}' AS source, path, {facts.get(t, 'NULL AS is_file, NULL AS new_content')} "
             f"FROM {t} WHERE project = $project AND (changed_seq > $mark OR changed_seq IS NULL)" for t in tables]
    parts.append("SELECT 'removed', path, NULL, NULL FROM inventory.removed_files "
                 "WHERE project = $project AND seq > $mark")
    parts.append("SELECT 'unreadable', path, NULL, NULL FROM enrich.processed "
                 "WHERE project = $project AND extractor = $extractor AND error = $unreadable")
    params = {"project": project, "mark": mark, "extractor": extractor, "unreadable": UNREADABLE}
    stamped = con.sql(" UNION ALL ".join(parts) + f" LIMIT {2 * CHANGE_PLAN_MAX_PATHS + 1}",
                      params=params).to_arrow_table()
    paths = pc.unique(stamped["path"])
    if len(paths) > CHANGE_PLAN_MAX_PATHS or stamped.num_rows > 2 * CHANGE_PLAN_MAX_PATHS:
        return None

    def stamped_in(table: str, files_only: bool = False) -> pa.Array:
        mask = pc.equal(stamped["source"], table)
        if files_only:
            mask = pc.and_(mask, pc.fill_null(stamped["is_file"], False))
        return stamped["path"].filter(mask).combine_chunks()

    def minus(a: pa.Array, b: pa.Array) -> pa.Array:
        return a.filter(pc.invert(pc.is_in(a, value_set=b)))

    # Candidates are inventory files: a changed path's inventory row is stamped or looked up;
    # its rows in the other tables matter only if it is (or may be) a file.
    unknown = minus(paths, stamped_in("inventory.files"))
    maybe_files = pc.unique(pa.concat_arrays([stamped_in("inventory.files", files_only=True), unknown]))
    lookups = {"inventory.files": unknown}
    for t in tables:
        if t != "inventory.files":
            lookups[t] = minus(maybe_files, stamped_in(t))
    redo = stamped["path"].filter(pc.or_(pc.fill_null(stamped["new_content"], False),
                                         pc.equal(stamped["source"], "unreadable"))).combine_chunks()
    return _Changes(mark, pa.table({"path": paths}), lookups, redo)


def _restricted(con, files_sql: str, changes: _Changes) -> tuple[str, list[str]]:
    """`files_sql` with each stamped table narrowed to the changed paths' rows; the registered
    lookup tables to unregister afterwards."""
    registered: list[str] = []

    def narrowed(m: re.Match) -> str:
        table, alias = m.group(2).lower(), m.group(3) or m.group(2).split(".")[1]
        where = f"changed_seq > {int(changes.mark)} OR changed_seq IS NULL"
        lookup = changes.lookups.get(table)
        if lookup is not None and len(lookup):
            name = f"lookup_paths_{len(registered)}"
            con.register(name, pa.table({"path": lookup}))
            registered.append(name)
            where += f" OR path IN (SELECT path FROM {name})"
        return f"{m.group(1)} (SELECT * FROM {table} WHERE {where}) AS {alias}"

    return _TABLE_REFERENCE.sub(narrowed, files_sql), registered


def _plan_changed(con, project: str, extractor: str, version: str, candidates: pa.Table, changed: _Changes,
                  key: str, clock: int) -> WorkSet:
    """The plan among the changed paths: candidates with new content (or not readable last time)
    are processed again without looking at what was processed; the others (a touched file, a
    reclassified one) are compared with their processed rows. Stale: the todo, and every changed
    path that is no longer a candidate (deleting rows a path does not have is harmless). The
    number of files is counted at the commit: the processed rows are then the candidates."""
    redo = pc.is_in(candidates["path"], value_set=changed.redo)
    todo = candidates.filter(redo)
    unsure = candidates.filter(pc.invert(redo))
    if unsure.num_rows:  # compare these with their processed rows
        con.register("unsure_files", unsure)
        input_key = "c.input_key" if "input_key" in unsure.column_names else "NULL"
        differ = con.sql(
            "SELECT c.* FROM unsure_files c LEFT JOIN (SELECT path, blake3, version, error, input_key "
            "FROM enrich.processed WHERE project = ? AND extractor = ? "
            "AND path IN (SELECT path FROM unsure_files)) p ON p.path = c.path "
            f"WHERE p.path IS NULL OR {_differs(input_key)}",
            params=[project, extractor, version, UNREADABLE]).to_arrow_table()
        con.unregister("unsure_files")
        todo = pa.concat_tables([todo, differ.select(candidates.column_names)])
    gone = changed.paths["path"].filter(pc.invert(pc.is_in(changed.paths["path"], value_set=candidates["path"])))
    stale = pa.table({"path": pa.concat_arrays([todo["path"].combine_chunks(), gone.combine_chunks()])})
    return WorkSet(files=None, todo=todo, stale=stale, changed=changed.paths.num_rows, _mark=(key, clock))


def _plan(con, project: str, extractor: str, version: str, files_sql: str, params: list | None,
          select: Callable[[pa.Table], pa.Table] | None) -> WorkSet:
    key = plan_key(version, files_sql, params)
    clock, mark = con.execute(
        "SELECT (SELECT seq FROM inventory.change_clock), "
        "(SELECT seq FROM enrich.plan_marks WHERE project = ? AND extractor = ? AND plan_key = ?)",
        [project, extractor, key]).fetchall()[0]
    changed = _changed_paths(con, project, extractor, mark, files_sql) if key else None
    if changed is not None:  # only the changed paths
        narrowed_sql, lookups = _restricted(con, files_sql, changed)
        candidates = con.sql(narrowed_sql, params=params or None).to_arrow_table()
        for name in lookups:
            con.unregister(name)
        if select is not None:
            candidates = select(candidates)
        return _plan_changed(con, project, extractor, version, candidates, changed, key, clock)
    # every candidate against every processed row
    if select is None:
        source, source_params = f"({files_sql})", list(params or [])
    else:
        con.register("candidate_files", select(con.sql(files_sql, params=params or None).to_arrow_table()))
        source, source_params = "candidate_files", []
    columns = [d[0] for d in con.sql(f"SELECT * FROM {source} c LIMIT 0", params=source_params or None).description]
    input_key = "c.input_key" if "input_key" in columns else "NULL"
    picked = ", ".join(f'c."{name}"' for name in columns)
    diff = con.sql(
        f"SELECT {picked}, p.path AS _processed_path FROM {source} c FULL JOIN ("
        "SELECT path, blake3, version, error, input_key FROM enrich.processed WHERE project = ? AND extractor = ?"
        ") p ON p.path = c.path "
        f"WHERE c.path IS NULL OR p.path IS NULL OR {_differs(input_key)}",
        params=[*source_params, project, extractor, version, UNREADABLE]).to_arrow_table()
    # (a separate count: a window count over the join would hold all of it before filtering)
    files = con.execute(f"SELECT count(*) FROM {source} c", source_params).fetchall()[0][0]
    if select is not None:
        con.unregister("candidate_files")
    todo = diff.filter(pc.is_valid(diff["path"])).select(columns)
    stale = pa.table({"path": pc.coalesce(diff["path"], diff["_processed_path"])})
    return WorkSet(files=files, todo=todo, stale=stale, _mark=(key, clock) if key else None)


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
    run that changes a few files moves a few rows out of DuckDB. When the step has a plan mark
    for this version and query, only the paths changed since it are compared (see the module
    docstring); the result is the same. `hold`: see WorkSet."""
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
                derived: dict[str, pa.Table] | None = None, stamp: bool = False) -> None:
    """One transaction: drop the rows of the stale paths, insert the new ones, record what was
    processed and the change clock the plan saw.

    `outputs` are per-file tables (path column) maintained incrementally; `derived`
    are per-project tables recomputed whole (e.g. drift), replaced outright. `stamp`: the
    outputs are tables other steps plan from (CHANGE_STAMPED): advance the clock and stamp
    the rows written."""
    if work._con is not None:
        _commit(work._con, project, extractor, work, outputs, processed, derived, stamp)
        work._release()  # COMMIT and detach
        return
    with wh.write() as con:
        _commit(con, project, extractor, work, outputs, processed, derived, stamp)


def _commit(con, project: str, extractor: str, work: WorkSet, outputs: dict[str, pa.Table],
            processed: pa.Table, derived: dict[str, pa.Table] | None, stamp: bool) -> None:
    if stamp:
        seq = tick_change_clock(con)
        outputs = {table: rows.append_column("changed_seq", pa.array([seq] * rows.num_rows, pa.int64()))
                   for table, rows in outputs.items()}
        if work.changed is None:  # rows written before the clock existed count as changed now
            for table in outputs:  # (after the first full plan there are none left to find)
                con.execute(f"UPDATE {table} SET changed_seq = ? WHERE project = ? AND changed_seq IS NULL",
                            [seq, project])
    con.execute("DELETE FROM enrich.plan_marks WHERE project = ? AND extractor = ?", [project, extractor])
    if work._mark is not None:
        con.execute("INSERT INTO enrich.plan_marks VALUES (?, ?, ?, ?)", [project, extractor, *work._mark])
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
    if work.files is None:  # the processed rows are now exactly the candidates
        work.files = con.execute("SELECT count(*) FROM enrich.processed WHERE project = ? AND extractor = ?",
                                 [project, extractor]).fetchall()[0][0]


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
