"""The DuckDB warehouse: schema, locked access, per-project replacement.

DuckDB lets one process hold a database file read-write, or many processes
hold it read-only, never both. Dagster runs steps in separate processes and two
runs may overlap, so every access goes through an advisory `flock` on a side
file: readers share it, writers take it alone, and the file is open only as
long as its lock. Heavy work (walking, hashing, git) happens outside the lock;
only the final write holds it, so parallel steps queue for milliseconds, not
for each other's whole computation.

Opening the file is cheap; starting DuckDB is not (about 15 ms registering its
built-in functions, on every `duckdb.connect`). So each process starts one
in-memory DuckDB once and attaches the warehouse file to it for each use, and
detaches it (releasing DuckDB's own file lock) when the use ends: about 3 ms.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from anfl_assets.domain import arrow_memory  # noqa: F401 - Arrow's allocator, set once
from anfl_assets.domain.security import SEVERITY_SQL_LIST

SCHEMA_VERSION = 1

# Tables are created idempotently; views are replaced so a new release can change them.
SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS inventory;
CREATE TABLE IF NOT EXISTS inventory.projects (
    name VARCHAR PRIMARY KEY,
    root VARCHAR NOT NULL,
    is_git BOOLEAN NOT NULL,
    added_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS inventory.files (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    path_raw BLOB,
    kind VARCHAR NOT NULL,
    size BIGINT,
    allocated_bytes BIGINT,
    mtime TIMESTAMPTZ,
    mtime_ns BIGINT,
    ctime_ns BIGINT,
    mode INTEGER,
    uid INTEGER,
    gid INTEGER,
    owner VARCHAR,
    inode BIGINT,
    nlink INTEGER,
    file_type VARCHAR,
    extension VARCHAR,
    mime VARCHAR,
    is_text BOOLEAN,
    encoding VARCHAR,
    line_count BIGINT,
    blake3 VARCHAR,
    facts_version INTEGER,
    symlink_target VARCHAR,
    symlink_status VARCHAR,
    git_status VARCHAR,
    scan_error VARCHAR,
    recorded_at TIMESTAMPTZ,
    changed_seq BIGINT,  -- the change clock when this row was last written (see change_clock)
    content_seq BIGINT   -- ... when its content (kind, checksum) last changed
);
ALTER TABLE inventory.files ADD COLUMN IF NOT EXISTS changed_seq BIGINT;
ALTER TABLE inventory.files ADD COLUMN IF NOT EXISTS content_seq BIGINT;
-- The change clock: every write that changes rows other steps plan from (inventory.files,
-- enrich.file_classes) advances it and stamps those rows; a step that records the clock it
-- planned at later looks only at rows stamped after it, plus the paths removed since.
CREATE TABLE IF NOT EXISTS inventory.change_clock (seq BIGINT NOT NULL);
INSERT INTO inventory.change_clock SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM inventory.change_clock);
CREATE TABLE IF NOT EXISTS inventory.removed_files (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS inventory.git_commits (
    project VARCHAR NOT NULL,
    sha VARCHAR NOT NULL,
    author VARCHAR,
    email VARCHAR,
    authored_at TIMESTAMPTZ,
    parents VARCHAR,
    subject VARCHAR
);
CREATE TABLE IF NOT EXISTS inventory.git_file_changes (
    project VARCHAR NOT NULL,
    sha VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    old_path VARCHAR,
    lines_added BIGINT,
    lines_deleted BIGINT,
    is_binary BOOLEAN
);
CREATE TABLE IF NOT EXISTS inventory.scan_runs (
    project VARCHAR NOT NULL,
    asset VARCHAR NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    rows BIGINT,
    stats JSON
);
CREATE SCHEMA IF NOT EXISTS enrich;
CREATE TABLE IF NOT EXISTS enrich.processed (
    project VARCHAR NOT NULL,
    extractor VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    blake3 VARCHAR,
    version VARCHAR NOT NULL,
    error VARCHAR,
    error_line BIGINT,
    skipped VARCHAR,
    input_key VARCHAR  -- what besides the content the output depends on (e.g. the file's class)
);
ALTER TABLE enrich.processed ADD COLUMN IF NOT EXISTS input_key VARCHAR;
CREATE TABLE IF NOT EXISTS enrich.file_classes (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    language VARCHAR,
    config_format VARCHAR,
    infra_kind VARCHAR,
    rule VARCHAR NOT NULL,
    changed_seq BIGINT  -- the change clock when classified
);
ALTER TABLE enrich.file_classes ADD COLUMN IF NOT EXISTS changed_seq BIGINT;
-- Per step: the change clock its last committed plan saw, and what that plan compared
-- (version, candidate query); the next plan with the same key starts from there.
CREATE TABLE IF NOT EXISTS enrich.plan_marks (
    project VARCHAR NOT NULL,
    extractor VARCHAR NOT NULL,
    plan_key VARCHAR NOT NULL,
    seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS enrich.code_symbols (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    language VARCHAR,
    kind VARCHAR,
    name VARCHAR,
    qualified_name VARCHAR,
    start_line BIGINT,
    end_line BIGINT,
    doc VARCHAR,
    parent VARCHAR
);
CREATE TABLE IF NOT EXISTS enrich.code_imports (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    language VARCHAR,
    module VARCHAR,
    name VARCHAR,
    line BIGINT
);
CREATE TABLE IF NOT EXISTS enrich.config_keys (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    format VARCHAR,
    doc_index INTEGER,
    key_path VARCHAR,
    value_type VARCHAR,
    value_fingerprint VARCHAR,
    is_secret_key BOOLEAN,
    display_value VARCHAR,
    line BIGINT
);
CREATE TABLE IF NOT EXISTS enrich.k8s_resources (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    doc_index INTEGER,
    object_path VARCHAR,
    api_version VARCHAR,
    kind VARCHAR,
    name VARCHAR,
    namespace VARCHAR,
    images VARCHAR[],
    replicas BIGINT,
    resources JSON,
    labels JSON,
    line BIGINT
);
CREATE TABLE IF NOT EXISTS enrich.config_drift (
    project VARCHAR NOT NULL,
    config_identity VARCHAR NOT NULL,
    key_path VARCHAR,
    drift_kind VARCHAR NOT NULL,
    environments_present VARCHAR[],
    environments_missing VARCHAR[],
    values_by_env JSON,
    doc_index INTEGER
);
CREATE TABLE IF NOT EXISTS enrich.declared_dependencies (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    ecosystem VARCHAR,
    name VARCHAR,
    version_spec VARCHAR,
    kind VARCHAR,
    scope_detail VARCHAR,
    line BIGINT,
    target_path VARCHAR,
    details JSON
);
CREATE TABLE IF NOT EXISTS enrich.dependency_edges (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    ecosystem VARCHAR,
    parent VARCHAR,
    parent_version VARCHAR,
    child VARCHAR,
    child_version VARCHAR
);
CREATE TABLE IF NOT EXISTS enrich.dependency_provides (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    ecosystem VARCHAR,
    name VARCHAR
);
CREATE TABLE IF NOT EXISTS enrich.import_edges (
    project VARCHAR NOT NULL,
    source_path VARCHAR NOT NULL,
    language VARCHAR,
    module VARCHAR,
    line BIGINT,
    target_path VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS enrich.dependency_usage (
    project VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    ecosystem VARCHAR,
    name VARCHAR,
    source_path VARCHAR,
    module VARCHAR
);
CREATE TABLE IF NOT EXISTS enrich.sboms (
    project VARCHAR NOT NULL,
    input_digest VARCHAR NOT NULL,
    object_key VARCHAR NOT NULL,
    uri VARCHAR NOT NULL,
    components BIGINT,
    built_at TIMESTAMPTZ NOT NULL
);
CREATE OR REPLACE VIEW enrich.dependencies AS
    SELECT d.project, d.path AS source_path, d.scope, d.ecosystem, d.name, d.version_spec, d.kind,
           d.scope_detail, d.line, d.target_path,
           CASE WHEN u.name IS NOT NULL THEN 'declared-unused'
                WHEN d.kind = 'declared' AND d.scope = 'external' AND d.ecosystem IN ('pypi', 'npm', 'go')
                THEN 'used' END AS usage
    FROM enrich.declared_dependencies d
    LEFT JOIN (SELECT DISTINCT project, ecosystem, name, source_path FROM enrich.dependency_usage
               WHERE status = 'declared-unused') u
      ON u.project = d.project AND u.ecosystem = d.ecosystem AND u.name = d.name AND u.source_path = d.path
         AND d.kind = 'declared'
    UNION ALL
    SELECT project, source_path, 'internal', language, module, NULL, 'import', 'import', line, target_path, NULL
    FROM enrich.import_edges
    UNION ALL
    SELECT project, source_path, 'external', ecosystem, name, NULL, 'import', 'undeclared', NULL, NULL,
           'imported-undeclared'
    FROM enrich.dependency_usage WHERE status = 'imported-undeclared';
CREATE OR REPLACE VIEW enrich.image_references AS
    SELECT project, path, name AS image, version_spec AS reference,
           coalesce(version_spec = 'latest' OR version_spec LIKE 'latest@%'
                    OR (version_spec IS NULL AND json_extract_string(details, '$.tag_default') IS NULL),
                    false) AS floating_latest,
           json_extract_string(details, '$.tag_default') AS tag_default,
           line
    FROM enrich.declared_dependencies WHERE kind = 'image';
CREATE SCHEMA IF NOT EXISTS security;
CREATE TABLE IF NOT EXISTS security.file_matches (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    title VARCHAR,
    severity VARCHAR NOT NULL,
    confidence VARCHAR,
    line BIGINT,
    col BIGINT,
    context VARCHAR,
    member VARCHAR,
    fingerprint VARCHAR NOT NULL,
    redacted VARCHAR,
    message VARCHAR,
    resource VARCHAR,
    allowed_inline BOOLEAN,
    end_line BIGINT  -- last line a multi-line secret spans; NULL: `line` only
);
ALTER TABLE security.file_matches ADD COLUMN IF NOT EXISTS end_line BIGINT;
CREATE TABLE IF NOT EXISTS security.history_commits (
    project VARCHAR NOT NULL,
    sha VARCHAR NOT NULL,
    version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS security.history_matches (
    project VARCHAR NOT NULL,
    sha VARCHAR NOT NULL,
    author VARCHAR,
    authored_at TIMESTAMPTZ,
    path VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    title VARCHAR,
    severity VARCHAR NOT NULL,
    confidence VARCHAR,
    line BIGINT,
    context VARCHAR,
    member VARCHAR,
    fingerprint VARCHAR NOT NULL,
    redacted VARCHAR,
    allowed_inline BOOLEAN
);
CREATE TABLE IF NOT EXISTS security.findings (
    project VARCHAR NOT NULL,
    finding_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    title VARCHAR,
    severity VARCHAR NOT NULL,
    confidence VARCHAR,
    path VARCHAR NOT NULL,
    line BIGINT,
    location VARCHAR NOT NULL,
    sha VARCHAR,
    author VARCHAR,
    authored_at TIMESTAMPTZ,
    member VARCHAR,
    context VARCHAR,
    fingerprint VARCHAR NOT NULL,
    redacted VARCHAR,
    message VARCHAR,
    resource VARCHAR,
    in_working_tree BOOLEAN,
    suppressed BOOLEAN NOT NULL,
    suppression VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    is_new BOOLEAN NOT NULL,
    end_line BIGINT
);
ALTER TABLE security.findings ADD COLUMN IF NOT EXISTS end_line BIGINT;
CREATE TABLE IF NOT EXISTS security.finding_first_seen (
    project VARCHAR NOT NULL,
    finding_id VARCHAR NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS security.scan_runs (
    project VARCHAR NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    version VARCHAR NOT NULL,
    findings BIGINT,
    new_findings BIGINT,
    resolved_findings BIGINT,
    suppression_errors JSON
);
CREATE TABLE IF NOT EXISTS security.file_sensitivity (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    level VARCHAR NOT NULL,
    path_rule VARCHAR,
    evidence VARCHAR[],
    ruleset_version VARCHAR NOT NULL
);
CREATE OR REPLACE VIEW security.secrets AS
    SELECT project, fingerprint, any_value(rule) AS rule, any_value(title) AS title,
           min(coalesce(list_position({severities}, severity), len({severities}) + 1) - 1) AS severity_rank,
           any_value(redacted) AS redacted, count(*) AS locations,
           count(DISTINCT path) FILTER (WHERE location = 'file') AS files,
           count(DISTINCT sha) FILTER (WHERE location = 'history') AS commits,
           bool_or(location = 'file') AS on_disk, bool_and(suppressed) AS suppressed,
           list(DISTINCT path ORDER BY path) AS paths, min(first_seen_at) AS first_seen_at
    FROM security.findings WHERE source = 'secret' GROUP BY project, fingerprint;
CREATE SCHEMA IF NOT EXISTS vectors;
-- every vector ever computed, by model and content (the embedding store behind the cache)
CREATE TABLE IF NOT EXISTS vectors.embeddings (
    model_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    dim INTEGER NOT NULL,
    vector FLOAT[] NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model_id, content_hash)
);

CREATE TABLE IF NOT EXISTS vectors.chunks (
    project VARCHAR NOT NULL,
    chunk_id VARCHAR NOT NULL,
    index_name VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    start_line BIGINT NOT NULL,
    end_line BIGINT NOT NULL,
    symbol VARCHAR,
    kind VARCHAR,
    content_hash VARCHAR NOT NULL,
    tokens BIGINT NOT NULL,
    file_level VARCHAR NOT NULL,
    sensitivity VARCHAR NOT NULL,
    sensitivity_rank INTEGER NOT NULL,
    text VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors.skipped_files (
    project VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    reason VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors.indexed (
    project VARCHAR NOT NULL,
    index_name VARCHAR NOT NULL,
    chunk_id VARCHAR NOT NULL,
    model_id VARCHAR NOT NULL,
    sensitivity_rank INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vectors.search_audit (
    searched_at TIMESTAMPTZ NOT NULL,
    caller VARCHAR,
    clearance VARCHAR NOT NULL,
    query_hash VARCHAR NOT NULL,
    indexes VARCHAR[],
    projects VARCHAR[],
    k INTEGER,
    results_returned INTEGER NOT NULL,
    results_withheld INTEGER NOT NULL,
    ms DOUBLE
);
CREATE OR REPLACE VIEW enrich.parse_errors AS
    SELECT project, extractor, path, error, error_line FROM enrich.processed WHERE error IS NOT NULL;
CREATE OR REPLACE VIEW inventory.file_history AS
    SELECT c.project, ch.path,
           arg_max(c.sha, c.authored_at) AS last_commit,
           arg_max(c.author, c.authored_at) AS last_author,
           max(c.authored_at) AS last_commit_at,
           count(DISTINCT c.sha) AS commit_count,
           min(c.authored_at) AS first_seen
    FROM inventory.git_file_changes ch
    JOIN inventory.git_commits c ON c.project = ch.project AND c.sha = ch.sha
    GROUP BY c.project, ch.path;
CREATE OR REPLACE VIEW inventory.files_with_history AS
    SELECT f.*, h.last_commit, h.last_author, h.last_commit_at, h.commit_count, h.first_seen
    FROM inventory.files f
    LEFT JOIN inventory.file_history h ON h.project = f.project AND h.path = f.path;
CREATE OR REPLACE VIEW inventory.largest_files AS
    SELECT project, path, size, file_type, git_status
    FROM inventory.files WHERE kind = 'file'
    ORDER BY size DESC;
CREATE OR REPLACE VIEW inventory.type_summary AS
    SELECT project, file_type, count(*) AS files, sum(size) AS bytes
    FROM inventory.files WHERE kind = 'file'
    GROUP BY project, file_type
    ORDER BY bytes DESC;
CREATE OR REPLACE VIEW inventory.churn_hotspots AS
    SELECT ch.project, ch.path,
           count(DISTINCT ch.sha) AS commits,
           sum(ch.lines_added + ch.lines_deleted) AS lines_changed,
           count(DISTINCT c.author) AS authors
    FROM inventory.git_file_changes ch
    JOIN inventory.git_commits c ON c.project = ch.project AND c.sha = ch.sha
    GROUP BY ch.project, ch.path
    ORDER BY commits DESC, lines_changed DESC;
""".replace("{severities}", SEVERITY_SQL_LIST)  # one severity order, security.SEVERITIES


