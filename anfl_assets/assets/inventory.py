"""Phase 1.1, initial scan and inventory: `file_inventory` and `git_history`, per project.

Each asset is a thin call into `anfl_assets.domain`; this module only adds what
Dagster shows: metadata, checks, and the progress log of a run from the UI.
"""

import time
import warnings

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    asset_check,
)

from anfl_assets.domain import progress
from anfl_assets.domain.history import refresh_git_history
from anfl_assets.domain.inventory import files_parquet, refresh_file_inventory
from anfl_assets.domain.inventory_checks import count_files_on_disk
from anfl_assets.domain.projects import get_project
from anfl_assets.partitions import projects_partitions
from anfl_assets.resources import ObjectStoreResource, ScanSettingsResource, WarehouseResource

GROUP = "inventory"

# Checks are partitioned by project like their asset; Dagster still labels that "preview".
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")


def _log_progress(context: AssetExecutionContext):
    """Progress sink for runs without a terminal: one log line every few seconds."""
    last = [0.0]

    def report(phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] >= 5:
            last[0] = now
            context.log.info(f"{phase}: {done:,}" + (f" / {total:,}" if total else ""))

    return report


@asset(
    partitions_def=projects_partitions,
    group_name=GROUP,
    kinds={"duckdb", "python"},
    description="One row per file of the project in `inventory.files`: stat, type, blake3, git status.",
)
def file_inventory(context: AssetExecutionContext, warehouse: WarehouseResource,
                   objects: ObjectStoreResource, scan: ScanSettingsResource) -> MaterializeResult:
    wh = warehouse.get()
    project = get_project(wh, context.partition_key)
    result = refresh_file_inventory(wh, project.name, project.root, tuple(scan.extra_ignores),
                                    scan.threads(), progress.get_sink() or _log_progress(context),
                                    processes=scan.hash_processes)
    snapshot = objects.get().put_bytes(f"inventory/{project.name}/files.parquet", files_parquet(result.table))
    s = result.stats
    return MaterializeResult(metadata={
        "files": s.files,
        "bytes": MetadataValue.int(s.bytes),
        "entries (all kinds)": s.entries,
        "new": s.new,
        "changed": s.changed,
        "deleted": s.deleted,
        "unchanged (not read)": s.unchanged,
        "bytes read": s.bytes_read,
        "scan errors": s.errors,
        "throughput (entries/s)": MetadataValue.float(round(s.files_per_s, 1)),
        "read throughput (MB/s)": MetadataValue.float(round(s.read_mb_per_s, 1)),
        "seconds": MetadataValue.float(round(s.total_s, 3)),
        "top types": MetadataValue.table(
            records=[TableRecord({"type": t, "files": c, "bytes": b}) for t, c, b in s.top_types],
            schema=TableSchema(columns=[TableColumn("type", "string"), TableColumn("files", "int"),
                                        TableColumn("bytes", "int")]),
        ),
        "git status": s.git_error or "ok",
        "snapshot": MetadataValue.url(snapshot),
        "root": MetadataValue.path(str(project.root)),
    })


@asset(
    partitions_def=projects_partitions,
    group_name=GROUP,
    kinds={"duckdb", "git"},
    description="Commits and per-file line changes from one streamed `git log` (empty for non-git roots).",
)
def git_history(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    wh = warehouse.get()
    project = get_project(wh, context.partition_key)
    stats = refresh_git_history(wh, project.name, project.root, project.is_git)
    return MaterializeResult(metadata={
        "commits": stats.commits,
        "file changes": stats.file_changes,
        "authors": stats.authors,
        "head": stats.head or "(not a git repository)",
        "seconds": MetadataValue.float(round(stats.seconds, 3)),
    })


@asset_check(asset=file_inventory, partitions_def=projects_partitions,
             description="Rows equal the files on disk (minus ignores), counted by an independent walk.")
def inventory_matches_disk(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                           scan: ScanSettingsResource) -> AssetCheckResult:
    wh = warehouse.get()
    project = get_project(wh, context.partition_key)
    on_disk = count_files_on_disk(project.root, tuple(scan.extra_ignores))
    rows = wh.query("SELECT count(*) AS n FROM inventory.files WHERE project = ? AND kind <> 'directory'",
                    [project.name])["n"][0].as_py()
    return AssetCheckResult(passed=rows == on_disk, metadata={"rows": rows, "on disk": on_disk})


@asset_check(asset=file_inventory, partitions_def=projects_partitions, description="No path appears twice.")
def inventory_paths_unique(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    dupes = warehouse.get().query(
        "SELECT count(*) AS n FROM (SELECT coalesce(path_raw, encode(path)) AS k FROM inventory.files "
        "WHERE project = ? GROUP BY k HAVING count(*) > 1)", [context.partition_key])["n"][0].as_py()
    return AssetCheckResult(passed=dupes == 0, metadata={"duplicated paths": dupes})


@asset_check(asset=file_inventory, partitions_def=projects_partitions,
             description="Every regular file that could be read has a blake3 checksum.")
def inventory_checksums_complete(context: AssetCheckExecutionContext,
                                 warehouse: WarehouseResource) -> AssetCheckResult:
    row = warehouse.get().query(
        "SELECT count(*) FILTER (WHERE blake3 IS NULL) AS missing, "
        "count(*) FILTER (WHERE scan_error IS NOT NULL) AS errored FROM inventory.files "
        "WHERE project = ? AND kind = 'file'", [context.partition_key]).to_pylist()[0]
    missing_unexplained = row["missing"] - row["errored"]
    return AssetCheckResult(
        passed=missing_unexplained <= 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={"files without checksum": row["missing"], "of which with a scan error": row["errored"]},
    )


inventory_assets = [file_inventory, git_history]
inventory_checks = [inventory_matches_disk, inventory_paths_unique, inventory_checksums_complete]
