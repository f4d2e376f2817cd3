"""Phase 1.2, enrichment: classification, code structure, dependency map, config patterns, per project.

Every asset reads only files whose content hash or extractor version changed
since its last materialization (`domain.enrich.incremental`); this module adds
what Dagster shows.
"""

import warnings

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from anfl_assets.assets.inventory import file_inventory
from anfl_assets.assets.metadata import table_metadata
from anfl_assets.domain.enrich import pipeline
from anfl_assets.domain.enrich.incremental import WorkStats
from anfl_assets.domain.projects import get_project
from anfl_assets.partitions import projects_partitions
from anfl_assets.resources import EnrichSettingsResource, ObjectStoreResource, WarehouseResource

GROUP = "enrichment"
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")


def _work_metadata(stats: WorkStats) -> dict:
    return {"files considered": stats.files, "files processed": stats.processed,
            "files reused (unchanged)": stats.reused, "parse errors (new)": stats.errors,
            "seconds": MetadataValue.float(round(stats.seconds, 3))}


@asset(partitions_def=projects_partitions, group_name=GROUP, deps=[file_inventory], kinds={"duckdb", "python"},
       description="Exactly one category per file (code, config, documentation, infrastructure, model, data, "
                   "media/binary, build-artifact/cache, other) with language, config format, infra kind and "
                   "the deciding rule, in `enrich.file_classes`.")
def file_classification(context: AssetExecutionContext, warehouse: WarehouseResource,
                        enrich: EnrichSettingsResource) -> MaterializeResult:
    wh = warehouse.get()
    stats = pipeline.refresh_file_classes(wh, get_project(wh, context.partition_key),
                                          enrich.classification_rules or None, enrich.workers())
    breakdown = wh.query(
        "SELECT c.category, count(*) AS files, sum(f.size) AS bytes FROM enrich.file_classes c "
        "JOIN inventory.files f USING (project, path) WHERE c.project = ? GROUP BY 1 ORDER BY 2 DESC",
        [context.partition_key]).to_pylist()
    languages = wh.query(
        "SELECT language, count(*) AS files FROM enrich.file_classes WHERE project = ? AND category = 'code' "
        "AND language IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 10", [context.partition_key]).to_pylist()
    return MaterializeResult(metadata={
        **_work_metadata(stats),
        "categories": table_metadata(breakdown, [("category", "string"), ("files", "int"), ("bytes", "int")]),
        "top languages": table_metadata(languages, [("language", "string"), ("files", "int")]),
    })


@asset(partitions_def=projects_partitions, group_name=GROUP, deps=[file_classification],
       kinds={"duckdb", "python"},
       description="Functions, classes, methods (line ranges, first doc line) and imports of code files, in "
                   "`enrich.code_symbols` and `enrich.code_imports` (Python via ast, others via tree-sitter).")
def code_structure(context: AssetExecutionContext, warehouse: WarehouseResource,
                   enrich: EnrichSettingsResource) -> MaterializeResult:
    wh = warehouse.get()
    stats = pipeline.refresh_code_structure(wh, get_project(wh, context.partition_key), enrich.workers())
    totals = wh.query(
        "SELECT (SELECT count(*) FROM enrich.code_symbols WHERE project = $1) AS symbols, "
        "(SELECT count(*) FROM enrich.code_imports WHERE project = $1) AS imports",
        [context.partition_key]).to_pylist()[0]
    return MaterializeResult(metadata={**_work_metadata(stats), "symbols": totals["symbols"],
                                       "imports": totals["imports"]})


@asset(partitions_def=projects_partitions, group_name=GROUP, deps=[file_classification, code_structure],
       kinds={"duckdb", "python"},
       description="External dependencies from manifests, lockfiles, images, Helm and Terraform, internal "
                   "import edges, unused/undeclared marks in `enrich.dependencies`; a CycloneDX 1.6 SBOM in "
                   "the object store.")
