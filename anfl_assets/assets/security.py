"""Security scanning, per project: findings (secrets, sensitive files, risky infrastructure) and
a sensitivity level for every file.

`security_findings` scans only files whose content or rule set changed, and only git commits
not seen before (`domain.security.pipeline`); raw secret values never reach the warehouse,
the logs or this metadata. `file_sensitivity` is derived from paths and findings alone.
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

from anfl_assets.assets.enrichment import file_classification
from anfl_assets.assets.inventory import file_inventory
from anfl_assets.assets.metadata import table_metadata
from anfl_assets.domain.projects import get_project
from anfl_assets.domain.security import SEVERITY_SQL_LIST, pipeline
from anfl_assets.partitions import projects_partitions
from anfl_assets.resources import SecuritySettingsResource, WarehouseResource

GROUP = "security"
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")

NEW_CRITICAL_SQL = (
    "SELECT source, rule, path, line, sha, redacted, fingerprint FROM security.findings "
    "WHERE project = ? AND severity = 'critical' AND is_new AND NOT suppressed ORDER BY path, line"
)


@asset(partitions_def=projects_partitions, group_name=GROUP, deps=[file_inventory, file_classification],
       kinds={"duckdb", "python"},
       description="Secrets (files, notebooks, archives, base64 blobs, git history), files that should not be "
                   "in a project, and infrastructure misconfigurations, in `security.findings`; secrets are "
                   "stored redacted with a keyed fingerprint, suppressions come from `.anfl-allow.yaml`.")
def security_findings(context: AssetExecutionContext, warehouse: WarehouseResource,
                      security: SecuritySettingsResource) -> MaterializeResult:
    wh = warehouse.get()
    project = get_project(wh, context.partition_key)
    stats = pipeline.refresh_security(wh, project, security.fingerprint_key(),
                                      extra_secret_rules=security.secret_rules or None,
                                      workers=security.workers())
    for error in stats.extra["suppression errors"]:
        context.log.warning(error)
    by_severity = wh.query(
        "SELECT severity, count(*) AS findings, count(*) FILTER (WHERE is_new) AS new, "
        "count(*) FILTER (WHERE suppressed) AS suppressed FROM security.findings WHERE project = ? "
        f"GROUP BY 1 ORDER BY list_position({SEVERITY_SQL_LIST}, severity)",
        [project.name]).to_pylist()
    by_kind = wh.query(
        "SELECT source, rule, count(*) AS findings, count(DISTINCT fingerprint) AS distinct_items "
        "FROM security.findings WHERE project = ? GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 25",
        [project.name]).to_pylist()
    return MaterializeResult(metadata={
        "files considered": stats.files, "files scanned": stats.processed,
        "files reused (unchanged)": stats.reused, "scan errors (new)": stats.errors,
        "commits walked": stats.extra["commits walked"], "findings": stats.extra["findings"],
        "new since previous": stats.extra["new"], "resolved since previous": stats.extra["resolved"],
        "by severity": table_metadata(by_severity, [("severity", "string"), ("findings", "int"), ("new", "int"),
                                            ("suppressed", "int")]),
        "by kind": table_metadata(by_kind, [("source", "string"), ("rule", "string"), ("findings", "int"),
                                    ("distinct_items", "int")]),
        "seconds": MetadataValue.float(round(stats.seconds, 3)),
    })


@asset(partitions_def=projects_partitions, group_name=GROUP, deps=[security_findings], kinds={"duckdb", "python"},
       description="public, internal, confidential or restricted for every file, with the evidence: path rules "
                   "(`data/sensitivity_rules.yaml`, extendable), raised by unsuppressed findings; in "
                   "`security.file_sensitivity` with the rule-set version.")
def file_sensitivity(context: AssetExecutionContext, warehouse: WarehouseResource,
                     security: SecuritySettingsResource) -> MaterializeResult:
    wh = warehouse.get()
    counts = pipeline.refresh_sensitivity(wh, get_project(wh, context.partition_key),
                                          security.sensitivity_rules or None)
    order = ("restricted", "confidential", "internal", "public")
    rows = [{"level": level, "files": counts.get(level, 0)} for level in order]
    return MaterializeResult(metadata={
        "files": sum(counts.values()), **{f"{level} files": counts.get(level, 0) for level in order},
        "levels": table_metadata(rows, [("level", "string"), ("files", "int")]),
    })


def security_checks(gate: str = "warn") -> list:
    """The gate is a setting: 'warn' reports new critical findings, 'error' also blocks downstream assets."""
    severity = AssetCheckSeverity.ERROR if gate == "error" else AssetCheckSeverity.WARN

    @asset_check(asset=security_findings, partitions_def=projects_partitions, blocking=True,
                 description="No unsuppressed critical finding is new since the previous materialization "
                             f"(ANFL_SECURITY_GATE={gate}: a failure is {'an error that blocks downstream assets' if gate == 'error' else 'a warning'}).")
    def no_new_critical_findings(context: AssetCheckExecutionContext,
                                 warehouse: WarehouseResource) -> AssetCheckResult:
        new = warehouse.get().query(NEW_CRITICAL_SQL, [context.partition_key]).to_pylist()
        return AssetCheckResult(
            passed=not new, severity=severity,
            metadata={"new critical findings": len(new),
                      "first ones": table_metadata(new[:20], [("source", "string"), ("rule", "string"), ("path", "string"),
                                                      ("line", "int"), ("sha", "string"), ("redacted", "string"),
                                                      ("fingerprint", "string")])})

    @asset_check(asset=file_sensitivity, partitions_def=projects_partitions,
                 description="Every inventoried file has exactly one sensitivity level.")
    def every_file_has_a_level(context: AssetCheckExecutionContext,
                               warehouse: WarehouseResource) -> AssetCheckResult:
        row = warehouse.get().query(
            "SELECT (SELECT count(*) FROM inventory.files f WHERE f.project = $1 AND f.kind = 'file' AND NOT EXISTS "
            "(SELECT 1 FROM security.file_sensitivity s WHERE s.project = f.project AND s.path = f.path)) AS missing, "
            "(SELECT count(*) FROM (SELECT path FROM security.file_sensitivity WHERE project = $1 GROUP BY path "
            "HAVING count(*) > 1)) AS duplicated", [context.partition_key]).to_pylist()[0]
        return AssetCheckResult(passed=row["missing"] == 0 and row["duplicated"] == 0, metadata=row)

    return [no_new_critical_findings, every_file_has_a_level]


security_assets = [security_findings, file_sensitivity]
