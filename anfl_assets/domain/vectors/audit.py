"""The search audit trail (`vectors.search_audit`) and a cheap change stamp for the warehouse.

Writing one audit row per search costs a write lock and a DuckDB connection (30-50 ms on a busy
machine), more than the search itself. `AuditLog` therefore has two modes:

- write-through (`flush_interval_s=None`): the row is in the table before `record` returns (the
  CLI, tests, anything short-lived);
- buffered (a long-running server): `record` appends the row to a per-process journal file (one
  `write` to an O_APPEND descriptor, no lock, no connection) and counts it; a background thread
  moves batches into the table when searches pause, at the latest `flush_interval_s` seconds after
  the oldest pending row, and `flush()`/`close()` (also run at interpreter exit) do it at once.
  The journal survives a crash of the process: the next `AuditLog` on the same warehouse, in any
  process on the same host, finds journals whose process is gone and inserts them, so no row is
  lost. Delivery is at least once: a crash between the insert's commit
  and the journal's removal (microseconds) would insert that batch again.

`warehouse_stamp` lets readers keep an in-memory copy of warehouse data and know, without opening
a connection, that it is still current: DuckDB rewrites its header blocks (iteration counter) on
every checkpoint and appends to the `.wal` file before that, and read-only connections change
neither, so any committed write changes the stamp.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

log = logging.getLogger(__name__)

AUDIT_SCHEMA = pa.schema([
    ("searched_at", pa.timestamp("us", tz="UTC")), ("caller", pa.string()), ("clearance", pa.string()),
    ("query_hash", pa.string()), ("indexes", pa.list_(pa.string())), ("projects", pa.list_(pa.string())),
    ("k", pa.int32()), ("results_returned", pa.int32()), ("results_withheld", pa.int32()), ("ms", pa.float64()),
])
_HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two alternating database headers


def warehouse_stamp(path: Path) -> tuple | None:
    """Changes whenever a write to the DuckDB file at `path` is committed (see the module docstring).

    About 20 microseconds: two stats and one 12 KB read, no connection."""
    try:
        st = os.stat(path)
        with open(path, "rb") as fh:
            header = hashlib.blake2b(fh.read(_HEADER_BYTES), digest_size=16).digest()
    except FileNotFoundError:
        return None
    try:
        wal = os.stat(f"{path}.wal")
        wal_key = (wal.st_ino, wal.st_size, wal.st_mtime_ns)
    except FileNotFoundError:
        wal_key = None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, header, wal_key)


def audit_row(caller: str | None, clearance: str, query: str, indexes, projects, k: int, returned: int,
              withheld: int, seconds: float) -> dict:
    """One audit row: the query itself is never stored, only its sha256."""
    return {"searched_at": dt.datetime.now(dt.timezone.utc), "caller": caller, "clearance": clearance,
            "query_hash": hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest(),
            "indexes": list(indexes), "projects": list(projects), "k": int(k), "results_returned": int(returned),
            "results_withheld": int(withheld), "ms": seconds * 1000.0}


def _to_json(row: dict) -> bytes:
    return (json.dumps({**row, "searched_at": row["searched_at"].isoformat()}) + "\n").encode()


def _from_json(line: str) -> dict:
    row = json.loads(line)
    row["searched_at"] = dt.datetime.fromisoformat(row["searched_at"])
    return row


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AuditLog:
    """Audit rows of one search service; see the module docstring for the two modes.

    `on_write(before, after)` is called after each insert, still under the write lock, with the
    warehouse stamps taken just before and just after it, so a caller whose copy of the warehouse
    was current at `before` knows it still is at `after` (the insert only added audit rows); while
    an insert runs, `in_flight` is its `before` stamp (the file is changing, but only by this insert).
    It must not wait for the warehouse lock (it runs holding it).

    Buffered mode flushes when no row was recorded for `idle_s` (between bursts of searches), at the
    latest `flush_interval_s` after the oldest pending row, from a thread of lowered priority, so
    that the insert (~20-40 ms of CPU) competes as little as possible with searches."""

    def __init__(self, wh, flush_interval_s: float | None = None,
                 on_write: Callable[[tuple | None, tuple | None], None] | None = None, idle_s: float = 0.25):
        self.wh = wh
        self.flush_interval_s = flush_interval_s
        self.idle_s = idle_s
        self.in_flight: tuple | None = None
        self._first_pending = self._last_record = 0.0
        self.on_write = on_write
        self.journal_dir = Path(wh.path).with_name(Path(wh.path).name + ".audit")
        self._host = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "host"
        self._name = f"{os.getpid()}-{self._host}-{secrets.token_hex(4)}"
        self._lock = threading.Lock()          # pending rows and the journal descriptor
        self._flush_lock = threading.Lock()    # one flush at a time
        self._pending = 0
        self._fd: int | None = None
        self._batches = 0
        self._closed = False
        self._recovered = False
        self._retry = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if flush_interval_s is not None:
            self._thread = threading.Thread(target=self._run, name="anfl-search-audit", daemon=True)
            self._thread.start()
            atexit.register(_close_at_exit, weakref.ref(self))

    # -- recording

    def record(self, row: dict) -> None:
        line = _to_json(row)
        with self._lock:
            if self.flush_interval_s is not None and not self._closed:
                if self._fd is None:
                    self.journal_dir.mkdir(parents=True, exist_ok=True)
                    self._fd = os.open(self.journal_dir / f"{self._name}.jsonl",
                                       os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                os.write(self._fd, line)
                self._last_record = time.monotonic()
                if not self._pending:
                    self._first_pending = self._last_record
                self._pending += 1
                return
        self._insert([row])
        if not self._recovered:  # write-through: pick up journals a crashed server left, once
            self._recovered = True
            if self.journal_dir.exists():
                self.flush()

    def pending(self) -> int:
        """Rows recorded but not yet inserted."""
        with self._lock:
            return self._pending

    # -- flushing

    def flush(self) -> int:
        """Insert every row recorded so far, and journals left by dead processes; rows inserted.

        Rows are read back from the journal files, so a batch whose insert failed stays on disk
        and is retried by the next flush (or, after this process is gone, by another one)."""
        with self._flush_lock:
            with self._lock:
                fd, self._fd = self._fd, None
                if fd is not None:
                    os.close(fd)
                    self._batches += 1
                    os.replace(self.journal_dir / f"{self._name}.jsonl",
                               self.journal_dir / f"{self._name}.{self._batches:09d}.flushing")
                    self._pending = 0
            if not self.journal_dir.exists():
                return 0
            self._claim_orphans()
            done = 0
            for path in sorted(self.journal_dir.glob(f"{self._name}.*")):
                if path.suffix in (".flushing", ".claimed"):
                    rows = [_from_json(line) for line in path.read_text().splitlines() if line.strip()]
                    if rows:
                        self._insert(rows)
                    path.unlink()
                    done += len(rows)
            return done

    def _claim_orphans(self) -> None:
        """Take over the journals of processes of this host that are gone: renamed to ours first,
        so two live processes never both insert one. (A pid says nothing about another host's
        processes, so their journals are left to a process of their own host.)"""
        for path in self.journal_dir.iterdir():
            pid, _, rest = path.name.partition("-")
            if (not pid.isdigit() or not rest.startswith(self._host + "-") or int(pid) == os.getpid()
                    or _pid_alive(int(pid))):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, self.journal_dir / f"{self._name}.0-{path.name}.claimed")

    def _insert(self, rows: list[dict]) -> None:
        from anfl_assets.domain.warehouse import insert_rows

        table = pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)
        before: list[tuple | None] = [None]

        def written() -> None:  # still under the write lock: no other write can come between
            if self.on_write is not None:
                self.on_write(before[0], warehouse_stamp(self.wh.path))

        try:
            with self.wh.write(on_commit=written) as con:
                before[0] = self.in_flight = warehouse_stamp(self.wh.path)
                insert_rows(con, "vectors.search_audit", table)
        finally:
            self.in_flight = None

    def _due(self) -> bool:
        with self._lock:
            if not self._pending:
                return self._retry
            now = time.monotonic()
            return now - self._last_record >= self.idle_s or now - self._first_pending >= self.flush_interval_s

    def _run(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # Linux: niceness is per thread
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        self._retry = self.journal_dir.exists()  # journals left by a crashed process
        while not self._stop.wait(min(self.idle_s, self.flush_interval_s) / 2):
            if self._due():
                try:
                    self.flush()
                    self._retry = False
                except Exception:  # noqa: BLE001 - the journal keeps the rows; the next flush retries
                    self._retry = True
                    log.exception("search audit flush failed; rows kept in %s", self.journal_dir)

    def close(self) -> None:
        """Stop the flusher and insert everything recorded (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self.flush()


def _close_at_exit(ref: weakref.ref) -> None:
    audit = ref()
    if audit is not None:
        try:
            audit.close()
        except Exception:  # noqa: BLE001 - at exit: the journal stays for the next process
            log.exception("search audit: final flush failed; rows kept in %s", audit.journal_dir)
