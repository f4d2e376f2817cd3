"""The warehouse: per-project replacement in one transaction, and the cross-process lock."""

import subprocess
import sys
import time

import pyarrow as pa
import pytest

from anfl_assets.domain.projects import ProjectError, get_project, register_project
from anfl_assets.domain.warehouse import Warehouse, WarehouseLockTimeout


def _commits(project: str, shas: list[str]) -> pa.Table:
    return pa.table({"project": [project] * len(shas), "sha": shas, "author": ["a"] * len(shas)})


def test_replace_touches_only_one_project(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.replace_project_rows({"inventory.git_commits": _commits("a", ["1", "2"])}, "a")
    wh.replace_project_rows({"inventory.git_commits": _commits("b", ["3"])}, "b")
    wh.replace_project_rows({"inventory.git_commits": _commits("a", ["4"])}, "a")
    rows = wh.query("SELECT project, sha FROM inventory.git_commits ORDER BY sha").to_pylist()
    assert rows == [{"project": "b", "sha": "3"}, {"project": "a", "sha": "4"}]


def test_failed_replacement_rolls_back_every_table(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.replace_project_rows({"inventory.git_commits": _commits("a", ["1"])}, "a")
    bad = pa.table({"project": ["a"], "no_such_column": [1]})
    with pytest.raises(Exception):
        wh.replace_project_rows({"inventory.git_commits": _commits("a", ["2"]),
                                 "inventory.git_file_changes": bad}, "a")
    assert wh.query("SELECT sha FROM inventory.git_commits").to_pylist() == [{"sha": "1"}]


HOLD_LOCK = """
import sys, time
from anfl_assets.domain.warehouse import Warehouse
wh = Warehouse(sys.argv[1])
with wh.write() as con:
    con.execute("INSERT INTO inventory.git_commits (project, sha) VALUES ('held', 'x')")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_writer_in_another_process_is_waited_for_not_failed(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse(path).query("SELECT 1")  # create the schema
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), "1.5"], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"locked"
    t0 = time.monotonic()
    rows = Warehouse(path).query("SELECT count(*) AS n FROM inventory.git_commits").to_pylist()
    waited = time.monotonic() - t0
    holder.wait(timeout=30)
    assert rows == [{"n": 1}]  # saw the committed row, after the writer finished
    assert waited > 0.5


def test_lock_timeout_says_what_to_do(tmp_path):
    path = tmp_path / "w.duckdb"
    Warehouse(path).query("SELECT 1")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), "5"], stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"locked"
    try:
        with pytest.raises(WarehouseLockTimeout, match="ANFL_LOCK_TIMEOUT_S"):
            Warehouse(path, lock_timeout_s=0.3).query("SELECT 1")
    finally:
        holder.kill()
        holder.wait()


def test_project_registration_refuses_another_root(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    project, created = register_project(wh, "svc", tmp_path / "one")
    assert created and project.root == (tmp_path / "one").resolve() and not project.is_git
    assert register_project(wh, "svc", tmp_path / "one")[1] is False
    with pytest.raises(ProjectError, match="already registered with root"):
        register_project(wh, "svc", tmp_path / "two")
    with pytest.raises(ProjectError, match="not a directory"):
        register_project(wh, "other", tmp_path / "missing")
    with pytest.raises(ProjectError, match="partition key"):
        register_project(wh, "bad name!", tmp_path / "two")
    assert get_project(wh, "svc").root == (tmp_path / "one").resolve()
    row = wh.query("SELECT name, root, is_git, added_at FROM inventory.projects").to_pylist()[0]
    assert row["root"] == str((tmp_path / "one").resolve()) and row["added_at"] is not None


def test_a_write_without_checkpoint_is_committed_in_the_log_and_folded_by_the_next_write(tmp_path):
    """checkpoint=False leaves the commit in DuckDB's write-ahead log: readers (read-only, other
    processes included) see it, and the next default write folds the log into the file."""
    wh = Warehouse(tmp_path / "w.duckdb")
    wal = tmp_path / "w.duckdb.wal"
    with wh.write() as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    with wh.write(checkpoint=False) as con:
        con.execute("INSERT INTO t VALUES (1), (2)")
    assert wal.exists() and wal.stat().st_size > 0
    assert wh.query("SELECT sum(x) AS s FROM t").to_pylist() == [{"s": 3}]
    out = subprocess.run([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
                          "print(c.execute('SELECT sum(x) FROM t').fetchall()[0][0])", str(tmp_path / "w.duckdb")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"
    with wh.write() as con:
        con.execute("INSERT INTO t VALUES (4)")
    assert not wal.exists() or wal.stat().st_size == 0
    assert wh.query("SELECT sum(x) AS s FROM t").to_pylist() == [{"s": 7}]


def test_the_file_is_attached_only_while_used_and_shared_by_concurrent_readers(tmp_path):
    """One DuckDB per process; the warehouse file is attached for a use and detached after it,
    so another process can write as soon as this one is done, and two reading threads share
    one attachment instead of failing on a second one."""
    import threading

    from anfl_assets.domain import warehouse as warehouse_module

    wh = Warehouse(tmp_path / "w.duckdb")
    wh.replace_project_rows({"inventory.git_commits": _commits("a", ["1", "2"])}, "a")
    engine = warehouse_module._process_engine(wh.path)
    assert engine.attached == {}
    both_in, results = threading.Barrier(2, timeout=10), []

    def reader():
        with wh.read() as con:
            both_in.wait()  # both threads hold the file at once
            results.append(con.execute("SELECT count(*) FROM inventory.git_commits").fetchall()[0][0])
            assert engine.attached[str(wh.path)][2] >= 1

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [2, 2] and engine.attached == {}
    out = subprocess.run([sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                          "c.execute(\"INSERT INTO inventory.git_commits (project, sha) VALUES ('b', '9')\"); "
                          "c.close()", str(wh.path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # DuckDB's own lock on the file went with the detach
    assert wh.query("SELECT count(*) AS n FROM inventory.git_commits").to_pylist() == [{"n": 3}]
    with pytest.raises(Exception):
        with wh.write() as con:
            con.execute("INSERT INTO inventory.git_commits (project, sha) VALUES ('c', '10')")
            raise RuntimeError("failed half-way")
    assert engine.attached == {} and wh.query("SELECT count(*) AS n FROM inventory.git_commits").to_pylist() == [{"n": 3}]


def test_a_forked_child_starts_its_own_duckdb(tmp_path):
    import os

    from anfl_assets.domain import warehouse as warehouse_module

    wh = Warehouse(tmp_path / "w.duckdb")
    wh.replace_project_rows({"inventory.git_commits": _commits("a", ["1"])}, "a")
    parent_engine = warehouse_module._process_engine(wh.path)
    pid = os.fork()
    if pid == 0:  # the child: its own engine, the parent's left alone
        code = 1
        try:
            engine = warehouse_module._process_engine(wh.path)
            wh.replace_project_rows({"inventory.git_commits": _commits("a", ["2"])}, "a")
            code = 0 if engine is not parent_engine and engine.pid == os.getpid() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert warehouse_module._process_engine(wh.path) is parent_engine
    assert wh.query("SELECT sha FROM inventory.git_commits").to_pylist() == [{"sha": "2"}]


def test_a_heavy_use_closes_the_processs_duckdb_once_nothing_is_attached(tmp_path, monkeypatch):
    """DuckDB's allocator keeps what a big insert freed; a use after which the process holds
    HEAVY_USE_BYTES more closes the instance (when no other use has the file) and the next use
    starts a new one. Light uses keep reusing the same instance."""
    import threading

    from anfl_assets.domain import warehouse as warehouse_module

    wh = Warehouse(tmp_path / "w.duckdb")
    wh.replace_project_rows({"inventory.git_commits": _commits("a", ["1"])}, "a")
    monkeypatch.setattr(warehouse_module, "HEAVY_USE_BYTES", 1 << 40)
    light = warehouse_module._process_engine(wh.path)
    wh.query("SELECT 1")
    assert warehouse_module._process_engine(wh.path) is light and not light.closed

    monkeypatch.setattr(warehouse_module, "HEAVY_USE_BYTES", -1)  # every use counts as heavy
    reading, release = threading.Event(), threading.Event()

    def long_reader():
        with wh.read() as con:
            reading.set()
            release.wait(10)
            assert con.execute("SELECT count(*) FROM inventory.git_commits").fetchall() == [(1,)]

    t = threading.Thread(target=long_reader)
    t.start()
    reading.wait(10)
    wh.query("SELECT 1")  # heavy, but the other thread still has the file: the instance stays
    assert not light.closed
    release.set()
    t.join()
    assert light.closed  # the last use ended: closed
    assert wh.query("SELECT count(*) AS n FROM inventory.git_commits").to_pylist() == [{"n": 1}]
    assert warehouse_module._process_engine(wh.path) is not light
    current = warehouse_module._process_engine(wh.path)
    warehouse_module.close_process_duckdb()  # what a new process starts with: no DuckDB yet
    assert current.closed and warehouse_module._process_engine(wh.path) is not current


def test_a_failed_detach_closes_the_duckdb_and_the_next_use_starts_clean(tmp_path):
    """If detaching fails (a full disk at the checkpoint, say) the file may still be attached to
    this process's DuckDB; that DuckDB is closed, so the next use does not trip over it."""
    from anfl_assets.domain import warehouse as warehouse_module

    wh = Warehouse(tmp_path / "w.duckdb")
    wh.replace_project_rows({"inventory.git_commits": _commits("a", ["1"])}, "a")
    engine = warehouse_module._process_engine(wh.path)
    real_db = engine.db

    class FailingDetach:
        def execute(self, sql, *args):
            if sql.startswith("DETACH"):
                raise OSError(28, "No space left on device")
            return real_db.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(real_db, name)

    engine.db = FailingDetach()
    with pytest.raises(OSError, match="No space"):
        wh.query("SELECT 1")
    assert engine.closed
    assert wh.query("SELECT count(*) AS n FROM inventory.git_commits").to_pylist() == [{"n": 1}]
    assert warehouse_module._process_engine(wh.path) is not engine
