"""Jobs: one per-project job (partitioned by project, inferred from its assets) that materializes every asset; the UI, schedule, sensor and CLI all launch it."""

from dagster import AssetSelection, define_asset_job

scan_project_job = define_asset_job(
    name="scan_project",
    selection=AssetSelection.all(),
    description="Materialize every asset of one project (partition).",
)