def dependency_map(context: AssetExecutionContext, warehouse: WarehouseResource, objects: ObjectStoreResource,
                   enrich: EnrichSettingsResource) -> MaterializeResult:
    wh = warehouse.get()
    project = get_project(wh, context.partition_key)
    stats = pipeline.refresh_dependencies(wh, project, objects.get(), enrich.workers())
    top = wh.query(
        "SELECT ecosystem, name, count(DISTINCT source_path) AS declared_in FROM enrich.dependencies "
        "WHERE project = ? AND scope = 'external' AND kind <> 'import' GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 10",
        [project.name]).to_pylist()
    return MaterializeResult(metadata={
        **_work_metadata(stats), **{k: v for k, v in stats.extra.items() if k != "sbom"},
        "top external dependencies": table_metadata(top, [("ecosystem", "string"), ("name", "string"),
                                                  ("declared_in", "int")]),
        "sbom": MetadataValue.url(stats.extra["sbom"]),
    })


@asset(partitions_def=projects_partitions, group_name=GROUP, deps=[file_classification],
       kinds={"duckdb", "python"},
       description="Every config key path with type and keyed value fingerprint (`enrich.config_keys`), "
                   "Kubernetes objects (`enrich.k8s_resources`) and drift between environment overlays "
                   "(`enrich.config_drift`).")
def config_patterns(context: AssetExecutionContext, warehouse: WarehouseResource,
                    enrich: EnrichSettingsResource) -> MaterializeResult:
    wh = warehouse.get()
    stats = pipeline.refresh_config_patterns(wh, get_project(wh, context.partition_key),
                                             enrich.fingerprint_key(), enrich.workers())
    errors = wh.query("SELECT path, error_line AS line, error FROM enrich.parse_errors "
                      "WHERE project = ? AND extractor = 'config_patterns' ORDER BY path LIMIT 20",
                      [context.partition_key]).to_pylist()
    return MaterializeResult(metadata={
        **_work_metadata(stats), **stats.extra,
        "parse errors": table_metadata(errors, [("path", "string"), ("line", "int"), ("error", "string")]),
    })


@asset_check(asset=file_classification, partitions_def=projects_partitions,
             description="Every inventoried regular file has exactly one class.")
def every_file_classified_once(context: AssetCheckExecutionContext,
                               warehouse: WarehouseResource) -> AssetCheckResult:
    row = warehouse.get().query(
        "SELECT (SELECT count(*) FROM inventory.files f WHERE f.project = $1 AND f.kind = 'file' "
        "        AND f.blake3 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM enrich.file_classes c "
        "        WHERE c.project = f.project AND c.path = f.path)) AS unclassified, "
        "(SELECT count(*) FROM (SELECT path FROM enrich.file_classes WHERE project = $1 "
        "        GROUP BY path HAVING count(*) > 1)) AS classified_twice",
        [context.partition_key]).to_pylist()[0]
    return AssetCheckResult(passed=row["unclassified"] == 0 and row["classified_twice"] == 0,
                            severity=AssetCheckSeverity.ERROR, metadata=row)


@asset_check(asset=config_patterns, partitions_def=projects_partitions,
             description="Parse errors stay below ANFL_MAX_PARSE_ERROR_RATE of the files parsed.")
def parse_error_rate_bounded(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                             enrich: EnrichSettingsResource) -> AssetCheckResult:
    row = warehouse.get().query(
        "SELECT count(*) FILTER (WHERE error IS NOT NULL) AS errors, count(*) FILTER (WHERE skipped IS NULL) "
        "AS parsed FROM enrich.processed WHERE project = ? AND extractor IN ('config_patterns', 'code_structure')",
        [context.partition_key]).to_pylist()[0]
    rate = row["errors"] / row["parsed"] if row["parsed"] else 0.0
    return AssetCheckResult(passed=rate <= enrich.max_parse_error_rate,
                            metadata={**row, "rate": MetadataValue.float(round(rate, 4)),
                                      "bound": MetadataValue.float(enrich.max_parse_error_rate)})


enrichment_assets = [file_classification, code_structure, dependency_map, config_patterns]
enrichment_checks = [every_file_classified_once, parse_error_rate_bounded]
