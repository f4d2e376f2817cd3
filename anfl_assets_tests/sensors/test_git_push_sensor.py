"""git_push_sensor against a real repository: commits, branches, force-pushes, restarts."""

from dagster import DagsterInstance, SensorResult, build_sensor_context

from anfl_assets.domain.projects import register_project
from anfl_assets.domain.warehouse import Warehouse
from anfl_assets.resources import WarehouseResource
from anfl_assets.sensors.git_push import git_push_sensor


def _evaluate(instance, warehouse_path, cursor):
    context = build_sensor_context(instance=instance, cursor=cursor,
                                   resources={"warehouse": WarehouseResource(path=str(warehouse_path))})
    result = git_push_sensor(context)
    assert isinstance(result, SensorResult)
    return result


def test_sensor_requests_one_run_per_push_and_survives_rewrites(anfl_home, git_repo):
    warehouse_path = anfl_home / "warehouse.duckdb"
    git_repo.commit("initial layout", {"app/main.py": "print('hi')\n"})
    register_project(Warehouse(warehouse_path), "svc", git_repo.root)
    instance = DagsterInstance.ephemeral()

    baseline = _evaluate(instance, warehouse_path, None)
    assert not baseline.run_requests  # first sight records heads only

    sha = git_repo.commit("add config", {"config.yaml": "replicas: 2\n"}, author="Grace Hopper <grace@example.com>")
    pushed = _evaluate(instance, warehouse_path, baseline.cursor)
    (request,) = pushed.run_requests
    assert request.partition_key == "svc" and sha in request.run_key
    assert request.tags["anfl/branch"] == "main" and request.tags["anfl/sha"] == sha
    assert request.tags["anfl/forced"] == "false"

    # A restart re-reads the stored cursor: nothing new, nothing requested.
    assert not _evaluate(instance, warehouse_path, pushed.cursor).run_requests

    # A new branch with a commit, then a force-push (amend) on main.
    git_repo.git("checkout", "-q", "-b", "feature/x")
    feature_sha = git_repo.commit("feature work", {"feature.py": "x = 1\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.write("config.yaml", "replicas: 3\n")
    git_repo.git("commit", "-q", "-a", "--amend", "-m", "add config (fixed)")
    amended = git_repo.git("rev-parse", "HEAD")
    after = _evaluate(instance, warehouse_path, pushed.cursor)
    by_branch = {r.tags["anfl/branch"]: r for r in after.run_requests}
    assert by_branch["feature/x"].tags["anfl/sha"] == feature_sha
    assert by_branch["main"].tags["anfl/sha"] == amended and by_branch["main"].tags["anfl/forced"] == "true"

    # Deleting a branch is not a push to build; the cursor forgets it.
    git_repo.git("branch", "-q", "-D", "feature/x")
    deleted = _evaluate(instance, warehouse_path, after.cursor)
    assert not deleted.run_requests and "feature/x" not in deleted.cursor


def test_sensor_skips_an_unreadable_repository_without_losing_others(anfl_home, git_repo, tmp_path):
    warehouse_path = anfl_home / "warehouse.duckdb"
    git_repo.commit("one", {"a.txt": "a\n"})
    other = tmp_path / "other"
    other.mkdir()
    (other / ".git").mkdir()  # looks like a repo at registration time, is broken afterwards
    wh = Warehouse(warehouse_path)
    register_project(wh, "svc", git_repo.root)
    register_project(wh, "broken", other)
    with wh.write() as con:
        con.execute("UPDATE inventory.projects SET is_git = true WHERE name = 'broken'")
    instance = DagsterInstance.ephemeral()
    first = _evaluate(instance, warehouse_path, None)
    git_repo.commit("two", {"b.txt": "b\n"})
    second = _evaluate(instance, warehouse_path, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["svc"]