def tick_change_clock(con: duckdb.DuckDBPyConnection) -> int:
    """Advance the change clock inside the caller's write transaction; returns the new value."""
    return con.execute("UPDATE inventory.change_clock SET seq = seq + 1 RETURNING seq").fetchall()[0][0]


class WarehouseLockTimeout(RuntimeError):
    """Another process held the warehouse longer than the configured timeout."""


class _Engine:
    """This process's DuckDB: one in-memory instance that warehouse files are attached to.

    A file stays attached while any `Warehouse.read`/`write` in this process uses it (readers in
    several threads share one attachment) and is detached when the last one ends. A forked
    child never touches its parent's instance: it starts its own.

    After a heavy use (the process holds HEAVY_USE_BYTES more than when the use began: a full
    inventory's insert and checkpoint, say) the instance is closed once nothing is attached:
    DuckDB's allocator keeps the pages such a use freed (measured: two refreshes of a
    295,523-entry tree peaked at 641 MB instead of 505 MB), and the next use starts a new one."""

    def __init__(self, first_path: Path):
        self.pid = os.getpid()
        self.closed = False
        # Spill files beside the first warehouse, as `duckdb.connect(file)` would put them.
        self.db = duckdb.connect(":memory:", config={"temp_directory": str(first_path) + ".tmp"})
        self.lock = threading.Lock()
        self.attached: dict[str, list] = {}  # file -> [alias, read_only, users]
        self.aliases = itertools.count()

    def attach(self, path: Path, read_only: bool) -> tuple[str, duckdb.DuckDBPyConnection]:
        """The file's alias, attaching it if no one in this process has, and a new connection."""
        key = str(path)
        with self.lock:
            if self.closed:
                raise _EngineClosed
            entry = self.attached.get(key)
            if entry is None:
                alias = f"anfl_warehouse_{next(self.aliases)}"
                mode = " (READ_ONLY)" if read_only else ""
                self.db.execute(f"ATTACH '{key.replace(chr(39), chr(39) * 2)}' AS {alias}{mode}")
                entry = self.attached[key] = [alias, read_only, 0]
            elif entry[1] != read_only:  # the flock rules this out; say so if it ever happens
                raise RuntimeError(f"{key} is attached {'read-only' if entry[1] else 'read-write'} in this process")
            entry[2] += 1
            return entry[0], self.db.cursor()

    def detach(self, path: Path, checkpoint: bool = True) -> None:
        key = str(path)
        with self.lock:
            entry = self.attached[key]
            entry[2] -= 1
            if entry[2]:
                return
            del self.attached[key]
            try:
                if checkpoint:
                    self.db.execute(f"DETACH {entry[0]}")
                    return
                self.db.execute("PRAGMA disable_checkpoint_on_shutdown")
                try:
                    self.db.execute(f"DETACH {entry[0]}")
                finally:
                    self.db.execute("PRAGMA enable_checkpoint_on_shutdown")
            except BaseException:  # (a full disk at the checkpoint, say) the file may still be attached:
                self.closed = True  # close everything so that the next use starts clean
                self.db.close()
                raise

    def close_if_idle(self) -> None:
        with self.lock:
            if not self.attached and not self.closed:
                self.closed = True
                self.db.close()


