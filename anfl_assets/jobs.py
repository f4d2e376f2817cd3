"""Jobs: one per-project job that materializes every asset; the UI, schedule, sensor and CLI all launch it."""

from dagster import AssetSelection, define_asset_job

from anfl_assets.partitions import projects_partitions

scan_project_job = define_asset_job(
    name="scan_project",
    selection=AssetSelection.all(),
    partitions_def=projects_partitions,
    description="Materialize every asset of one project (partition).",
)
