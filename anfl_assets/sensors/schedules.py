"""`nightly_scan`: every registered project once a night, for trees that change without git pushes."""

from dagster import RunRequest, ScheduleEvaluationContext, schedule

from anfl_assets.jobs import scan_project_job


@schedule(job=scan_project_job, cron_schedule="0 2 * * *", execution_timezone="UTC",
          description="Re-scan every project at 02:00 UTC (incremental: unchanged files are not read).")
def nightly_scan(context: ScheduleEvaluationContext):
    date = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for project in context.instance.get_dynamic_partitions("projects"):
        yield RunRequest(run_key=f"nightly-{date}-{project}", partition_key=project)