class _EngineClosed(Exception):
    """The engine was closed after a heavy use between looking it up and attaching: take a new one."""


# A use after which this process holds this much more memory closes the engine (see _Engine).
HEAVY_USE_BYTES = 64 << 20

_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _process_engine(path: Path) -> _Engine:
    global _engine
    with _engine_lock:
        if _engine is None or _engine.closed or _engine.pid != os.getpid():
            _engine = _Engine(path)
        return _engine


def close_process_duckdb() -> None:
    """Close this process's DuckDB if no use holds it, so the next use starts one, as a new
    process would (`bench_enrichment.py --fresh-duckdb-per-step` charges each step that start)."""
    with _engine_lock:
        engine = _engine
    if engine is not None and engine.pid == os.getpid():
        engine.close_if_idle()


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _resident_bytes() -> int:
    """This process's resident memory (/proc/self/statm; 0 where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return 0


class Warehouse:
    """Locked, short-lived uses of one warehouse file, attached to this process's DuckDB."""

    def __init__(self, path: Path, lock_timeout_s: float = 600.0):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout_s = lock_timeout_s
        self._schema_ready = False

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            deadline = time.monotonic() + self.lock_timeout_s
            delay = 0.005
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WarehouseLockTimeout(
                            f"warehouse {self.path} stayed locked for {self.lock_timeout_s:.0f}s "
                            "(raise ANFL_LOCK_TIMEOUT_S or look for a stuck process)"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    @contextmanager
    def _open(self, read_only: bool, checkpoint: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of this process's DuckDB with the file attached and made the default
        database, so queries name tables as `schema.table`. Call under the flock."""
        while True:
            engine = _process_engine(self.path)
            try:
                alias, con = engine.attach(self.path, read_only)
                break
            except _EngineClosed:
                continue
        resident = _resident_bytes()
        try:
            con.execute(f"USE {alias}")
            yield con
        finally:
            try:
                con.close()
            finally:
                engine.detach(self.path, checkpoint)
                if _resident_bytes() - resident > HEAVY_USE_BYTES:
                    engine.close_if_idle()

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._locked(exclusive=True), self._open(read_only=False) as con:
            con.execute(SCHEMA_SQL)
        self._schema_ready = True

    @contextmanager
    def write(self, on_commit: Callable[[], None] | None = None,
              checkpoint: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection inside one transaction, committed on success.

        `on_commit` runs after the commit and the detach, still under the write lock, so it sees
        the file exactly as this write left it (e.g. to stamp a cache of the warehouse).
        `checkpoint=False` (for small writes) leaves the committed changes in DuckDB's write-ahead
        log instead of folding them into the file at the detach, which costs tens of milliseconds:
        the next use replays the log, and the next default write, or DuckDB itself once the log
        passes its threshold, folds it in. Durability is the same either way."""
        self._ensure_schema()
        with self._locked(exclusive=True):
            with self._open(read_only=False, checkpoint=checkpoint) as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            if on_commit is not None:
                on_commit()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection; many may be open at once across processes and threads."""
        self._ensure_schema()
        with self._locked(exclusive=False), self._open(read_only=True) as con:
            yield con

    def query(self, sql: str, params: list | None = None) -> pa.Table:
        with self.read() as con:
            return con.sql(sql, params=params or None).to_arrow_table()

    def replace_project_rows(self, rows_by_table: dict[str, pa.Table], project: str) -> None:
        """Swap one project's rows in several tables in one transaction; other projects untouched."""
        with self.write() as con:
            for table, rows in rows_by_table.items():
                con.execute(f"DELETE FROM {table} WHERE project = ?", [project])
                insert_rows(con, table, rows)


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    """Append an Arrow table's rows to `table`, matching columns by name."""
    if rows.num_rows:
        con.register("incoming_rows", rows)
        cols = ", ".join(f'"{c}"' for c in rows.column_names)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM incoming_rows")
        con.unregister("incoming_rows")
