"""file_inventory and git_history as Dagster runs: metadata, checks, partitions, concurrency."""

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetCheckKey, AssetKey, DagsterInstance, execute_job, reconstructable

from anfl_assets.domain.projects import register_project
from anfl_assets.domain.warehouse import Warehouse

from .job_for_tests import definitions, keys_of_groups, scan_project_job


def _make_tree(root: Path, files: int = 40) -> None:
    for i in range(files):
        path = root / f"pkg{i % 4}" / f"module_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'"""Module {i}."""\n\ndef f{i}():\n    return {i}\n')


def _register(anfl_home: Path, name: str, root: Path, instance: DagsterInstance) -> Warehouse:
    wh = Warehouse(anfl_home / "warehouse.duckdb")
    register_project(wh, name, root)
    instance.add_dynamic_partitions("projects", [name])
    return wh


def test_materialize_project_with_metadata_and_passing_checks(anfl_home, git_repo):
    for i in range(5):
        git_repo.commit(f"change {i}", {f"src/m{i}.py": f"x = {i}\n", "README.md": f"rev {i}\n"},
                        author=["Ada L <ada@example.com>", "Linus T <linus@example.com>"][i % 2])
    (git_repo.root / "scratch.txt").write_text("untracked\n")
    with DagsterInstance.get() as instance:
        wh = _register(anfl_home, "svc", git_repo.root, instance)
        result = scan_project_job().execute_in_process(partition_key="svc", instance=instance)
        assert result.success
        by_asset = {m.asset_key.to_user_string(): m.metadata
                    for m in result.asset_materializations_for_node("file_inventory")
                    + result.asset_materializations_for_node("git_history")}
        inv = by_asset["file_inventory"]
        assert inv["files"].value == 7 and inv["new"].value == 7 and inv["deleted"].value == 0
        assert inv["bytes read"].value == sum(p.stat().st_size for p in git_repo.root.rglob("*")
                                              if p.is_file() and ".git" not in p.parts)
        assert {r.data["type"] for r in inv["top types"].value.records} >= {"python", "markdown"}
        assert by_asset["git_history"]["commits"].value == 5
        assert by_asset["git_history"]["authors"].value == 2
        checks = result.get_asset_check_evaluations()
        assert len(checks) == 11 and all(c.passed for c in checks)  # every phase's checks

        hist = wh.query("SELECT path, commit_count, last_author FROM inventory.files_with_history "
                        "WHERE project = 'svc' ORDER BY path").to_pylist()
        readme = next(r for r in hist if r["path"] == "README.md")
        assert readme["commit_count"] == 5 and readme["last_author"] == "Ada L"
        assert next(r for r in hist if r["path"] == "scratch.txt")["commit_count"] is None

        # Re-materializing reads nothing that did not change.
        again = scan_project_job().execute_in_process(partition_key="svc", instance=instance,
                                                      asset_selection=keys_of_groups("inventory"))
        meta = again.asset_materializations_for_node("file_inventory")[0].metadata
        assert meta["bytes read"].value == 0 and meta["unchanged (not read)"].value == 7


def test_check_fails_when_rows_and_disk_disagree(anfl_home, tmp_path):
    root = tmp_path / "tree"
    _make_tree(root, 10)
    with DagsterInstance.get() as instance:
        _register(anfl_home, "tree", root, instance)
        assert scan_project_job().execute_in_process(partition_key="tree", instance=instance,
                                                     asset_selection=keys_of_groups("inventory")).success
        (root / "late_arrival.py").write_text("x = 1\n")
        check_job = definitions().resolve_implicit_global_asset_job_def().get_subset(
            asset_check_selection={AssetCheckKey(AssetKey("file_inventory"), "inventory_matches_disk")},
            asset_selection=set())
        result = check_job.execute_in_process(partition_key="tree", instance=instance, raise_on_error=False)
        (evaluation,) = result.get_asset_check_evaluations()
        assert not evaluation.passed
        assert evaluation.metadata["rows"].value == 10 and evaluation.metadata["on disk"].value == 11


def test_parallel_steps_and_concurrent_runs_never_fail_on_the_warehouse_lock(anfl_home, tmp_path):
    """Three `anfl run` processes at once (two on one project) plus multiprocess steps in each."""
    roots = {}
    for name in ("alpha", "beta"):
        roots[name] = tmp_path / name
        _make_tree(roots[name], 120)
    with DagsterInstance.get() as instance:
        for name, root in roots.items():
            _register(anfl_home, name, root, instance)
        # Parallel steps of one run: the multiprocess executor runs both assets at once.
        result = execute_job(reconstructable(scan_project_job), instance=instance,
                             tags={"dagster/partition": "alpha"},
                             run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}})
        assert result.success
    env = {**os.environ}
    anfl = [sys.executable, "-m", "anfl_assets.cli"]
    # the concurrent runs write every table but the vector indexes (embedding adds minutes, not contention)
    select = ",".join(k.to_user_string() for k in keys_of_groups("inventory", "enrichment", "security"))
    procs = [subprocess.Popen([*anfl, "run", name, "--select", select], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for name in ("alpha", "beta", "alpha")]
    outcomes = [(p.wait(timeout=300), p.stderr.read().decode()) for p in procs]
    assert all(code == 0 for code, _ in outcomes), outcomes
    counts = Warehouse(anfl_home / "warehouse.duckdb").query(
        "SELECT project, count(*) AS n FROM inventory.files GROUP BY project ORDER BY project").to_pylist()
    assert counts == [{"project": "alpha", "n": 120}, {"project": "beta", "n": 120}]
