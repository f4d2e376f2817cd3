"""The `anfl` command as scripts use it: stable verbs, JSON output, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def anfl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "anfl_assets.cli", *args], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"anfl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "estate"
    (root / "configs").mkdir(parents=True)
    (root / "configs" / "app.yaml").write_text("replicas: 3\nimage: web:1.2\n")
    (root / "run.sh").write_text("#!/bin/sh\necho hello\n")
    (root / "big.bin").write_bytes(os.urandom(300_000))
    return root


def test_register_run_and_query(anfl_home, tree):
    assert "registered svc" in anfl("project", "add", "svc", str(tree)).stdout
    listed = json.loads(anfl("project", "list", "--json").stdout)
    assert listed[0]["name"] == "svc" and listed[0]["root"] == str(tree.resolve()) and listed[0]["is_git"] is False
    out = anfl("run", "svc").stdout
    assert "svc: materialized 13 asset(s), 11/11 checks passed" in out
    rows = json.loads(anfl("sql", "SELECT path, file_type, size FROM inventory.files ORDER BY path", "--json").stdout)
    assert rows == [
        {"path": "big.bin", "file_type": "binary", "size": 300_000},
        {"path": "configs/app.yaml", "file_type": "yaml", "size": 27},
        {"path": "run.sh", "file_type": "shell", "size": 21},
    ]
    table = anfl("sql", "SELECT count(*) AS files FROM inventory.files").stdout
    assert "files" in table and "3" in table and "(1 row)" in table


def test_run_selected_assets_only(anfl_home, tree):
    anfl("project", "add", "svc", str(tree))
    out = anfl("run", "svc", "--select", "git_history").stdout
    assert "materialized 1 asset(s)" in out
    assert json.loads(anfl("sql", "SELECT count(*) AS n FROM inventory.files", "--json").stdout) == [{"n": 0}]
    bad = anfl("run", "svc", "--select", "no_such_asset", check=False)
    assert bad.returncode == 1 and "unknown asset(s): no_such_asset" in bad.stderr


@pytest.mark.parametrize("args, message", [
    (("sql", "SELEC nonsense"), "anfl: error: Parser Error"),
    (("run", "ghost"), "no project named 'ghost'"),
    (("project", "add", "x", "/definitely/not/here"), "is not a directory"),
])
def test_errors_are_one_line_without_traceback(anfl_home, args, message):
    proc = anfl(*args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_debug_shows_the_traceback(anfl_home):
    proc = anfl("--debug", "run", "ghost", check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_same_name_other_root_is_refused(anfl_home, tree, tmp_path):
    anfl("project", "add", "svc", str(tree))
    other = tmp_path / "other"
    other.mkdir()
    proc = anfl("project", "add", "svc", str(other), check=False)
    assert proc.returncode == 1 and "already registered with root" in proc.stderr


HOLD_WAREHOUSE = """
import sys, time
from anfl_assets.domain.warehouse import Warehouse
with Warehouse(sys.argv[1]).write():
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_a_run_killed_half_way_loses_nothing_and_the_rerun_completes(anfl_home, tmp_path):
    """SIGKILL while a run is mid-way (its warehouse write held up by another writer):
    the previous inventory stays intact, the lock dies with the process, a re-run finishes."""
    import signal
    import time

    root = tmp_path / "tree"
    for d in range(10):
        (root / f"d{d}").mkdir(parents=True)
        for f in range(10):
            (root / f"d{d}" / f"blob{f}.bin").write_bytes(os.urandom(20_000))
    anfl("project", "add", "tree", str(root))
    anfl("run", "tree")
    query = "SELECT path, size, blake3 FROM inventory.files ORDER BY path"
    before = anfl("sql", query, "--json").stdout
    for f in (root / "d0").iterdir():
        f.write_bytes(os.urandom(30_000))

    holder = subprocess.Popen([sys.executable, "-c", HOLD_WAREHOUSE, str(anfl_home / "warehouse.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"locked"
    run = subprocess.Popen([sys.executable, "-m", "anfl_assets.cli", "run", "tree"], env=os.environ.copy(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(5)
    assert run.poll() is None, "the run should be waiting for the warehouse"
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    holder.communicate(b"\n", timeout=30)

    assert anfl("sql", query, "--json").stdout == before
    anfl("run", "tree")
    rows = json.loads(anfl("sql", query, "--json").stdout)
    assert len(rows) == 100 and all(r["blake3"] for r in rows)
    assert {r["size"] for r in rows if r["path"].startswith("d0/")} == {30_000}
