"""`git_push_sensor`: a run for a project whenever one of its tracked branches gets new commits."""

import os

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from anfl_assets.domain import gitrepo
from anfl_assets.domain.projects import list_projects
from anfl_assets.domain.push_watch import dump_cursor, load_cursor, plan_push_runs
from anfl_assets.jobs import scan_project_job
from anfl_assets.resources import WarehouseResource


@sensor(job=scan_project_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Watches the branch heads of every registered git project; a moved head requests "
                    "a run of that project's partition (tags: branch, sha).")
def git_push_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
    branch_glob = os.environ.get("ANFL_SENSOR_BRANCHES", "*")
    projects = {p.name: p for p in list_projects(warehouse.get()) if p.is_git}
    heads: dict[str, dict[str, str]] = {}
    for name, project in projects.items():
        try:
            heads[name] = gitrepo.branch_heads(project.root)
        except Exception as exc:  # one unreadable repository must not stop the others
            context.log.warning(f"git_push_sensor: skipping {name}: {exc}")

    def is_ancestor(project: str, old: str, new: str) -> bool:
        return gitrepo.is_ancestor(projects[project].root, old, new)

    runs, cursor = plan_push_runs(load_cursor(context.cursor), heads, branch_glob, is_ancestor)
    if not runs:
        return SensorResult(skip_reason=SkipReason("no new commits on tracked branches"),
                            cursor=dump_cursor(cursor))
    return SensorResult(
        run_requests=[
            RunRequest(run_key=r.run_key, partition_key=r.project,
                       tags={"anfl/branch": r.branch, "anfl/sha": r.sha, "anfl/forced": str(r.forced).lower()})
            for r in runs
        ],
        cursor=dump_cursor(cursor),
    )
